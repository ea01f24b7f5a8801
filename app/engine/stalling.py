"""When a running consignment counts as stalled.

Stalled means nobody has acted on it for the configured working hours while nothing else would. The
idle time is counted from the latest of three moments:

- its last activity (a registration, a task completed, a service call answered, a callback);
- the last SLA deadline that escalated it (the managers were told then; if nothing happens after that
  either, it is stalled on top);
- its workflow's next timer, past or ahead (an SLA deadline or a wait): until that timer fires the
  workflow itself will act, so an agency taking its legal days over a result is not stalled, it is
  within its deadline, and the deadline's own escalation comes first if it runs late.

One rule for the worker's scan (``DetectStalledConsignments``) and for the ``stalled_at`` every
consignment shows (``app.queries.consignment_clock``), so the moment shown is the moment it is raised.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select

from app.models import Escalation

STALLED = "stalled"


def idle_since(
    last_activity_at: datetime | None,
    last_deadline_escalated_at: datetime | None,
    next_timer_at: datetime | None,
) -> datetime | None:
    """The moment from which a consignment's idle working hours count (``None``: nothing to count from)."""
    moments = [m for m in (last_activity_at, last_deadline_escalated_at, next_timer_at) if m is not None]
    return max(moments) if moments else None


def last_deadline_escalation(consignment_id: ColumnElement[int] | int) -> ColumnElement[datetime | None]:
    """The latest SLA escalation raised for the consignment, as a scalar subquery (stalled ones aside)."""
    return (
        select(func.max(Escalation.raised_at))
        .where(Escalation.consignment_id == consignment_id, Escalation.kind != STALLED)
        .scalar_subquery()
    )


def idle_since_in_sql(
    last_activity_at: ColumnElement[datetime],
    last_deadline_escalated_at: ColumnElement[datetime | None],
    next_timer_at: ColumnElement[datetime | None],
) -> ColumnElement[datetime]:
    """``idle_since`` as a SQL expression, the same on SQLite and PostgreSQL (``GREATEST`` is not)."""
    escalated = func.coalesce(last_deadline_escalated_at, last_activity_at)
    timer = func.coalesce(next_timer_at, last_activity_at)
    later = case((escalated > last_activity_at, escalated), else_=last_activity_at)
    return case((timer > later, timer), else_=later)
