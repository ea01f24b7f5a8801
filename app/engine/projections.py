"""Derive the read side from a workflow after each command: open work items, jobs for service tasks,
the earliest due timer, escalations, and the consignment's status, current step and timeline.

Queries (inboxes, dashboards, search) read only these rows; they never deserialize a workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.orm.util import identity_key

from app.models import Escalation, Job, WorkItem
from app.step_names import vietnamese_name

from . import notifications, statistics
from .clock import parse_aware
from .errors import EngineFailure
from .runtime import evaluate_template, resolve_performer
from .specs import ExternalServiceTask, PortalUserTask

if TYPE_CHECKING:
    from .executor import CommandContext, LoadedInstance

# Which end event means what for the consignment. Anything else that ends the process is "completed".
END_STATUSES = {
    "cleared": "cleared",
    "non_compliance_handled": "non_compliance_handled",
    "registration_rejected": "rejected",
}
TIMER_EVENT_TYPES = ("TimeDate", "Duration", "Cycle", "Timer")
OPEN_STATES = ("open", "claimed")
# Built once: every command asks them. Plain rows, not ORM objects: most commands change none of them.
_ITEMS, _JOB_ROWS = WorkItem.__table__, Job.__table__
# The instance's open work items and all its jobs, in one statement: ("item" | "job", id, task_id, state).
_OPEN_ITEMS_AND_JOBS = union_all(
    select(literal("item"), _ITEMS.c.id, _ITEMS.c.task_id, _ITEMS.c.state).where(
        _ITEMS.c.instance_id == bindparam("instance_id"), _ITEMS.c.state.in_(OPEN_STATES)
    ),
    select(literal("job"), _JOB_ROWS.c.id, _JOB_ROWS.c.task_id, _JOB_ROWS.c.state).where(
        _JOB_ROWS.c.instance_id == bindparam("instance_id")
    ),
)
_ALL_JOBS = select(Job).where(Job.instance_id == bindparam("instance_id"))


@dataclass
class EngineStep:
    """A task the engine completed on its own during a command (gateway, rule, event)."""

    kind: str
    step_id: str
    step_name: str
    detail: dict[str, Any]


def describe_engine_step(task) -> EngineStep | None:
    """Return what people should see on the timeline for an automatic step, or None for plumbing."""
    spec = task.task_spec
    name = spec.bpmn_name or spec.bpmn_id or spec.name
    if isinstance(spec, BusinessRuleTaskMixin):
        # What this decision decided: its table's outputs (not every variable an earlier one set).
        table = getattr(getattr(spec, "dmnEngine", None), "decision_table", None)
        names = [o.name for o in table.outputs] if table is not None else []
        outputs = {k: task.data.get(k) for k in names if k in task.data}
        return EngineStep("decision", spec.bpmn_id, name, outputs)
    if spec.bpmn_id in END_STATUSES or (type(spec).__name__ == "EndEvent" and spec.bpmn_name):
        return EngineStep("end", spec.bpmn_id, name, {})
    if isinstance(spec, CatchingEvent) and spec.bpmn_name and type(spec).__name__ != "StartEvent":
        definition = getattr(spec, "event_definition", None)
        if "Message" in type(definition).__name__:
            return None  # recorded when the message is delivered (CommandContext.send_message)
        kind = "timer" if any(t in type(definition).__name__ for t in TIMER_EVENT_TYPES) else "event"
        return EngineStep(kind, spec.bpmn_id, name, {})
    return None


def sync(ctx: CommandContext, loaded: LoadedInstance) -> datetime | None:
    """Bring every projection of one instance in line with its workflow; return the next timer due."""
    workflow, consignment, session, now = loaded.workflow, loaded.consignment, ctx.session, ctx.now
    engine = ctx.engine

    # The session may hold unflushed changes (commands run without autoflush): a work item loaded in it
    # (the one being completed) counts with its state there, not its row's.
    open_items: dict[str, int] = {}
    known_jobs: dict[str, tuple[int, str]] = {}
    for kind, row_id, task_id, state in session.execute(_OPEN_ITEMS_AND_JOBS, {"instance_id": loaded.row.id}):
        if kind == "job":
            known_jobs[task_id] = (row_id, state)
        elif _as_held(session, WorkItem, row_id, state)[1] in OPEN_STATES:
            open_items[task_id] = row_id
    # One walk of the task tree for both kinds of waiting task (it is the costly part of asking).
    ready: list = []
    started: list = []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED):
        if task.state == TaskState.READY:
            if isinstance(task.task_spec, PortalUserTask):
                ready.append(task)
        elif isinstance(task.task_spec, ExternalServiceTask):
            started.append(task)
    current_steps: list[str] = []
    ready_ids: set[str] = set()
    for task in ready:
        spec = task.task_spec
        task_id = str(task.id)
        ready_ids.add(task_id)
        escalation = (spec.extensions or {}).get("escalation")
        if not escalation:
            current_steps.append(spec.bpmn_name or spec.bpmn_id)
        if task_id in open_items:
            continue
        _open_work_item(ctx, loaded, task, escalation)

    for task_id, item_id in open_items.items():
        if task_id not in ready_ids:  # rare: the task was cancelled (a boundary event, a terminate end)
            item = session.get(WorkItem, item_id)
            item.state = "cancelled"
            item.completed_at = now
            _resolve_escalations(session, now, Escalation.work_item_id == item.id)

    started_ids: set[str] = set()
    for task in started:
        spec = task.task_spec
        task_id = str(task.id)
        started_ids.add(task_id)
        current_steps.append(spec.bpmn_name or spec.bpmn_id)
        if task_id not in known_jobs:
            inputs = {
                name: evaluate_template(engine, expr, task.data) for name, expr in spec.input_parameters
            }
            ctx.insert_later(
                _JOB_ROWS,
                instance_id=loaded.row.id,
                consignment_id=consignment.id,
                task_id=task_id,
                step_id=spec.bpmn_id,
                topic=spec.topic,
                inputs=inputs,
                idempotency_key=f"ci-{loaded.row.id}-{task_id}",
                state="pending",
                attempts=0,
                next_run_at=now,
                created_at=now,
            )
            ctx.after_commit.append(ctx.wake_worker)
    if workflow.completed:
        # Jobs are a work queue, not a record (Camunda's runtime job table works the same way): a finished
        # consignment has none left to run, and its timeline and audit trail keep what each job did.
        # Once per consignment, so through the ORM (a job the command holds is deleted, not updated).
        for job in session.scalars(_ALL_JOBS, {"instance_id": loaded.row.id}):
            session.delete(job)
    else:
        for task_id, (job_id, state) in known_jobs.items():
            if task_id in started_ids:
                continue
            job, state = _as_held(session, Job, job_id, state)
            if state in ("pending", "locked", "incident"):
                job = job if job is not None else session.get(Job, job_id)  # rare: the task was cancelled
                job.state = "cancelled"
                job.finished_at = now

    next_timer: datetime | None = None
    for event in workflow.waiting_events():
        if any(t in event.event_type for t in TIMER_EVENT_TYPES):
            if isinstance(event.value, str):
                due = parse_aware(event.value)
                next_timer = due if next_timer is None or due < next_timer else next_timer
        else:
            current_steps.append(_waiting_label(event))

    consignment.current_step = "; ".join(dict.fromkeys(current_steps))[:300] or None
    if workflow.completed:
        ended = end_event(workflow)
        consignment.status = END_STATUSES[ended] if ended else "completed"
        if consignment.finished_at is None:
            consignment.finished_at = now
            consignment.clearance_hours = round(
                ctx.runtime.calendar.working_hours_between(consignment.registered_at, now), 2
            )
            if consignment.status == "cleared":
                tz = ctx.runtime.calendar.tz
                ctx.count_later(lambda: statistics.consignment_cleared(session, consignment, tz))
        consignment.current_step = None
    elif consignment.status == "registered" and ready_ids | started_ids:
        consignment.status = "in_progress"
    return None if workflow.completed else next_timer


def end_event(workflow) -> str | None:
    """The end event (one of END_STATUSES) a finished workflow came to, if any."""
    ended = [
        t.task_spec.bpmn_id
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.bpmn_id in END_STATUSES
    ]
    return ended[-1] if ended else None


def _waiting_label(event) -> str:
    name = event.name or "event"
    return f"Waiting for {name}"


def _work_item_fields(ctx: CommandContext, loaded: LoadedInstance, task) -> dict[str, Any]:
    """What a work item shows of its task: step, form, performer, signature and escalation kind."""
    spec = task.task_spec
    group = spec.candidate_groups or spec.lane or ""
    group = str(evaluate_template(ctx.engine, group, task.data)) if "${" in group else group
    try:
        performer = resolve_performer(group, {"trader_org": loaded.trader_code, **task.data})
    except ValueError as exc:
        raise EngineFailure(f"task '{spec.bpmn_id}' has no usable performer: {exc}") from exc
    extensions = spec.extensions or {}
    return {
        "step_id": spec.bpmn_id,
        "step_name": spec.bpmn_name or spec.bpmn_id,
        "form_key": spec.form.key if spec.form and spec.form.key else None,
        "organization": performer.organization,
        "role": performer.role,
        "escalation": extensions.get("escalation") or None,
        "signature_required": extensions.get("signature") == "required",
    }


def _due_at(ctx: CommandContext, task) -> datetime | None:
    if not task.task_spec.due_date:
        return None
    value = evaluate_template(ctx.engine, task.task_spec.due_date, task.data)
    return value if isinstance(value, datetime) else parse_aware(str(value))


def refresh_work_item(
    ctx: CommandContext, loaded: LoadedInstance, item: WorkItem, task, due_date_changed: bool
) -> list[str]:
    """Bring an open work item in line with its task's (new) spec; return the fields that changed.

    A work item whose performer changed goes back to the new performer's inbox unclaimed. The due date is
    re-evaluated only when its expression changed, so a moved task keeps its deadline.
    """
    fields = _work_item_fields(ctx, loaded, task)
    if due_date_changed:
        fields["due_at"] = _due_at(ctx, task)
    changed = [name for name, value in fields.items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, fields[name])
    if {"organization", "role"} & set(changed) and item.state == "claimed":
        item.state, item.assignee_id = "open", None
        changed.append("claim released")
    return changed


def _as_held(session, model, row_id: int, row_state: str) -> tuple[Any, str]:
    """The object the session holds for the row (or None) and the row's state as this command sees it:
    a held object's own state, which may not be flushed yet, else the state read from the row."""
    held = session.identity_map.get(identity_key(model, row_id))
    return held, (held.state if held is not None else row_state)


def _open_work_item(ctx: CommandContext, loaded: LoadedInstance, task, escalation: str | None) -> None:
    session, now = ctx.session, ctx.now
    spec = task.task_spec
    fields = _work_item_fields(ctx, loaded, task)
    fields["escalation"] = escalation
    fields.update(
        instance_id=loaded.row.id,
        consignment_id=loaded.consignment.id,
        task_id=str(task.id),
        state="open",
        assignee_id=None,
        customs_branch=loaded.consignment.customs_branch,
        lead_agency=loaded.consignment.lead_agency,
        created_at=now,
        due_at=_due_at(ctx, task),
        completed_at=None,
        completed_by_id=None,
    )
    item = WorkItem(**fields)
    if escalation:
        session.add(item)  # its escalation row points at it through the ORM
    else:
        ctx.add_later(item)
    notifications.notify(
        ctx,
        now=now,
        kind="escalation" if escalation else "new_task",
        organization=item.organization,
        role=item.role,
        consignment=loaded.consignment,
        step_name=item.step_name,
        step_name_vi=vietnamese_name(spec),
        work_item=item,
        email=bool(ctx.executor.settings.smtp_host),
    )
    if escalation:
        session.add(
            Escalation(
                consignment_id=loaded.consignment.id,
                kind=escalation,
                organization=item.organization,
                raised_at=now,
                work_item=item,
            )
        )
        loaded.consignment.escalated = True
        ctx.timeline(
            loaded.consignment, "escalation", spec.bpmn_id, item.step_name, detail={"kind": escalation}
        )
        ctx.record(
            loaded.consignment,
            "escalation_raised",
            {"kind": escalation, "task": spec.bpmn_id},
            task_id=item.task_id,
        )


def resolve_stalled(session, consignment, now: datetime) -> None:
    """Close the consignment's "stalled" escalation, if any, now that something happened."""
    if consignment.escalated:  # no query on the common path: never escalated, nothing to close
        _resolve_escalations(
            session, now, Escalation.consignment_id == consignment.id, Escalation.kind == "stalled"
        )


def _resolve_escalations(session, now: datetime, *conditions) -> None:
    for escalation in session.scalars(
        select(Escalation).where(*conditions, Escalation.resolved_at.is_(None))
    ):
        escalation.resolved_at = now
