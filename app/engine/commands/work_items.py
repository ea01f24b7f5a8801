"""Officers and traders work their user tasks: claim, release, complete with form data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select, update

from app.forms.uploads import Upload
from app.forms.validation import validate_form
from app.models import Attachment, Consignment, Organization, ProcessInstance, User, WorkItem
from app.signing.countersign import fill_references
from app.signing.service import Signing, sign_decision
from app.step_names import vietnamese_name

from .. import notifications, statistics
from ..audit import EventSignature
from ..errors import Conflict, Forbidden, NotFound, PortalError, StaleRevision
from ..executor import Actor, CommandContext
from ..runtime import find_task

SUPERVISOR_ROLES = ("manager", "branch_head")


def _may_work(actor: Actor, item: WorkItem) -> bool:
    return actor.organization == item.organization and actor.role == item.role


_ITEM_WITH_CONSIGNMENT = (
    select(WorkItem, Consignment)
    .join(Consignment, Consignment.id == WorkItem.consignment_id)
    .where(WorkItem.id == bindparam("id"))
)
_ITEM_WITH_INSTANCE = _ITEM_WITH_CONSIGNMENT.add_columns(ProcessInstance).join(
    ProcessInstance, ProcessInstance.id == Consignment.instance_id
)


def _supervises(actor: Actor, item: WorkItem) -> bool:
    return actor.role in SUPERVISOR_ROLES and actor.organization == item.organization


def _load_item(
    ctx: CommandContext, work_item_id: int, supervisor: bool = False, instance: bool = False
) -> WorkItem:
    # One query for the item, its consignment and (``instance``: for a command that runs the engine) its
    # process instance; the later ``Session.get`` calls find them in the session.
    item = ctx.load_held(_ITEM_WITH_INSTANCE if instance else _ITEM_WITH_CONSIGNMENT, {"id": work_item_id})
    allowed = item is not None and (
        _may_work(ctx.actor, item)
        or ctx.actor.role == "system"
        or (supervisor and (_supervises(ctx.actor, item) or ctx.actor.role == "admin"))
    )
    if not allowed:
        # Another organization's item is indistinguishable from a missing one.
        raise NotFound("no such work item in your inbox", field="work_item_id")
    return item


def _record_assignment(ctx: CommandContext, item: WorkItem, action: str) -> None:
    consignment = ctx.session.get(Consignment, item.consignment_id)
    ctx.record(consignment, action, {"id": item.id}, task_id=item.task_id)


@dataclass
class ClaimWorkItem:
    work_item_id: int

    def execute(self, ctx: CommandContext) -> WorkItem:
        item = _load_item(ctx, self.work_item_id)
        if item.state == "claimed" and item.assignee_id == ctx.actor.user_id:
            return item
        result = ctx.session.execute(
            update(WorkItem)
            .where(WorkItem.id == item.id, WorkItem.state == "open")
            .values(state="claimed", assignee_id=ctx.actor.user_id)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise Conflict(
                "work item is %(state)s, not open", field="work_item_id", params={"state": item.state}
            )
        ctx.session.refresh(item)
        _record_assignment(ctx, item, "work_item_claimed")
        return item


@dataclass
class ReleaseWorkItem:
    work_item_id: int

    def execute(self, ctx: CommandContext) -> WorkItem:
        item = _load_item(ctx, self.work_item_id, supervisor=True)
        if item.state != "claimed":
            raise Conflict(
                "work item is %(state)s, not claimed", field="work_item_id", params={"state": item.state}
            )
        if item.assignee_id != ctx.actor.user_id and not (
            _supervises(ctx.actor, item) or ctx.actor.role == "admin"
        ):
            raise Forbidden("only the assignee or a supervisor can release this work item")
        item.state, item.assignee_id = "open", None
        _record_assignment(ctx, item, "work_item_released")
        return item


@dataclass
class ReassignWorkItem:
    """A supervisor (manager or branch head of the item's organization) hands an item to a colleague."""

    work_item_id: int
    assignee_username: str

    def execute(self, ctx: CommandContext) -> WorkItem:
        item = _load_item(ctx, self.work_item_id, supervisor=True)
        if not (_supervises(ctx.actor, item) or ctx.actor.role == "admin"):
            raise Forbidden("only a manager or branch head of the organization can reassign", field="role")
        if item.state not in ("open", "claimed"):
            raise Conflict("work item is %(state)s", field="work_item_id", params={"state": item.state})
        assignee = ctx.session.scalar(
            select(User)
            .join(Organization, Organization.id == User.organization_id)
            .where(
                User.username == self.assignee_username,
                Organization.code == item.organization,
                User.role == item.role,
            )
        )
        if assignee is None:
            raise PortalError(
                "no %(role)s of %(organization)s is called '%(name)s'",
                field="assignee",
                params={"role": item.role, "organization": item.organization, "name": self.assignee_username},
            )
        item.state, item.assignee_id = "claimed", assignee.id
        consignment = ctx.session.get(Consignment, item.consignment_id)
        ctx.record(
            consignment,
            "work_item_reassigned",
            {"id": item.id, "to": assignee.username},
            task_id=item.task_id,
        )
        return item


@dataclass
class CompleteWorkItem:
    optimistic = True  # see app.engine.executor: the revision and the work item's state guard its reads

    work_item_id: int
    data: Any = field(default_factory=dict)
    expected_revision: int | None = None
    attachments: tuple[Upload, ...] = ()  # already checked by app.forms.uploads.check_uploads
    signing: Signing | None = None  # a PIN (remote signing) or a client's signature; see app.signing

    def execute(self, ctx: CommandContext) -> WorkItem:
        item = _load_item(ctx, self.work_item_id, instance=True)
        if item.state not in ("open", "claimed"):
            raise Conflict(
                "work item is already %(state)s", field="work_item_id", params={"state": item.state}
            )
        if item.state == "claimed" and item.assignee_id != ctx.actor.user_id:
            raise Conflict("work item is claimed by someone else", field="work_item_id")
        consignment = ctx.session.get(Consignment, item.consignment_id)
        loaded = ctx.load(consignment)
        if self.expected_revision is not None and self.expected_revision != loaded.row.revision:
            raise StaleRevision(
                "the consignment changed since you loaded it; reload and try again", field="expected_revision"
            )
        task = find_task(loaded.workflow, item.task_id)
        if task is None or task.state != TaskState.READY:
            raise Conflict("this step is no longer open", field="work_item_id")
        forms = ctx.runtime.forms(ctx.session, loaded.row.model_version_id)
        schema = forms.get(item.form_key) if item.form_key else None
        if schema is not None:  # a countersigning step names the signed record it confirms
            data = validate_form(schema, fill_references(ctx.session, consignment.id, schema, self.data))
        else:
            data = dict(self.data or {})

        stored = _store_attachments(ctx, item, self.attachments)
        signature = None
        if item.signature_required:  # declared in the model (camunda:property signature=required)
            signature = sign_decision(ctx, item, consignment, data, stored, self.signing)
        task.data.update(data)
        notify = (task.task_spec.extensions or {}).get("notify")
        task.run()
        ctx.run_engine(loaded)
        item.state, item.completed_at, item.completed_by_id = "completed", ctx.now, ctx.actor.user_id
        if item.due_at is not None:
            session, organization, late = ctx.session, item.organization, ctx.now > item.due_at
            ctx.count_later(
                lambda: statistics.deadline_task_completed(session, consignment, organization, late)
            )
        ctx.timeline(
            consignment,
            "task",
            item.step_id,
            item.step_name,
            started_at=item.created_at,
            detail=_timeline_detail(item, data, stored, signature),
        )
        audit_data = {"step": item.step_id, "data": data}
        if stored:
            audit_data["attachments"] = stored
        ctx.record(consignment, "task_completed", audit_data, task_id=item.task_id, signature=signature)
        if notify == "trader":  # the model asks to tell the trader about this decision
            notifications.notify(
                ctx,
                now=ctx.now,
                kind="decision",
                organization=loaded.trader_code,
                role="trader",
                consignment=consignment,
                step_name=item.step_name,
                step_name_vi=vietnamese_name(task.task_spec),
                email=bool(ctx.executor.settings.smtp_host),
            )
        ctx.save(loaded)
        return item


def _timeline_detail(
    item: WorkItem, data: dict[str, Any], stored: list[dict[str, Any]], signature: EventSignature | None
) -> dict[str, Any]:
    """What the timeline row of a completed task keeps. A signed decision's data and files are kept once,
    in the exact bytes signed (the audit event's payload): the row names the task, and reading the
    timeline (``queries.timeline_json``) takes them from there, so the two can never disagree."""
    if signature is not None:
        return {"signed_task": item.task_id}
    return {"data": data, "attachments": stored} if stored else {"data": data}


def _store_attachments(
    ctx: CommandContext, item: WorkItem, uploads: tuple[Upload, ...]
) -> list[dict[str, Any]]:
    """Store the step's files with their SHA-256; return what the timeline and the audit event cite."""
    stored = []
    for upload in uploads:
        ctx.session.add(
            Attachment(
                consignment_id=item.consignment_id,
                work_item_id=item.id,
                step_id=item.step_id,
                filename=upload.filename,
                content_type=upload.content_type,
                size=len(upload.content),
                sha256=upload.sha256,
                content=upload.content,
                uploaded_by=ctx.actor.username,
                organization=ctx.actor.organization or "",
                uploaded_at=ctx.now,
            )
        )
        stored.append({"filename": upload.filename, "sha256": upload.sha256, "size": len(upload.content)})
    return stored
