"""Move one running consignment to another deployed model version, in one revision-checked transaction.

The move re-checks the consignment (it may have moved on since the preview), migrates its workflow
(``app.engine.migration``), runs the engine until it waits, updates the open work items whose step
changed, re-derives every other projection (work items, jobs, the next timer, status) through
``CommandContext.save``, adds a timeline row and records a ``consignment_migrated`` audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Consignment, Job, ModelVersion, WorkItem

from .. import projections
from ..errors import Conflict, EngineFailure, Forbidden, NotFound
from ..executor import CommandContext
from ..migration import MigrationError, MigrationPlan
from ..runtime import Runtime, find_task

MIGRATING_ROLES = ("analyst", "admin", "system")


class NotMovable(Conflict):
    """The consignment cannot move to the target version; ``reasons`` says why."""

    code = "not_movable"

    def __init__(self, declaration_no: str, reasons: list[str]) -> None:
        super().__init__(
            f"consignment {declaration_no} cannot move: " + "; ".join(reasons), field="consignment"
        )
        self.reasons = reasons


@dataclass(frozen=True)
class MigrationResult:
    consignment_id: int
    declaration_no: str
    from_version: int
    to_version: int
    changed_steps: dict[str, list[str]]
    work_items_updated: dict[int, list[str]]


def model_version(session: Session, number: int) -> ModelVersion:
    """The deployed version with this number.

    :raises NotFound: naming the versions that exist.
    """
    version = session.scalar(select(ModelVersion).where(ModelVersion.version == number))
    if version is None:
        known = ", ".join(
            str(n) for n in session.scalars(select(ModelVersion.version).order_by(ModelVersion.version))
        )
        raise NotFound(f"no model version {number} (deployed: {known or 'none'})", field="version")
    return version


def build_plan(
    runtime: Runtime, session: Session, source: ModelVersion, target: ModelVersion
) -> MigrationPlan:
    """Compare two deployed versions with the specs the runtime already holds for them."""
    return MigrationPlan(
        runtime.codec.spec_registry,
        runtime.specs(session, source.id),
        runtime.specs(session, target.id),
        f"version {source.version}",
        f"version {target.version}",
    )


@dataclass
class MigrateConsignment:
    """Move one consignment from version ``from_version`` to ``to_version`` (version numbers)."""

    retry_on_conflict = True  # every attempt re-checks the consignment from scratch

    consignment_id: int
    from_version: int
    to_version: int
    expected_revision: int | None = None
    plan: MigrationPlan | None = field(default=None, repr=False, compare=False)

    def execute(self, ctx: CommandContext) -> MigrationResult:
        if ctx.actor.role not in MIGRATING_ROLES:
            raise Forbidden("only a process analyst or an administrator moves consignments between versions")
        session = ctx.session
        consignment = session.get(Consignment, self.consignment_id)
        if consignment is None:
            raise NotFound("no such consignment", field="consignment")
        if consignment.finished_at is not None:
            raise Conflict(f"the consignment is already {consignment.status}", field="consignment")
        source, target = model_version(session, self.from_version), model_version(session, self.to_version)
        loaded = ctx.load(consignment)
        if loaded.row.model_version_id != source.id:
            current = session.get(ModelVersion, loaded.row.model_version_id)
            raise Conflict(
                f"consignment {consignment.declaration_no} runs on version "
                f"{current.version if current else '?'}, not {source.version}",
                field="consignment",
            )
        if self.expected_revision is not None and self.expected_revision != loaded.row.revision:
            raise Conflict(
                "the consignment changed since the preview; preview again", field="expected_revision"
            )
        plan = self.plan
        if (
            plan is None
            or not plan.fits(loaded.workflow)
            or plan.target is not ctx.runtime.specs(session, target.id)
        ):
            plan = build_plan(ctx.runtime, session, source, target)
        verdict = plan.check(loaded.workflow)
        if not verdict.movable:
            raise NotMovable(consignment.declaration_no, [str(b) for b in verdict.blockers])
        try:
            outcome = plan.apply(loaded.workflow)
        except Exception as exc:  # MigrationError, or SpiffWorkflow failing on the new specs: nothing is kept
            reason = str(exc) if isinstance(exc, MigrationError) else f"{type(exc).__name__}: {exc}"
            raise EngineFailure(f"consignment {consignment.declaration_no} could not move: {reason}") from exc
        ctx.run_engine(loaded)
        updated = self._refresh_steps(ctx, loaded, outcome.changed_steps)
        loaded.row.model_version_id = target.id
        detail: dict[str, Any] = {"from_version": source.version, "to_version": target.version}
        ctx.timeline(
            consignment,
            "migration",
            "model_version",
            f"Moved to model version {target.version}",
            detail=detail,
        )
        ctx.record(
            consignment,
            "consignment_migrated",
            {**detail, "changed_steps": outcome.changed_steps, "work_items_updated": updated},
        )
        ctx.save(loaded, activity=False)
        return MigrationResult(
            consignment.id,
            consignment.declaration_no,
            source.version,
            target.version,
            outcome.changed_steps,
            updated,
        )

    @staticmethod
    def _refresh_steps(
        ctx: CommandContext, loaded, changed_steps: dict[str, list[str]]
    ) -> dict[int, list[str]]:
        """Update the open work items and pending jobs whose step changed in the new version."""
        updated: dict[int, list[str]] = {}
        if not changed_steps:
            return updated
        items = ctx.session.scalars(
            select(WorkItem).where(
                WorkItem.instance_id == loaded.row.id,
                WorkItem.state.in_(("open", "claimed")),
                WorkItem.task_id.in_(list(changed_steps)),
            )
        )
        for item in items:
            task = find_task(loaded.workflow, item.task_id)
            if task is None or not hasattr(task.task_spec, "candidate_groups"):
                continue  # no longer a ready user task: the projection closes it on save
            due_changed = "due date" in changed_steps[item.task_id]
            changed = projections.refresh_work_item(ctx, loaded, item, task, due_changed)
            if changed:
                updated[item.id] = changed
        jobs = ctx.session.scalars(
            select(Job).where(Job.instance_id == loaded.row.id, Job.task_id.in_(list(changed_steps)))
        )
        for job in jobs:
            task = find_task(loaded.workflow, job.task_id)
            if task is not None and job.state in ("pending", "locked", "incident"):
                job.step_id = task.task_spec.bpmn_id
        return updated
