"""When a running consignment counts as stalled.

Stalled means nobody has acted on it for the configured working hours while nothing else would. The
idle time is counted from the latest of three moments:

- its last activity (a registration, a task completed, a service call answered, a callback);
- the last SLA deadline that escalated it (the managers were told then; if nothing happens after that
  either, it is stalled on top);
- its workflow's next timer, past or ahead (an SLA deadline or a wait): until that timer fires the
  workflow itself will act, so an agency taking its legal days over a result is not stalled, it is
  within its deadline, and the deadline's own escalation comes first if it runs late.

One rule, written once as a SQL expression, for the worker's scan (``DetectStalledConsignments``) and
for the ``stalled_at`` every consignment shows (``app.queries.consignment_clock``), so the moment shown
is the moment it is raised.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select

from app.models import Consignment, Escalation, ProcessInstance

STALLED = "stalled"


def idle_since() -> ColumnElement[datetime]:
    """The moment from which a consignment's idle working hours count, as a SQL expression for a query
    that joins consignments to their process instances (the same on SQLite and PostgreSQL, which
    ``GREATEST`` is not)."""
    activity = Consignment.last_activity_at
    escalated = func.coalesce(last_deadline_escalation(Consignment.id), activity)
    timer = func.coalesce(ProcessInstance.next_timer_at, activity)
    later = case((escalated > activity, escalated), else_=activity)
    return case((timer > later, timer), else_=later)


def last_deadline_escalation(consignment_id: ColumnElement[int]) -> ColumnElement[datetime | None]:
    """The latest SLA escalation raised for the consignment, as a scalar subquery (stalled ones aside)."""
    return (
        select(func.max(Escalation.raised_at))
        .where(Escalation.consignment_id == consignment_id, Escalation.kind != STALLED)
        .scalar_subquery()
    )
