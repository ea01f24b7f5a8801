"""What a command needs to run a workflow: deployed specs and forms (cached per version), warm workflow
objects (cached per instance revision), the script engine for a given moment, and helpers to evaluate
``${...}`` templates and resolve ``candidateGroups`` to an organization and role."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy.orm import Session

from app.models import ModelVersion

from .script_engine import PortalScriptEngine
from .serializer import DeployedSpecs, WorkflowCodec
from .working_time import WorkingCalendar


@dataclass(frozen=True)
class Performer:
    """Who may work a task: an organization code and a role."""

    organization: str
    role: str


ROLE_BY_GROUP = {
    "trader": "trader",
    "agency": "agency_officer",
    "customs": "customs_officer",
    "manager": "manager",
    "port": "port_operator",
}
PORT_OPERATOR_CODE = "SNP"


def resolve_performer(group: str, data: dict[str, Any]) -> Performer:
    """Turn ``agency:RAHO6`` / ``customs:02CI:branch_head`` / ``trader`` / ``port`` into a performer."""
    parts = [p.strip() for p in group.split(":")]
    kind = parts[0]
    if kind not in ROLE_BY_GROUP:
        raise ValueError(f"unknown candidate group kind {kind!r}")
    role = parts[2] if len(parts) > 2 and parts[2] else ROLE_BY_GROUP[kind]
    if kind == "trader":
        return Performer(str(data.get("trader_org")), "trader")
    if kind == "port":
        return Performer(parts[1] if len(parts) > 1 and parts[1] else PORT_OPERATOR_CODE, "port_operator")
    if len(parts) < 2 or not parts[1]:
        raise ValueError(f"candidate group {group!r} names no organization")
    return Performer(parts[1], role)


class WorkflowCache:
    """Warm workflow objects keyed by instance; an entry is used only if its revision still matches.

    A command takes its workflow out of the cache and puts it back only after a successful commit, so a
    rolled-back command can never leave a half-changed workflow behind.
    """

    def __init__(self, capacity: int = 2000) -> None:
        self._entries: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity
        self._taken = threading.local()  # per thread: whether its last take found the workflow warm

    def take(self, instance_id: int, revision: int) -> BpmnWorkflow | None:
        with self._lock:
            entry = self._entries.pop(instance_id, None)
        warm = bool(entry and entry[0] == revision)
        self._taken.outcome = "warm" if warm else "restored"
        return entry[1] if warm else None

    def last_outcome(self, forget: bool = False) -> str | None:
        """``warm`` or ``restored``: what this thread's last ``take`` found (None if it took nothing since
        it last asked with ``forget``). For the CPU probe, which times the two cases apart."""
        outcome = getattr(self._taken, "outcome", None)
        if forget:
            self._taken.outcome = None
        return outcome

    def put(self, instance_id: int, revision: int, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._entries[instance_id] = (revision, workflow)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


class Runtime:
    """Process-wide engine state shared by all commands of one portal or worker process."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.codec = WorkflowCodec()
        self.workflows = WorkflowCache()
        self._specs: dict[int, DeployedSpecs] = {}
        self._forms: dict[int, dict[str, Any]] = {}
        self.organization_codes: dict[int, str] = {}
        self._lock = threading.Lock()

    def script_engine(self, now: datetime) -> PortalScriptEngine:
        return PortalScriptEngine(now, self.calendar)

    def specs(self, session: Session, version_id: int) -> DeployedSpecs:
        cached = self._specs.get(version_id)
        if cached is None:
            version = session.get(ModelVersion, version_id)
            if version is None:
                raise LookupError(f"model version {version_id} not found")
            cached = self.codec.load_specs(version.spec_json)
            with self._lock:
                self._specs[version_id] = cached
                self._forms[version_id] = version.forms
        return cached

    def forms(self, session: Session, version_id: int) -> dict[str, Any]:
        if version_id not in self._forms:
            self.specs(session, version_id)
        return self._forms[version_id]

    def remember(self, version_id: int, specs: DeployedSpecs, forms: dict[str, Any]) -> None:
        with self._lock:
            self._specs[version_id] = specs
            self._forms[version_id] = forms


def evaluate_template(engine: PortalScriptEngine, text: str, data: dict[str, Any]) -> Any:
    """Evaluate a Camunda-style value: ``${expr}`` alone yields the value, text with placeholders a string."""
    stripped = text.strip()
    if stripped.startswith("${") and stripped.endswith("}") and stripped.count("${") == 1:
        return engine.environment.evaluate(stripped[2:-1], data)
    if "${" not in text:
        return text
    out, rest = [], text
    while "${" in rest:
        before, _, tail = rest.partition("${")
        expr, _, rest = tail.partition("}")
        out.append(before)
        out.append(str(engine.environment.evaluate(expr, data)))
    out.append(rest)
    return "".join(out)


def find_task(workflow: BpmnWorkflow, task_id: str):
    """Return the task with this id in the workflow or any of its subprocesses, or None."""
    try:
        uid = UUID(str(task_id))
    except ValueError:
        return None
    task = workflow.tasks.get(uid)
    if task is not None:
        return task
    for sub in workflow.subprocesses.values():
        task = sub.tasks.get(uid)
        if task is not None:
            return task
    return None
