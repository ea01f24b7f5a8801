"""Keep the dashboard's running totals (``app.models.statistics``) as commands change things: a measured
step duration, a completed task with a deadline, a cleared consignment. ``rebuild`` recomputes them all
from the projections (after a migration, a bulk import, or to check them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import Consignment, TimelineEvent, WorkItem
from app.models.statistics import ClearanceWeek, SlaCounter, StepDurationBucket

MEASURED_KINDS = ("task", "service", "message")
BUCKETS_PER_HOUR = 10  # durations are kept to a tenth of a working hour (6 minutes)
TZ_NAME = "Asia/Ho_Chi_Minh"


def scopes(consignment: Consignment) -> list[str]:
    found = ["all", f"branch:{consignment.customs_branch}"]
    if consignment.lead_agency:
        found.append(f"agency:{consignment.lead_agency}")
    return found


def bucket_of(hours: float) -> int:
    return max(int(round(hours * BUCKETS_PER_HOUR)), 0)


def iso_week(moment: datetime, tz) -> str:
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def _add(
    session: Session, model, keys: dict[str, Any], adds: dict[str, Any], sets: dict[str, Any] | None = None
):
    """INSERT the row or add ``adds`` to its counters (one statement on SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    stmt = insert(table).values(**keys, **adds, **(sets or {}))
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + stmt.excluded[name] for name in adds} | dict(sets or {}),
    )
    session.execute(stmt)


def step_measured(
    session: Session, consignment: Consignment, step_id: str, step_name: str, hours: float
) -> None:
    for scope in scopes(consignment):
        _add(
            session,
            StepDurationBucket,
            {"step_id": step_id, "scope": scope, "bucket": bucket_of(hours)},
            {"count": 1},
            {"step_name": step_name},
        )


def deadline_task_completed(
    session: Session, consignment: Consignment, organization: str, late: bool
) -> None:
    for scope in scopes(consignment):
        _add(
            session,
            SlaCounter,
            {"organization": organization, "scope": scope},
            {"items": 1, "breached": int(late)},
        )


def consignment_cleared(session: Session, consignment: Consignment, tz) -> None:
    week = iso_week(consignment.finished_at, tz)
    for scope in scopes(consignment):
        _add(
            session,
            ClearanceWeek,
            {"week": week, "scope": scope},
            {"cleared": 1, "hours": float(consignment.clearance_hours or 0.0)},
        )


def rebuild(session: Session, tz) -> dict[str, int]:
    """Recompute every running total from the projections; return how many source rows were counted."""
    for model in (StepDurationBucket, SlaCounter, ClearanceWeek):
        session.execute(delete(model))
    consignments = {c.id: c for c in session.scalars(select(Consignment))}
    counted = {"timeline": 0, "work_items": 0, "cleared": 0}
    for event in session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.working_hours.is_not(None), TimelineEvent.kind.in_(MEASURED_KINDS)
        )
    ).yield_per(5000):
        step_measured(
            session, consignments[event.consignment_id], event.step_id, event.step_name, event.working_hours
        )
        counted["timeline"] += 1
    for item in session.scalars(
        select(WorkItem).where(WorkItem.state == "completed", WorkItem.due_at.is_not(None))
    ).yield_per(5000):
        deadline_task_completed(
            session, consignments[item.consignment_id], item.organization, item.completed_at > item.due_at
        )
        counted["work_items"] += 1
    for consignment in consignments.values():
        if (
            consignment.status == "cleared"
            and consignment.finished_at
            and consignment.clearance_hours is not None
        ):
            consignment_cleared(session, consignment, tz)
            counted["cleared"] += 1
    return counted
