"""Keep the dashboard's running totals (``app.models.statistics``) as commands change things: a measured
step duration, a completed task with a deadline, a cleared consignment. ``rebuild`` recomputes them all
from the projections (after a migration, a bulk import, or to check them)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func, insert, literal, select
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
    """Tenths of a working hour, halves rounded up (the same as ``rebuild``'s SQL)."""
    return max(math.floor(hours * BUCKETS_PER_HOUR + 0.5), 0)


def iso_week(moment: datetime, tz) -> str:
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


_UPSERTS: dict[tuple, Any] = {}


def _upsert(dialect: str, model, keys: tuple[str, ...], adds: tuple[str, ...], sets: tuple[str, ...]):
    """The UPSERT adding to one counter row, built once per shape (its values are bound per call)."""
    shape = (dialect, model, keys, adds, sets)
    stmt = _UPSERTS.get(shape)
    if stmt is None:
        table = model.__table__
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: table.c[name] + stmt.excluded[name] for name in adds}
            | {name: stmt.excluded[name] for name in sets},
        )
        _UPSERTS[shape] = stmt
    return stmt


def _add(
    session: Session, model, rows: list[dict[str, Any]], adds: tuple[str, ...], sets: tuple[str, ...] = ()
):
    """INSERT each row or add its ``adds`` to the counters already there (one prebuilt statement,
    executed once for all rows, on SQLite and PostgreSQL)."""
    keys = tuple(name for name in rows[0] if name not in adds and name not in sets)
    stmt = _upsert(session.get_bind().dialect.name, model, keys, adds, sets)
    session.execute(stmt, rows)


def step_measured(
    session: Session, consignment: Consignment, step_id: str, step_name: str, hours: float
) -> None:
    bucket = bucket_of(hours)
    rows = [
        {"step_id": step_id, "scope": scope, "bucket": bucket, "count": 1, "step_name": step_name}
        for scope in scopes(consignment)
    ]
    _add(session, StepDurationBucket, rows, ("count",), ("step_name",))


def deadline_task_completed(
    session: Session, consignment: Consignment, organization: str, late: bool
) -> None:
    rows = [
        {"organization": organization, "scope": scope, "items": 1, "breached": int(late)}
        for scope in scopes(consignment)
    ]
    _add(session, SlaCounter, rows, ("items", "breached"))


def consignment_cleared(session: Session, consignment: Consignment, tz) -> None:
    week = iso_week(consignment.finished_at, tz)
    hours = float(consignment.clearance_hours or 0.0)
    rows = [{"week": week, "scope": scope, "cleared": 1, "hours": hours} for scope in scopes(consignment)]
    _add(session, ClearanceWeek, rows, ("cleared", "hours"))


def rebuild(session: Session, tz) -> dict[str, int]:
    """Recompute every running total from the projections with aggregate SQL; return what was counted."""
    for model in (StepDurationBucket, SlaCounter, ClearanceWeek):
        session.execute(delete(model))
    dialect = session.get_bind().dialect.name
    scaled = TimelineEvent.working_hours * BUCKETS_PER_HOUR + 0.5
    bucket = func.floor(scaled) if dialect == "postgresql" else scaled  # SQLite: CAST truncates
    bucket = cast(bucket, Integer)
    counted = {"timeline": 0, "work_items": 0, "cleared": 0}
    for scope in _scope_columns():
        durations = (
            select(
                TimelineEvent.step_id,
                scope.label("scope"),
                bucket.label("bucket"),
                func.max(TimelineEvent.step_name),
                func.count(),
            )
            .join(Consignment, Consignment.id == TimelineEvent.consignment_id)
            .where(TimelineEvent.working_hours.is_not(None), TimelineEvent.kind.in_(MEASURED_KINDS))
            .where(scope.is_not(None))
            .group_by(TimelineEvent.step_id, scope, bucket)
        )
        session.execute(
            insert(StepDurationBucket).from_select(
                ["step_id", "scope", "bucket", "step_name", "count"], durations
            )
        )
        late = case((WorkItem.completed_at > WorkItem.due_at, 1), else_=0)
        sla = (
            select(WorkItem.organization, scope.label("scope"), func.count(), func.sum(late))
            .join(Consignment, Consignment.id == WorkItem.consignment_id)
            .where(WorkItem.state == "completed", WorkItem.due_at.is_not(None), scope.is_not(None))
            .group_by(WorkItem.organization, scope)
        )
        session.execute(insert(SlaCounter).from_select(["organization", "scope", "items", "breached"], sla))
    counted["timeline"] = session.scalar(
        select(func.count()).where(
            TimelineEvent.working_hours.is_not(None), TimelineEvent.kind.in_(MEASURED_KINDS)
        )
    )
    counted["work_items"] = session.scalar(
        select(func.count()).where(WorkItem.state == "completed", WorkItem.due_at.is_not(None))
    )
    # Weeks depend on the local calendar: group in Python over the (few) cleared rows' dates.
    for consignment in session.scalars(
        select(Consignment).where(
            Consignment.status == "cleared",
            Consignment.finished_at.is_not(None),
            Consignment.clearance_hours.is_not(None),
        )
    ).yield_per(5000):
        consignment_cleared(session, consignment, tz)
        counted["cleared"] += 1
    return counted


def _scope_columns():
    return (
        literal("all"),
        literal("branch:") + Consignment.customs_branch,
        case((Consignment.lead_agency.is_not(None), literal("agency:") + Consignment.lead_agency)),
    )
