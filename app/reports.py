"""The manager dashboard's figures, each one SQL query over the projections (work items, timeline,
escalations, jobs, consignments) scoped to what the manager may see; no workflow is ever loaded.

Percentiles are nearest-rank percentiles computed with window functions, so the same SQL runs on SQLite
and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from app.engine.executor import Actor
from app.models import Consignment, Escalation, Job, Organization, TimelineEvent, WorkItem
from app.queries import SEE_ALL_ROLES, consignment_scope

# The 2016 baseline of PROCEDURE.md: inspected goods took 5 days; the target is 4.2 days.
BASELINE_DAYS = 5.0
TARGET_DAYS = 4.2


@dataclass
class Headline:
    stalled: int
    open_escalations: int
    incidents: int
    overdue_items: int


@dataclass
class BreachRow:
    organization: str
    name: str
    items: int
    breached: int

    @property
    def share(self) -> float:
        return self.breached / self.items if self.items else 0.0


@dataclass
class StepTime:
    step_id: str
    step_name: str
    count: int
    median: float
    p90: float


@dataclass
class TrendPoint:
    period: str
    cleared: int
    mean_days: float


def _scoped(session: Session, actor: Actor):
    """Consignment ids the manager may see, as a subquery (none needed for see-all roles)."""
    if actor.role in SEE_ALL_ROLES:
        return None
    return select(Consignment.id).where(consignment_scope(session, actor))


def headline(session: Session, actor: Actor, now: datetime) -> Headline:
    scope = _scoped(session, actor)

    def count(stmt, column):
        return session.scalar(stmt.where(column.in_(scope)) if scope is not None else stmt) or 0

    open_escalations = select(func.count()).select_from(Escalation).where(Escalation.resolved_at.is_(None))
    return Headline(
        stalled=count(open_escalations.where(Escalation.kind == "stalled"), Escalation.consignment_id),
        open_escalations=count(open_escalations, Escalation.consignment_id),
        incidents=count(
            select(func.count()).select_from(Job).where(Job.state == "incident"), Job.consignment_id
        ),
        overdue_items=count(
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.state.in_(("open", "claimed")), WorkItem.due_at < now),
            WorkItem.consignment_id,
        ),
    )


def sla_breaches(session: Session, actor: Actor, now: datetime, kind: str) -> list[BreachRow]:
    """Work items with a deadline per organization of ``kind`` (agency / customs): how many were late."""
    late = or_(
        and_(WorkItem.completed_at.is_not(None), WorkItem.completed_at > WorkItem.due_at),
        and_(WorkItem.state.in_(("open", "claimed")), WorkItem.due_at < now),
    )
    stmt = (
        select(
            WorkItem.organization,
            func.min(Organization.name),
            func.count(),
            func.sum(case((late, 1), else_=0)),
        )
        .join(Organization, Organization.code == WorkItem.organization)
        .where(WorkItem.due_at.is_not(None), WorkItem.state != "cancelled", Organization.kind == kind)
        .group_by(WorkItem.organization)
        .order_by(WorkItem.organization)
    )
    scope = _scoped(session, actor)
    if scope is not None:
        stmt = stmt.where(WorkItem.consignment_id.in_(scope))
    return [
        BreachRow(org, name, total, int(breached or 0))
        for org, name, total, breached in session.execute(stmt)
    ]


def step_times(session: Session, actor: Actor) -> list[StepTime]:
    """Median and p90 working hours per step, from the timeline's measured durations."""
    base = select(
        TimelineEvent.step_id,
        TimelineEvent.step_name,
        TimelineEvent.working_hours,
        func.row_number()
        .over(partition_by=TimelineEvent.step_id, order_by=TimelineEvent.working_hours)
        .label("rn"),
        func.count().over(partition_by=TimelineEvent.step_id).label("n"),
    ).where(TimelineEvent.working_hours.is_not(None), TimelineEvent.kind.in_(("task", "service", "message")))
    scope = _scoped(session, actor)
    if scope is not None:
        base = base.where(TimelineEvent.consignment_id.in_(scope))
    ranked = base.subquery()
    stmt = (
        select(
            ranked.c.step_id,
            func.min(ranked.c.step_name),
            func.max(ranked.c.n),
            func.min(case((ranked.c.rn * 100 >= ranked.c.n * 50, ranked.c.working_hours))),
            func.min(case((ranked.c.rn * 100 >= ranked.c.n * 90, ranked.c.working_hours))),
        )
        .group_by(ranked.c.step_id)
        .order_by(func.min(ranked.c.step_name))
    )
    return [
        StepTime(step, name, int(n), float(median or 0), float(p90 or 0))
        for step, name, n, median, p90 in session.execute(stmt)
    ]


def clearance_trend(
    session: Session, actor: Actor, hours_per_day: float, limit: int = 26
) -> list[TrendPoint]:
    """Mean clearance time (working days) of cleared consignments per ISO week, oldest first."""
    if session.get_bind().dialect.name == "postgresql":
        period = func.to_char(
            func.date_trunc("week", Consignment.finished_at), literal_column("'IYYY-\"W\"IW'")
        )
    else:
        period = func.strftime("%Y-W%W", Consignment.finished_at)
    stmt = (
        select(period.label("period"), func.count(), func.avg(Consignment.clearance_hours))
        .where(Consignment.status == "cleared", Consignment.clearance_hours.is_not(None))
        .group_by(period)
        .order_by(period.desc())
        .limit(limit)
    )
    scope = _scoped(session, actor)
    if scope is not None:
        stmt = stmt.where(Consignment.id.in_(scope))
    rows = list(session.execute(stmt))
    rows.reverse()
    return [TrendPoint(p, int(n), round(float(avg) / hours_per_day, 2)) for p, n, avg in rows]


def stalled_consignments(
    session: Session, actor: Actor, limit: int = 50
) -> list[tuple[Escalation, Consignment]]:
    stmt = (
        select(Escalation, Consignment)
        .join(Consignment, Consignment.id == Escalation.consignment_id)
        .where(
            Escalation.kind == "stalled", Escalation.resolved_at.is_(None), consignment_scope(session, actor)
        )
        .order_by(Escalation.raised_at)
        .limit(limit)
    )
    return [(e, c) for e, c in session.execute(stmt)]
