"""Read-side queries over the projections, always scoped to what the caller's organization may see.

Nothing here deserializes a workflow or changes state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, exists, func, or_, select, true
from sqlalchemy.orm import Session

from app.engine.executor import Actor
from app.models import Consignment, Escalation, Job, Organization, TimelineEvent, WorkItem

SEE_ALL_ROLES = {"admin", "analyst", "system"}


def consignment_scope(session: Session, actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause limiting consignments to those the actor's organization takes part in."""
    if actor.role in SEE_ALL_ROLES:
        return true()
    if actor.role == "port_operator":
        return Consignment.containers != []  # noqa: PLC1901 - the port sees consignments it moves
    if actor.role == "trader":
        org_id = select(Organization.id).where(Organization.code == actor.organization).scalar_subquery()
        return Consignment.trader_org_id == org_id
    takes_part = exists().where(
        WorkItem.consignment_id == Consignment.id, WorkItem.organization == actor.organization
    )
    return or_(
        Consignment.customs_branch == actor.organization,
        Consignment.lead_agency == actor.organization,
        takes_part,
    )


def find_consignment(session: Session, actor: Actor, declaration_no: str) -> Consignment | None:
    return session.scalar(
        select(Consignment).where(
            Consignment.declaration_no == declaration_no, consignment_scope(session, actor)
        )
    )


def list_consignments(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    query: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Consignment]:
    stmt = select(Consignment).where(consignment_scope(session, actor))
    if status:
        stmt = stmt.where(Consignment.status == status)
    if query:
        q = query.strip().upper()
        stmt = stmt.where(
            or_(
                Consignment.declaration_no == q,
                Consignment.bill_of_lading == query.strip(),
                Consignment.containers.contains([q])
                if session.bind.dialect.name == "postgresql"
                else func.instr(func.cast(Consignment.containers, Text()), f'"{q}"') > 0,
            )
        )
    return list(session.scalars(stmt.order_by(Consignment.registered_at.desc()).limit(limit).offset(offset)))


def inbox(
    session: Session, actor: Actor, *, state: str = "open", limit: int = 50, offset: int = 0
) -> list[tuple[WorkItem, str]]:
    """The caller's work items (its organization and role only), each with its declaration number."""
    states = ("open", "claimed") if state == "open" else (state,)
    stmt = (
        select(WorkItem, Consignment.declaration_no)
        .join(Consignment, Consignment.id == WorkItem.consignment_id)
        .where(
            WorkItem.organization == actor.organization,
            WorkItem.role == actor.role,
            WorkItem.state.in_(states),
        )
        .order_by(WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.id)
        .limit(limit)
        .offset(offset)
    )
    return [(item, number) for item, number in session.execute(stmt)]


def work_item_for(session: Session, actor: Actor, work_item_id: int) -> WorkItem | None:
    item = session.get(WorkItem, work_item_id)
    if item is None or (item.organization, item.role) != (actor.organization, actor.role):
        return None
    return item


def timeline(session: Session, consignment_id: int) -> list[TimelineEvent]:
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.consignment_id == consignment_id)
            .order_by(TimelineEvent.id)
        )
    )


def open_work(session: Session, consignment_id: int) -> list[WorkItem]:
    return list(
        session.scalars(
            select(WorkItem)
            .where(WorkItem.consignment_id == consignment_id, WorkItem.state.in_(("open", "claimed")))
            .order_by(WorkItem.id)
        )
    )


def incidents(session: Session, actor: Actor, limit: int = 100) -> list[tuple[Job, Consignment]]:
    stmt = (
        select(Job, Consignment)
        .join(Consignment, Consignment.id == Job.consignment_id)
        .where(Job.state == "incident", consignment_scope(session, actor))
        .order_by(Job.id)
        .limit(limit)
    )
    return [(job, consignment) for job, consignment in session.execute(stmt)]


def escalations(
    session: Session, actor: Actor, open_only: bool = True
) -> list[tuple[Escalation, Consignment]]:
    stmt = select(Escalation, Consignment).join(Consignment, Consignment.id == Escalation.consignment_id)
    if actor.role not in SEE_ALL_ROLES:
        stmt = stmt.where(Escalation.organization == actor.organization)
    if open_only:
        stmt = stmt.where(Escalation.resolved_at.is_(None))
    return [(e, c) for e, c in session.execute(stmt.order_by(Escalation.raised_at.desc()).limit(500))]


def consignment_json(c: Consignment, trader_code: str | None = None) -> dict[str, Any]:
    return {
        "declaration_no": c.declaration_no,
        "declaration_type": c.declaration_type,
        "customs_branch": c.customs_branch,
        "trader": trader_code,
        "goods": c.goods,
        "hs_codes": c.hs_codes,
        "containers": c.containers,
        "awb": c.awb,
        "bill_of_lading": c.bill_of_lading,
        "lead_agency": c.lead_agency,
        "status": c.status,
        "current_step": c.current_step,
        "escalated": c.escalated,
        "registered_at": c.registered_at.isoformat(),
        "finished_at": c.finished_at.isoformat() if c.finished_at else None,
    }


def work_item_json(w: WorkItem, declaration_no: str | None = None) -> dict[str, Any]:
    return {
        "id": w.id,
        "declaration_no": declaration_no,
        "step_id": w.step_id,
        "step_name": w.step_name,
        "form_key": w.form_key,
        "organization": w.organization,
        "role": w.role,
        "state": w.state,
        "assignee_id": w.assignee_id,
        "escalation": w.escalation,
        "signature_required": w.signature_required,
        "created_at": w.created_at.isoformat(),
        "due_at": w.due_at.isoformat() if w.due_at else None,
    }


def timeline_json(t: TimelineEvent) -> dict[str, Any]:
    return {
        "at": t.at.isoformat(),
        "kind": t.kind,
        "step_id": t.step_id,
        "step_name": t.step_name,
        "actor": t.actor,
        "organization": t.organization,
        "working_hours": t.working_hours,
        "detail": t.detail,
    }


def job_json(j: Job, declaration_no: str | None = None) -> dict[str, Any]:
    return {
        "id": j.id,
        "declaration_no": declaration_no,
        "topic": j.topic,
        "step_id": j.step_id,
        "state": j.state,
        "attempts": j.attempts,
        "last_error": j.last_error,
        "idempotency_key": j.idempotency_key,
        "next_run_at": j.next_run_at.isoformat(),
    }
