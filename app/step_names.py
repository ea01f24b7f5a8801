"""Step names in the reader's language.

Analysts name every flow node twice in the model: ``name`` in English and a Vietnamese
``<camunda:property name="name_vi" value="..."/>`` (the parser puts it in the spec's ``extensions``).
The projections (work items, timeline, statistics, a consignment's current step) keep the English name,
so queries stay as they are; pages, notifications and e-mails show the Vietnamese name, looked up here.

The names of one model version are read once per process from its stored spec (JSON; no workflow is
deserialized) and kept by the version's checksum, which names its content. A page pays one small query:
the checksums of the deployed versions. Newer versions win when two name the same step differently.
The diagram's XML gets the Vietnamese names too, for the viewer."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ModelVersion

NAME_VI = "name_vi"


def vietnamese_name(spec: Any) -> str | None:
    """The Vietnamese name a task spec carries in the model, if any."""
    value = (getattr(spec, "extensions", None) or {}).get(NAME_VI)
    return (value.strip() or None) if isinstance(value, str) else None


@dataclass(frozen=True)
class NamedStep:
    step_id: str
    name: str
    name_vi: str
    message: str | None  # the message a catch event waits for ("Waiting for <message>")


def steps_of_spec_json(spec_json: str) -> list[NamedStep]:
    """Every flow node of a stored spec (``WorkflowCodec.dump_specs``) that has a Vietnamese name."""
    document = json.loads(spec_json)
    steps = []
    for process in [document.get("spec") or {}, *(document.get("subprocess_specs") or {}).values()]:
        for task in (process.get("task_specs") or {}).values():
            name_vi = (task.get("extensions") or {}).get(NAME_VI)
            if not (task.get("bpmn_id") and isinstance(name_vi, str) and name_vi.strip()):
                continue
            definition = task.get("event_definition") or {}
            message = definition.get("name") if "Message" in str(definition.get("typename", "")) else None
            name = task.get("bpmn_name") or task["bpmn_id"]
            steps.append(NamedStep(task["bpmn_id"], name, name_vi.strip(), message))
    return steps


@dataclass(frozen=True)
class StepNames:
    """The Vietnamese names of the deployed versions' steps."""

    by_step: dict[tuple[str, str], str]  # (step id, English name) -> Vietnamese name
    by_name: dict[str, str]  # English name -> Vietnamese name (a current-step text has names only)
    by_message: dict[str, tuple[str, str]]  # message name -> (English, Vietnamese) names of its catch event
    by_id: dict[str, tuple[str, str]]  # step id -> (English, Vietnamese) names, for rows without a name

    def vi(self, step_id: str | None, name: str | None) -> str | None:
        """The Vietnamese name of a step by its id and English name; then by the name, the message it
        waits for (a delivered message is recorded under the message's name), or the id alone."""
        if name is not None:
            found = self.by_step.get((step_id or "", name)) or self.by_name.get(name)
            if found or name in self.by_message:
                return found or self.by_message[name][1]
        return self.by_id.get(step_id or "", ("", None))[1]

    def english(self, step_id: str | None) -> str | None:
        """The English name of a step known by its id (or message name) only."""
        return self.by_id.get(step_id or "", self.by_message.get(step_id or "", (None, "")))[0]

    @classmethod
    def of(cls, versions: list[list[NamedStep]]) -> StepNames:
        by_step: dict[tuple[str, str], str] = {}
        by_name: dict[str, str] = {}
        by_message: dict[str, tuple[str, str]] = {}
        by_id: dict[str, tuple[str, str]] = {}
        for steps in versions:  # oldest first: a newer version's name replaces an older one
            for step in steps:
                by_step[(step.step_id, step.name)] = step.name_vi
                by_name[step.name] = step.name_vi
                by_id[step.step_id] = (step.name, step.name_vi)
                if step.message:
                    by_message[step.message] = (step.name, step.name_vi)
        return cls(by_step, by_name, by_message, by_id)


_by_checksum: dict[str, list[NamedStep]] = {}
_merged: dict[tuple[str, ...], StepNames] = {}
_lock = threading.Lock()


def deployed_step_names(session: Session) -> StepNames:
    """The Vietnamese step names of every version deployed in this database (cached per version)."""
    checksums = tuple(session.scalars(select(ModelVersion.checksum).order_by(ModelVersion.id)))
    merged = _merged.get(checksums)
    if merged is not None:
        return merged
    missing = set(checksums) - set(_by_checksum)
    if missing:
        loaded = {
            checksum: steps_of_spec_json(spec_json)
            for checksum, spec_json in session.execute(
                select(ModelVersion.checksum, ModelVersion.spec_json).where(
                    ModelVersion.checksum.in_(missing)
                )
            )
        }
        with _lock:
            _by_checksum.update(loaded)
    merged = StepNames.of([_by_checksum.get(c, []) for c in checksums])
    with _lock:
        if len(_merged) > 16:  # a few databases per process at most (tests); keep the cache small
            _merged.clear()
        _merged[checksums] = merged
    return merged


_CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_OWN_NAME_VI = (
    f"./{{{_BPMN}}}extensionElements/{{{_CAMUNDA}}}properties/{{{_CAMUNDA}}}property[@name='{NAME_VI}']"
)


@lru_cache(maxsize=8)
def vietnamese_diagram(bpmn_xml: str) -> bytes:
    """The model's XML with each flow node's ``name`` replaced by its ``name_vi``, for a diagram drawn
    in Vietnamese (the viewer shows the names it finds in the XML)."""
    from app.engine.parser import parse_xml_safely

    root = parse_xml_safely(bpmn_xml.encode("utf-8"))
    for prop in root.iterfind(f".//{{{_CAMUNDA}}}property[@name='{NAME_VI}']"):
        element = prop.getparent().getparent().getparent()
        if element.find(_OWN_NAME_VI) is prop and (prop.get("value") or "").strip():
            element.set("name", prop.get("value").strip())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
