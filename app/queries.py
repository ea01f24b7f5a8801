"""Read-side queries over the projections, always scoped to what the caller's organization may see.

Nothing here deserializes a workflow or changes state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, undefer

from app.access import PORT_TOPIC_PREFIX, SEE_ALL_ROLES, SUPERVISOR_ROLES, terminal_branches
from app.engine import stalling
from app.engine.executor import Actor
from app.engine.working_time import WorkingCalendar
from app.models import (
    Attachment,
    AuditEvent,
    Consignment,
    Escalation,
    Job,
    MessageInbox,
    ModelVersion,
    Notification,
    Organization,
    ProcessInstance,
    TimelineEvent,
    User,
    WorkItem,
)

__all__ = ["SEE_ALL_ROLES", "SUPERVISOR_ROLES"]  # kept importable from here for older callers

# The message the port's system (or its operator, on the fallback page) sends when containers are in place.
CONTAINER_POSITIONED = "ContainerPositioned"


def consignment_scope(session: Session, actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause limiting consignments to those the actor's organization takes part in."""
    if actor.role in SEE_ALL_ROLES:
        return true()
    if actor.role == "port_operator":
        return terminal_scope(session, actor)
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


# Roles that see consignments without being a party to their decisions: the port (it moves containers)
# and process analysts. They do not get the evidence bundle or the result notice.
NOT_PARTY_ROLES = {"port_operator", "analyst"}


def may_read_evidence(actor: Actor) -> bool:
    """Whether the actor may download the evidence and the signed result notice of the consignments it
    sees (``consignment_scope``): the trader, customs, the agencies and the administrator may."""
    return actor.role not in NOT_PARTY_ROLES


def terminal_scope(session: Session, actor: Actor) -> ColumnElement[bool]:
    """The container consignments declared at the customs branches of the port operator's terminal (see
    ``app.access``)."""
    branches = terminal_branches(session, actor.organization)
    if not branches:
        return false()
    return and_(
        Consignment.containers != [],  # noqa: PLC1901 - air cargo never reaches a terminal
        Consignment.customs_branch.in_(branches),
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
        stmt = stmt.where(_search_condition(session, query))
    return list(session.scalars(stmt.order_by(Consignment.registered_at.desc()).limit(limit).offset(offset)))


def _search_condition(session: Session, query: str) -> ColumnElement[bool]:
    """Match a declaration number, a container number or a bill of lading."""
    q = query.strip().upper().replace(" ", "")
    return or_(
        Consignment.declaration_no == q,
        Consignment.bill_of_lading == query.strip(),
        type_coerce(Consignment.containers, JSONB).contains([q])
        if session.get_bind().dialect.name == "postgresql"
        else func.instr(func.cast(Consignment.containers, Text()), f'"{q}"') > 0,
    )


def _inbox_statement():
    items, consignments = WorkItem.__table__, Consignment.__table__
    return (
        select(items, consignments.c.declaration_no)
        .join(consignments, consignments.c.id == items.c.consignment_id)
        .where(
            items.c.organization == bindparam("organization"),
            items.c.role == bindparam("role"),
            items.c.state.in_(bindparam("states", expanding=True)),
        )
        .order_by(items.c.due_at.is_(None), items.c.due_at, items.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


# Built once: clients poll their inboxes all the time, and most polls find nothing new.
_INBOX = _inbox_statement()


def inbox(
    session: Session, actor: Actor, *, state: str = "open", limit: int = 50, offset: int = 0
) -> list[tuple[Any, str]]:
    """The caller's work items (its organization and role only), each with its declaration number.

    The items are read-only rows with the work item's columns as attributes (no ORM objects)."""
    states = ["open", "claimed"] if state == "open" else [state]
    params = {
        "organization": actor.organization,
        "role": actor.role,
        "states": states,
        "limit": limit,
        "offset": offset,
    }
    return [(row, row.declaration_no) for row in session.connection().execute(_INBOX, params)]


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


def decision_outputs(session: Session, consignment_id: int, steps: list[str]) -> dict[str, dict[str, Any]]:
    """``{step: outputs}``: what the newest timeline decision of each business rule ``step`` decided for
    the consignment (a step not decided yet is left out)."""
    found: dict[str, dict[str, Any]] = {}
    for step in dict.fromkeys(steps):
        detail = session.scalar(
            select(TimelineEvent.detail)
            .where(
                TimelineEvent.consignment_id == consignment_id,
                TimelineEvent.kind == "decision",
                TimelineEvent.step_id == step,
            )
            .order_by(TimelineEvent.id.desc())
            .limit(1)
        )
        if detail is not None:
            found[step] = dict(detail)
    return found


def open_work(session: Session, consignment_id: int) -> list[WorkItem]:
    return list(
        session.scalars(
            select(WorkItem)
            .where(WorkItem.consignment_id == consignment_id, WorkItem.state.in_(("open", "claimed")))
            .order_by(WorkItem.id)
        )
    )


def incidents(session: Session, actor: Actor, limit: int = 100) -> list[tuple[Job, Consignment]]:
    """Failed jobs of the consignments the caller sees; a port operator sees only its own system's."""
    stmt = (
        select(Job, Consignment)
        .join(Consignment, Consignment.id == Job.consignment_id)
        .where(Job.state == "incident", consignment_scope(session, actor))
        .order_by(Job.id)
        .limit(limit)
    )
    if actor.role == "port_operator":
        stmt = stmt.where(Job.topic.startswith(PORT_TOPIC_PREFIX))
    return [(job, consignment) for job, consignment in session.execute(stmt)]


@dataclass
class AwaitingPositions:
    """A consignment whose containers the port has not reported in the sampling area yet."""

    consignment: Consignment
    job: Job
    containers: list[str]  # the ones the port was asked to move (the nominated ones, when customs chose)


def awaiting_positions(session: Session, actor: Actor, limit: int = 200) -> list[AwaitingPositions]:
    """Consignments at the caller's terminal waiting for ContainerPositioned: the port was asked to move
    their containers (its job is running, retrying, failed or done) and no position report arrived yet."""
    reported = exists().where(
        TimelineEvent.consignment_id == Consignment.id,
        TimelineEvent.kind == "message",
        TimelineEvent.step_id == CONTAINER_POSITIONED,
    )
    kept = exists().where(
        MessageInbox.instance_id == Consignment.instance_id,
        MessageInbox.name == CONTAINER_POSITIONED,
        MessageInbox.delivered_at.is_(None),
    )
    stmt = (
        select(Consignment, Job)
        .join(Job, Job.consignment_id == Consignment.id)
        .where(
            consignment_scope(session, actor),
            Consignment.finished_at.is_(None),
            Job.topic.startswith(PORT_TOPIC_PREFIX),
            Job.state.in_(("pending", "locked", "incident", "done")),
            not_(reported),
            not_(kept),
        )
        .order_by(Consignment.registered_at, Job.id)
        .limit(limit)
    )
    rows: dict[int, AwaitingPositions] = {}
    for consignment, job in session.execute(stmt):
        containers = job.inputs.get("containers") if isinstance(job.inputs, dict) else None
        listed = [str(c) for c in containers] if isinstance(containers, list) else []
        rows.setdefault(consignment.id, AwaitingPositions(consignment, job, listed or consignment.containers))
    return list(rows.values())


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


RUNNING = ("registered", "in_progress")


def consignment_clock(
    session: Session, c: Consignment, calendar: WorkingCalendar, stalled_after_hours: float
) -> dict[str, Any]:
    """When the consignment last moved and when the system acts on it next, if nobody does first:
    ``next_timer_at``, the workflow's next timer (an SLA deadline or a wait); ``stalled_at``, the moment it
    counts as stalled (``app.engine.stalling``; ``None`` once it is, or when it has finished)."""
    running = c.status in RUNNING
    stalled_now = (
        select(Escalation.id)
        .where(
            Escalation.consignment_id == c.id,
            Escalation.kind == stalling.STALLED,
            Escalation.resolved_at.is_(None),
        )
        .exists()
    )
    since = stalling.idle_since()
    row = session.execute(
        select(ProcessInstance.next_timer_at, stalled_now, since)
        .join(Consignment, Consignment.instance_id == ProcessInstance.id)
        .where(ProcessInstance.id == c.instance_id)
    ).first()
    next_timer, stalled, idle_from = row if row is not None else (None, False, None)
    stalled = running and stalled
    stalled_at = None
    if running and not stalled and idle_from is not None:
        stalled_at = calendar.add_working_hours(idle_from, stalled_after_hours).isoformat()
    return {
        "last_activity_at": c.last_activity_at.isoformat() if c.last_activity_at else None,
        "next_timer_at": next_timer.isoformat() if running and next_timer else None,
        "stalled_at": stalled_at,
    }


def timeline_json(session: Session, consignment_id: int) -> list[dict[str, Any]]:
    """The consignment's timeline for the API. A signed decision's row names its task: its data and files
    are read from the signed payload of the task's audit event (see ``CompleteWorkItem``)."""
    rows = timeline(session, consignment_id)
    signed_tasks = [t.detail["signed_task"] for t in rows if "signed_task" in (t.detail or {})]
    signed = signed_decisions(session, consignment_id, signed_tasks) if signed_tasks else {}
    return [
        {
            "at": t.at.isoformat(),
            "kind": t.kind,
            "step_id": t.step_id,
            "step_name": t.step_name,
            "actor": t.actor,
            "organization": t.organization,
            "working_hours": t.working_hours,
            "detail": signed.get((t.detail or {}).get("signed_task"), t.detail),
        }
        for t in rows
    ]


def signed_decisions(session: Session, consignment_id: int, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``{task_id: {"data", "attachments"?, "signed": True}}`` from the signed payloads of those tasks."""
    found: dict[str, dict[str, Any]] = {}
    for task_id, payload in session.execute(
        select(AuditEvent.task_id, AuditEvent.signed_payload).where(
            AuditEvent.consignment_id == consignment_id,
            AuditEvent.task_id.in_(task_ids),
            AuditEvent.signed_payload.is_not(None),
        )
    ):
        body = json.loads(payload)
        detail = {"data": body.get("data", {}), "signed": True}
        if body.get("attachments"):
            detail["attachments"] = body["attachments"]
        found[task_id] = detail
    return found


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


# --- Pages of the web portal -------------------------------------------------------------------------


@dataclass
class InboxFilters:
    """What the inbox page asks for; every field optional."""

    state: str = "open"  # open (open + claimed) | mine | claimed | open_only
    step: str | None = None
    sla: str | None = None  # overdue | due_soon | on_time
    declaration_no: str | None = None
    team: bool = False  # supervisors: every item of the organization, any role


@dataclass
class InboxRow:
    item: WorkItem
    declaration_no: str
    goods: str
    assignee: str | None


def inbox_page(
    session: Session,
    actor: Actor,
    filters: InboxFilters,
    *,
    now: datetime,
    due_soon_before: datetime,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[InboxRow], int, list[tuple[str, str]]]:
    """One page of the caller's inbox, the total count, and the steps present (for the step filter)."""
    scope = [WorkItem.organization == actor.organization]
    if not (filters.team and actor.role in SUPERVISOR_ROLES):
        scope.append(WorkItem.role == actor.role)
    conditions = list(scope)
    if filters.state == "mine":
        conditions += [WorkItem.state == "claimed", WorkItem.assignee_id == actor.user_id]
    elif filters.state == "claimed":
        conditions.append(WorkItem.state == "claimed")
    elif filters.state == "open_only":
        conditions.append(WorkItem.state == "open")
    else:
        conditions.append(WorkItem.state.in_(("open", "claimed")))
    if filters.step:
        conditions.append(WorkItem.step_id == filters.step)
    if filters.sla == "overdue":
        conditions.append(WorkItem.due_at < now)
    elif filters.sla == "due_soon":
        conditions += [WorkItem.due_at >= now, WorkItem.due_at < due_soon_before]
    elif filters.sla == "on_time":
        conditions.append(or_(WorkItem.due_at.is_(None), WorkItem.due_at >= due_soon_before))
    if filters.declaration_no:
        conditions.append(Consignment.declaration_no == filters.declaration_no.strip())
    base = (
        select(WorkItem, Consignment.declaration_no, Consignment.goods, User.username)
        .join(Consignment, Consignment.id == WorkItem.consignment_id)
        .outerjoin(User, User.id == WorkItem.assignee_id)
        .where(*conditions)
    )
    counted = select(func.count()).select_from(WorkItem)
    if filters.declaration_no:  # the only condition on the consignment; every work item has one
        counted = counted.join(Consignment, Consignment.id == WorkItem.consignment_id)
    total = session.scalar(counted.where(*conditions))
    rows = session.execute(
        base.order_by(WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.id)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    steps = session.execute(
        select(WorkItem.step_id, func.min(WorkItem.step_name))
        .where(*scope, WorkItem.state.in_(("open", "claimed")))
        .group_by(WorkItem.step_id)
        .order_by(WorkItem.step_id)
    ).all()
    return (
        [InboxRow(item, number, goods, assignee) for item, number, goods, assignee in rows],
        total or 0,
        [(step_id, name) for step_id, name in steps],
    )


def team_members(session: Session, organization: str, role: str) -> list[User]:
    """People of ``organization`` with ``role``: whom a supervisor may hand an item to."""
    return list(
        session.scalars(
            select(User)
            .join(Organization, Organization.id == User.organization_id)
            .where(Organization.code == organization, User.role == role)
            .order_by(User.username)
        )
    )


def visible_work_item(session: Session, actor: Actor, work_item_id: int) -> WorkItem | None:
    """A work item the caller may open: its own organization and role, or its team's as a supervisor."""
    item = session.get(WorkItem, work_item_id)
    if item is None or item.organization != actor.organization:
        return None
    if item.role != actor.role and actor.role not in SUPERVISOR_ROLES:
        return None
    return item


def attachments(session: Session, consignment_id: int) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment).where(Attachment.consignment_id == consignment_id).order_by(Attachment.id)
        )
    )


def visible_attachment(session: Session, actor: Actor, attachment_id: int) -> Attachment | None:
    """An attachment of a consignment the caller may see, with its bytes."""
    return session.scalar(
        select(Attachment)
        .join(Consignment, Consignment.id == Attachment.consignment_id)
        .where(Attachment.id == attachment_id, consignment_scope(session, actor))
        .options(undefer(Attachment.content))
    )


def count_consignments(
    session: Session, actor: Actor, *, status: str | None = None, query: str | None = None
) -> int:
    stmt = select(func.count()).select_from(Consignment).where(consignment_scope(session, actor))
    if status:
        stmt = stmt.where(Consignment.status == status)
    if query:
        stmt = stmt.where(_search_condition(session, query))
    return session.scalar(stmt) or 0


@dataclass
class DiagramMarks:
    completed: list[str]
    current: list[str]
    overdue: list[str]


def diagram_marks(session: Session, consignment: Consignment, now: datetime) -> DiagramMarks:
    """Which BPMN elements to mark on the consignment's diagram, from the projections alone."""
    done = session.scalars(
        select(TimelineEvent.step_id).where(TimelineEvent.consignment_id == consignment.id).distinct()
    )
    open_items = open_work(session, consignment.id)
    running_jobs = session.scalars(
        select(Job.step_id).where(
            Job.consignment_id == consignment.id, Job.state.in_(("pending", "locked", "incident"))
        )
    )
    current = [w.step_id for w in open_items] + list(running_jobs)
    overdue = [w.step_id for w in open_items if w.due_at is not None and w.due_at < now]
    return DiagramMarks(sorted(set(done) - set(current)), sorted(set(current)), sorted(set(overdue)))


def model_files(session: Session, consignment: Consignment) -> dict[str, Any]:
    """The files of the model version the consignment runs on."""
    instance = session.get(ProcessInstance, consignment.instance_id)
    version = session.get(ModelVersion, instance.model_version_id) if instance else None
    return version.files if version else {}


def notifications_for(
    session: Session, user_id: int, limit: int = 50
) -> list[tuple[Notification, str | None]]:
    """The user's newest notifications, each with its consignment's declaration number."""
    # Rows unpack like tuples (SQLAlchemy 2.1 deprecates Result.tuples()).
    return session.execute(
        select(Notification, Consignment.declaration_no)
        .outerjoin(Consignment, Consignment.id == Notification.consignment_id)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()


def unread_notifications(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )
