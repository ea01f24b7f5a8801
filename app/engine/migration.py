"""Move a running workflow from one deployed version to another with SpiffWorkflow's diff and migrate.

``MigrationPlan`` compares the two versions' specs once (SpiffWorkflow's ``SpecDiff`` for the process and
for each sub-process), then for each running workflow ``check`` says whether it can move and why not,
and ``apply`` moves it (``migrate_workflow`` on the process and each sub-process).

A workflow cannot move when
* a step it is at (ready, waiting or started) was removed from the new version;
* a step it already finished was removed (its history would not load on the new version), or a
  sub-process it ran or runs was removed;
* a running service job or sub-process changed what it runs (type, topic, sub-process);
* a step it is at gained a boundary event (the new timer or message could not start for this step).

Everything else moves. Two things SpiffWorkflow's ``migrate_workflow`` does are undone here, so nothing is
lost: it resets every ready and waiting task, which restarts waiting timers from "now" (a 12-hour SLA
would start again) and replaces a ready task's data with its parent's; and it leaves the predicted
children of started tasks on the old specs, which would not load on the new version.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .serializer import DeployedSpecs

AT_STEP = TaskState.READY | TaskState.WAITING | TaskState.STARTED
FINISHED = TaskState.FINISHED_MASK
# Attributes of a started task (a parked service job, a running sub-process) it cannot change under way.
# Changed inputs do not block: the job was issued with the old ones, the new ones apply next time.
RUNNING_ATTRIBUTES = {"typename", "topic", "spec"}


class MigrationError(Exception):
    """A workflow could not be moved; nothing was changed that will be kept."""


@dataclass(frozen=True)
class Blocker:
    """Why a workflow cannot move: the step concerned and the reason."""

    element_id: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"'{self.name}' ({self.element_id}): {self.reason}"


@dataclass
class MigrationCheck:
    """The verdict on one workflow: the blockers (none when it can move) and notes on what changes."""

    blockers: list[Blocker] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return not self.blockers


@dataclass
class MigrationOutcome:
    """What ``apply`` did: changed steps by task id, and the tasks SpiffWorkflow dropped and re-predicted."""

    changed_steps: dict[str, list[str]] = field(default_factory=dict)
    dropped_tasks: int = 0


def _label(spec) -> tuple[str, str]:
    return spec.bpmn_id or spec.name, spec.bpmn_name or spec.bpmn_id or spec.name


def _state(task) -> str:
    return TaskState.get_name(task.state).lower()


class MigrationPlan:
    """The spec-level comparison of two deployed versions, made once and used for every workflow."""

    def __init__(
        self,
        registry,
        source: DeployedSpecs,
        target: DeployedSpecs,
        source_label: str = "the old version",
        target_label: str = "the new version",
    ) -> None:
        self.source, self.target = source, target
        self.source_label, self.target_label = source_label, target_label
        self.process = SpecDiff(registry, source.spec, target.spec)
        self.subprocesses: dict[str, SpecDiff | None] = {
            name: SpecDiff(registry, spec, target.subprocess_specs[name])
            if name in target.subprocess_specs
            else None
            for name, spec in source.subprocess_specs.items()
        }

    def fits(self, workflow: BpmnWorkflow) -> bool:
        """Tell whether the workflow runs on this plan's source specs (the plan can be used for it)."""
        return workflow.spec is self.source.spec and all(
            sp.spec is self.source.subprocess_specs.get(sp.spec.name) for sp in workflow.subprocesses.values()
        )

    def _parts(self, workflow: BpmnWorkflow) -> Iterator[tuple[Any, SpecDiff | None, WorkflowDiff | None]]:
        """The workflow and each of its sub-workflows, with their spec diff and workflow diff."""
        yield workflow, self.process, WorkflowDiff(workflow, self.process)
        for sub in workflow.subprocesses.values():
            spec_diff = self.subprocesses.get(sub.spec.name)
            yield sub, spec_diff, WorkflowDiff(sub, spec_diff) if spec_diff is not None else None

    # -- check ----------------------------------------------------------------------------------------
    def check(self, workflow: BpmnWorkflow) -> MigrationCheck:
        """Say whether the workflow can move to the target version, and what changes for it."""
        if not self.fits(workflow):
            raise MigrationError("the workflow does not run on this plan's source version")
        verdict = MigrationCheck()
        new = self.target_label
        for part, spec_diff, diff in self._parts(workflow):
            if spec_diff is None:
                element_id, name = _label(
                    workflow.get_task_from_id(_subprocess_task_id(workflow, part)).task_spec
                )
                verdict.blockers.append(Blocker(element_id, name, f"its sub-process was removed in {new}"))
                continue
            for task in diff.removed:
                element_id, name = _label(task.task_spec)
                if task.has_state(AT_STEP):
                    reason = f"the consignment is at this step ({_state(task)}); it was removed in {new}"
                elif task.has_state(FINISHED):
                    reason = (
                        f"already {_state(task)}; the step was removed in {new}, so its history would be lost"
                    )
                else:
                    continue  # a predicted task: migrate_workflow drops and re-predicts it
                verdict.blockers.append(Blocker(element_id, name, reason))
            for task in diff.changed:
                if task.has_state(TaskState.STARTED):
                    changed = RUNNING_ATTRIBUTES & set(spec_diff.changed[task.task_spec])
                    if "input_parameters" in spec_diff.changed[task.task_spec] and not changed:
                        element_id, name = _label(diff.alignment[task])
                        verdict.notes.append(
                            f"'{name}' ({element_id}) runs with the inputs it was given; "
                            f"the inputs of {new} apply from the next time"
                        )
                    if changed:
                        element_id, name = _label(task.task_spec)
                        verdict.blockers.append(
                            Blocker(
                                element_id,
                                name,
                                f"running now and its {', '.join(sorted(changed))} changed in {new}: "
                                "move it once this step is done",
                            )
                        )
                elif task.has_state(TaskState.READY | TaskState.WAITING):
                    note = _note(task, diff.alignment[task], spec_diff.changed[task.task_spec], new)
                    if note:
                        verdict.notes.append(note)
            for task in part.get_tasks(state=AT_STEP, skip_subprocesses=True):
                new_spec = diff.alignment.get(task)
                if new_spec is not None and _gained_boundary(task, new_spec, diff.alignment):
                    element_id, name = _label(new_spec)
                    verdict.blockers.append(
                        Blocker(
                            element_id,
                            name,
                            f"the consignment is at this step and it gained a boundary event in {new}, "
                            "which could not start for it: move it once this step is done",
                        )
                    )
        return verdict

    # -- apply ------------------------------------------------------------------------------------------
    def apply(self, workflow: BpmnWorkflow) -> MigrationOutcome:
        """Move a workflow that ``check`` found movable onto the target version's specs.

        :raises MigrationError: when the workflow cannot move (check it first) or did not move cleanly; the
            workflow object is then unusable and must be discarded.
        """
        verdict = self.check(workflow)
        if not verdict.movable:
            raise MigrationError("; ".join(str(b) for b in verdict.blockers))
        parts = list(self._parts(workflow))
        kept = {
            task.id: (copy.deepcopy(task.data), copy.deepcopy(task.internal_data), task.task_spec)
            for part, _spec_diff, _diff in parts
            for task in part.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)
        }
        outcome = MigrationOutcome()
        for part, spec_diff, diff in parts:
            for task in diff.changed:
                if task.has_state(AT_STEP):
                    outcome.changed_steps[str(task.id)] = _readable(spec_diff.changed[task.task_spec])
            if part is workflow:
                outcome.dropped_tasks += len(migrate_workflow(diff, part, self.target.spec))
            else:
                target = self.target.subprocess_specs[part.spec.name]
                outcome.dropped_tasks += len(migrate_workflow(diff, part, target))
        workflow.subprocess_specs = self.target.subprocess_specs
        for part, _spec_diff, _diff in parts:
            _repredict_after_started(part)
            for task in part.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True):
                if task.id in kept:
                    data, internal, old_spec = kept[task.id]
                    task.data = data
                    if _same_event_kind(old_spec, task.task_spec):
                        task.internal_data = internal  # a waiting timer keeps its due time
        _verify_on_target(workflow)
        return outcome


def _note(task, new_spec, attributes: list[str], new: str) -> str | None:
    """What changes for a step the workflow is at, in words (structure-only changes say nothing)."""
    element_id, name = _label(new_spec)
    shown = [a for a in _readable(attributes) if a not in ("incoming flows", "outgoing flows")]
    if not shown:
        return None
    if "event" in shown and _same_event_kind(task.task_spec, new_spec):
        due = task.internal_data.get("event_value")
        keeps = f"keeps its due time {due}" if isinstance(due, str) else "keeps its state"
        return f"'{name}' ({element_id}): its event changed in {new}; this wait {keeps}"
    return f"'{name}' ({element_id}) is updated: {', '.join(shown)}"


def _subprocess_task_id(workflow: BpmnWorkflow, sub) -> Any:
    return next(task_id for task_id, candidate in workflow.subprocesses.items() if candidate is sub)


def _gained_boundary(task, new_spec, alignment) -> bool:
    """A step now wrapped in a boundary-event split that this task was not started under."""
    splits = [s for s in new_spec.inputs if isinstance(s, BoundaryEventSplit)]
    if not splits or task.parent is None:
        return False
    return alignment.get(task.parent) not in splits


def _same_event_kind(old_spec, new_spec) -> bool:
    old = getattr(old_spec, "event_definition", None)
    new = getattr(new_spec, "event_definition", None)
    return type(old) is type(new)


def _repredict_after_started(part) -> None:
    """Re-predict what follows each started task from the new specs (migrate_workflow leaves it)."""
    for task in part.get_tasks(state=TaskState.STARTED, skip_subprocesses=True):
        task._drop_children()  # only unfinished (future or predicted) children go
        task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)


def _verify_on_target(workflow: BpmnWorkflow) -> None:
    for part in [workflow, *workflow.subprocesses.values()]:
        for task in part.get_tasks(skip_subprocesses=True):
            if part.spec.task_specs.get(task.task_spec.name) is not task.task_spec:
                raise MigrationError(
                    f"task {task.task_spec.name} ({_state(task)}) did not move to the new version"
                )


_READABLE = {
    "bpmn_name": "name",
    "bpmn_id": "id",
    "candidate_groups": "performers",
    "due_date": "due date",
    "form": "form",
    "extensions": "properties",
    "event_definition": "event",
    "inputs": "incoming flows",
    "outputs": "outgoing flows",
    "input_parameters": "inputs",
    "output_parameters": "outputs",
    "typename": "type",
}


def _readable(attributes: list[str]) -> list[str]:
    return [_READABLE.get(a, a) for a in attributes if a != "name"] or ["internal details"]
