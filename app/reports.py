"""The manager dashboard's figures: small SQL queries over the running totals the commands keep
(``app.models.statistics``) plus live counts of what is open now; no workflow is ever loaded.

A manager reads the scope of their organization: a customs branch's managers see the consignments of the
branch, an agency's managers those it leads, administrators everything. Percentiles are nearest-rank
percentiles over durations kept to a tenth of a working hour, computed with window functions so the same
SQL runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import Session

from app.access import SEE_ALL_ROLES
from app.engine.executor import Actor
from app.engine.statistics import BUCKETS_PER_HOUR
from app.models import (
    ClearanceWeek,
    Consignment,
    Escalation,
    Job,
    Organization,
    SlaCounter,
    StepDurationBucket,
    WorkItem,
)

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
    name_vi: str | None = None

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


@dataclass(frozen=True)
class Scope:
    """The consignments a dashboard reader sees: its running-total key, the matching condition on
    consignments, and the same condition on work items (which carry their consignment's scope)."""

    key: str
    condition: ColumnElement[bool]
    work: ColumnElement[bool]


EVERYTHING = Scope("all", true(), true())


def scope_of(session: Session, actor: Actor) -> Scope:
    if actor.role in SEE_ALL_ROLES:
        return EVERYTHING
    org = actor.organization
    kind = session.scalar(select(Organization.kind).where(Organization.code == org))
    if kind == "customs":
        return Scope(f"branch:{org}", Consignment.customs_branch == org, WorkItem.customs_branch == org)
    if kind == "agency":
        return Scope(f"agency:{org}", Consignment.lead_agency == org, WorkItem.lead_agency == org)
    return Scope(f"none:{org}", Consignment.id.is_(None), WorkItem.id.is_(None))


def headline(session: Session, scope: Scope, now: datetime) -> Headline:
    def count(stmt) -> int:
        return session.scalar(stmt) or 0

    open_escalations = (
        select(func.count())
        .select_from(Escalation)
        .join(Consignment, Consignment.id == Escalation.consignment_id)
        .where(Escalation.resolved_at.is_(None), scope.condition)
    )
    return Headline(
        stalled=count(open_escalations.where(Escalation.kind == "stalled")),
        open_escalations=count(open_escalations),
        incidents=count(
            select(func.count())
            .select_from(Job)
            .join(Consignment, Consignment.id == Job.consignment_id)
            .where(Job.state == "incident", scope.condition)
        ),
        overdue_items=count(
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.state.in_(("open", "claimed")), WorkItem.due_at < now, scope.work)
        ),
    )


def sla_breaches(session: Session, scope: Scope, now: datetime, kind: str) -> list[BreachRow]:
    """Tasks with a deadline per organization of ``kind`` (see ``sla_breaches_by_kind``)."""
    return sla_breaches_by_kind(session, scope, now, (kind,))[kind]


def sla_breaches_by_kind(
    session: Session, scope: Scope, now: datetime, kinds: tuple[str, ...]
) -> dict[str, list[BreachRow]]:
    """Tasks with a deadline per organization, for each organization kind of ``kinds``: finished ones
    from the running totals, open ones counted live (late when their deadline has passed). One pass over
    the open work serves every kind."""
    done = dict(
        (org, (items, breached))
        for org, items, breached in session.execute(
            select(SlaCounter.organization, SlaCounter.items, SlaCounter.breached).where(
                SlaCounter.scope == scope.key
            )
        )
    )
    organization = WorkItem.organization.concat("")
    live = {
        org: (items, int(late or 0))
        for org, items, late in session.execute(
            # grouped by an expression: SQLite would otherwise walk the whole inbox index for its order
            select(organization, func.count(), func.sum(case((WorkItem.due_at < now, 1), else_=0)))
            .where(WorkItem.state.in_(("open", "claimed")), WorkItem.due_at.is_not(None), scope.work)
            .group_by(organization)
        )
    }
    by_kind: dict[str, list[BreachRow]] = {kind: [] for kind in kinds}
    named = session.execute(
        select(Organization.kind, Organization.code, Organization.name, Organization.name_vi)
        .where(Organization.kind.in_(kinds), Organization.code.in_(set(done) | set(live)))
        .order_by(Organization.code)
    )
    for kind, org, name, name_vi in named:
        items = done.get(org, (0, 0))[0] + live.get(org, (0, 0))[0]
        breached = done.get(org, (0, 0))[1] + live.get(org, (0, 0))[1]
        by_kind[kind].append(BreachRow(org, name, items, breached, name_vi))
    return by_kind


def step_times(session: Session, scope: Scope) -> list[StepTime]:
    """Median and p90 working hours per step, from the duration histogram."""
    b = StepDurationBucket
    cumulative = (
        select(
            b.step_id,
            b.step_name,
            b.bucket,
            func.sum(b.count).over(partition_by=b.step_id, order_by=b.bucket).label("cum"),
            func.sum(b.count).over(partition_by=b.step_id).label("n"),
        )
        .where(b.scope == scope.key)
        .subquery()
    )
    stmt = (
        select(
            cumulative.c.step_id,
            func.max(cumulative.c.step_name),
            func.max(cumulative.c.n),
            func.min(case((cumulative.c.cum * 100 >= cumulative.c.n * 50, cumulative.c.bucket))),
            func.min(case((cumulative.c.cum * 100 >= cumulative.c.n * 90, cumulative.c.bucket))),
        )
        .group_by(cumulative.c.step_id)
        .order_by(func.max(cumulative.c.step_name))
    )
    return [
        StepTime(step, name, int(n), (median or 0) / BUCKETS_PER_HOUR, (p90 or 0) / BUCKETS_PER_HOUR)
        for step, name, n, median, p90 in session.execute(stmt)
    ]


def clearance_trend(
    session: Session, scope: Scope, hours_per_day: float, limit: int = 26
) -> list[TrendPoint]:
    """Mean clearance time (working days) of cleared consignments per ISO week, oldest first."""
    rows = session.execute(
        select(ClearanceWeek.week, ClearanceWeek.cleared, ClearanceWeek.hours)
        .where(ClearanceWeek.scope == scope.key, ClearanceWeek.cleared > 0)
        .order_by(ClearanceWeek.week.desc())
        .limit(limit)
    ).all()
    return [TrendPoint(week, n, round(hours / n / hours_per_day, 2)) for week, n, hours in reversed(rows)]


def stalled_consignments(
    session: Session, scope: Scope, limit: int = 50
) -> list[tuple[Escalation, Consignment]]:
    return list(_escalations(session, scope, limit, Escalation.kind == "stalled"))


def open_escalations(session: Session, scope: Scope, limit: int = 50) -> list[tuple[Escalation, Consignment]]:
    return list(_escalations(session, scope, limit))


def incidents(session: Session, scope: Scope, limit: int = 50) -> list[tuple[Job, Consignment]]:
    """Service calls that failed their last retry, newest first, for the consignments in scope."""
    stmt = (
        select(Job, Consignment)
        .join(Consignment, Consignment.id == Job.consignment_id)
        .where(Job.state == "incident", scope.condition)
        .order_by(Job.id.desc())
        .limit(limit)
    )
    return [(job, consignment) for job, consignment in session.execute(stmt)]


def _escalations(session: Session, scope: Scope, limit: int, *conditions):
    stmt = (
        select(Escalation, Consignment)
        .join(Consignment, Consignment.id == Escalation.consignment_id)
        .where(Escalation.resolved_at.is_(None), scope.condition, and_(true(), *conditions))
        .order_by(Escalation.raised_at.desc())
        .limit(limit)
    )
    return ((e, c) for e, c in session.execute(stmt))
