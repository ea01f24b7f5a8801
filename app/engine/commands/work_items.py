"""Officers and traders work their user tasks: claim, release, complete with form data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import update

from app.forms.validation import validate_form
from app.models import Consignment, WorkItem

from ..errors import Conflict, Forbidden, NotFound, StaleRevision
from ..executor import Actor, CommandContext
from ..runtime import find_task


def _may_work(actor: Actor, item: WorkItem) -> bool:
    return actor.organization == item.organization and actor.role == item.role


def _load_item(ctx: CommandContext, work_item_id: int) -> WorkItem:
    item = ctx.session.get(WorkItem, work_item_id)
    if item is None or not (_may_work(ctx.actor, item) or ctx.actor.role == "system"):
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
            raise Conflict(f"work item is {item.state}, not open", field="work_item_id")
        ctx.session.refresh(item)
        _record_assignment(ctx, item, "work_item_claimed")
        return item


@dataclass
class ReleaseWorkItem:
    work_item_id: int

    def execute(self, ctx: CommandContext) -> WorkItem:
        item = _load_item(ctx, self.work_item_id)
        if item.state != "claimed":
            raise Conflict(f"work item is {item.state}, not claimed", field="work_item_id")
        if item.assignee_id != ctx.actor.user_id and ctx.actor.role not in ("manager", "branch_head"):
            raise Forbidden("only the assignee or a supervisor can release this work item")
        item.state, item.assignee_id = "open", None
        _record_assignment(ctx, item, "work_item_released")
        return item


@dataclass
class CompleteWorkItem:
    work_item_id: int
    data: Any = field(default_factory=dict)
    expected_revision: int | None = None

    def execute(self, ctx: CommandContext) -> WorkItem:
        item = _load_item(ctx, self.work_item_id)
        if item.state not in ("open", "claimed"):
            raise Conflict(f"work item is already {item.state}", field="work_item_id")
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
        data = (
            validate_form(forms[item.form_key], self.data)
            if item.form_key in forms
            else dict(self.data or {})
        )

        task.data.update(data)
        task.run()
        ctx.run_engine(loaded)
        item.state, item.completed_at, item.completed_by_id = "completed", ctx.now, ctx.actor.user_id
        ctx.timeline(
            consignment,
            "task",
            item.step_id,
            item.step_name,
            started_at=item.created_at,
            detail={"data": data},
        )
        ctx.record(consignment, "task_completed", {"step": item.step_id, "data": data}, task_id=item.task_id)
        ctx.save(loaded)
        return item
