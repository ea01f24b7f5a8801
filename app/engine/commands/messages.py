"""Messages from outside systems, correlated to a consignment by its declaration number.

A message is delivered when the process waits for it, kept in the inbox when it came early (the port can
answer before the worker has committed the move), and ignored when it repeats one already received: the
port's own callback arriving after its operator reported the same containers on the portal's fallback page
(``commands.port``), or the port's system sending its callback twice. An ignored message changes nothing;
its audit event says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select

from app.access import SEE_ALL_ROLES, terminal_branches
from app.models import Consignment, MessageInbox, ProcessInstance, TimelineEvent

from ..errors import Conflict, NotFound
from ..executor import CommandContext, LoadedInstance

# The callbacks the portal knows: message name -> the process variable its payload lands in.
KNOWN_MESSAGES = {"ContainerPositioned": "container_positions"}

DELIVERED, KEPT, DUPLICATE = "delivered", "kept", "duplicate"


@dataclass
class CorrelateMessage:
    retry_on_conflict = True
    optimistic = True  # see app.engine.executor: the instance's revision check guards what it read

    declaration_no: str
    name: str
    payload: dict[str, Any]
    outcome: str | None = field(default=None, compare=False)  # delivered | kept | duplicate, once run

    def execute(self, ctx: CommandContext) -> bool:
        if self.name not in KNOWN_MESSAGES:
            raise NotFound(f"unknown message {self.name!r}", field="name")
        consignment = sender_consignment(ctx, self.declaration_no)
        loaded = ctx.load(consignment)
        self.outcome = correlate(ctx, loaded, self.name, self.payload)
        return self.outcome == DELIVERED


_CONSIGNMENT_WITH_INSTANCE = (
    select(Consignment, ProcessInstance)
    .join(ProcessInstance, ProcessInstance.id == Consignment.instance_id)
    .where(Consignment.declaration_no == bindparam("declaration_no"))
)


def sender_consignment(ctx: CommandContext, declaration_no: str) -> Consignment:
    """The running consignment a message names, if the sender may send it messages: a port operator
    only for consignments at its terminal (``app.access``); the system and administrators for any."""
    # With its process instance in the same query: the command loads it next (see work_items._load_item).
    consignment = ctx.load_held(_CONSIGNMENT_WITH_INSTANCE, {"declaration_no": declaration_no})
    allowed = consignment is not None and (
        ctx.actor.role in SEE_ALL_ROLES
        or (
            ctx.actor.role == "port_operator"
            and bool(consignment.containers)
            and consignment.customs_branch in terminal_branches(ctx.session, ctx.actor.organization)
        )
    )
    if not allowed:
        raise NotFound("no consignment with this declaration number at your terminal", field="declaration_no")
    if consignment.finished_at is not None:
        raise Conflict(
            "the consignment is already %(status)s",
            field="declaration_no",
            params={"status": consignment.status},
        )
    return consignment


def correlate(
    ctx: CommandContext, loaded: LoadedInstance, name: str, payload: dict[str, Any], *, by_actor: bool = False
) -> str:
    """Deliver ``name`` to the loaded instance, keep it for later, or ignore a repeat; say which.

    ``by_actor``: a person sent it (the port's fallback page), so the timeline names them, not the system."""
    consignment = loaded.consignment
    if not _waiting_for(loaded, name) and already_received(ctx, loaded, name):
        ctx.record(
            consignment, "message_ignored", {"name": name, "payload": payload, "reason": "already received"}
        )
        return DUPLICATE
    delivered = ctx.send_message(loaded, name, payload, KNOWN_MESSAGES[name])
    if delivered and by_actor:
        _credit_sender(ctx, loaded, name, payload)
    ctx.record(consignment, "message_received", {"name": name, "payload": payload, "delivered": delivered})
    # Save even when the message was only kept in the inbox: bumping the revision makes a concurrent
    # command on this instance (e.g. the job that starts the wait) retry and then see the message.
    ctx.save(loaded)
    return DELIVERED if delivered else KEPT


def already_received(ctx: CommandContext, loaded: LoadedInstance, name: str) -> bool:
    """True when the process got ``name`` already and will not wait for it again: one is kept in the inbox,
    or one was delivered (the timeline has it) and no catch event for it lies ahead."""
    kept = ctx.session.scalar(
        select(MessageInbox.id)
        .where(
            MessageInbox.instance_id == loaded.row.id,
            MessageInbox.name == name,
            MessageInbox.delivered_at.is_(None),
        )
        .limit(1)
    )
    if kept is not None:
        return True
    if _catch_ahead(loaded, name):
        return False  # early: the process has not reached the event yet
    delivered = ctx.session.scalar(
        select(TimelineEvent.id)
        .where(
            TimelineEvent.consignment_id == loaded.consignment.id,
            TimelineEvent.kind == "message",
            TimelineEvent.step_id == name,
        )
        .limit(1)
    )
    return delivered is not None


def _waiting_for(loaded: LoadedInstance, name: str) -> bool:
    return any(e.name == name and "Message" in e.event_type for e in loaded.workflow.waiting_events())


def _catch_ahead(loaded: LoadedInstance, name: str) -> bool:
    """Whether a not yet finished catch event for ``name`` exists in the workflow or its subprocesses."""
    workflow = loaded.workflow
    for tasks in [workflow.tasks, *(sub.tasks for sub in workflow.subprocesses.values())]:
        for task in tasks.values():
            spec = task.task_spec
            if not isinstance(spec, CatchingEvent) or task.has_state(TaskState.FINISHED_MASK):
                continue
            definition = getattr(spec, "event_definition", None)
            if getattr(definition, "name", None) == name and "Message" in type(definition).__name__:
                return True
    return False


def _credit_sender(ctx: CommandContext, loaded: LoadedInstance, name: str, payload: dict[str, Any]) -> None:
    """Write the delivered message's timeline row under the person who sent it, in its place among the
    engine's steps (the executor writes the others, as the system's, when it saves)."""
    steps = loaded.engine_steps
    index = next((i for i, s in enumerate(steps) if s.kind == "message" and s.step_id == name), None)
    if index is None:
        return
    consignment = loaded.consignment
    for step in steps[:index]:
        ctx.timeline(consignment, step.kind, step.step_id, step.step_name, detail=step.detail, actor="system")
    message = steps[index]
    ctx.timeline(consignment, message.kind, message.step_id, message.step_name, detail=payload)
    del steps[: index + 1]
