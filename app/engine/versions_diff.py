"""Compare two model versions (or bundles) the way a process analyst reads them.

``snapshot_of_version`` / ``snapshot_of_bundle`` reduce a deployed version or a bundle to what people
see: BPMN elements with their name, type, performers, form, timers, conditions, properties and service
topic; forms field by field; decision tables rule by rule. ``diff_snapshots`` compares two snapshots and
``render_text`` prints the result. Nothing here touches the database.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)

from .bundle import Bundle, compile_bundle
from .parser import PortalParser, parse_xml_safely
from .serializer import DeployedSpecs, WorkflowCodec
from .specs import ExternalServiceTask, PortalUserTask

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_SIGN = {ADDED: "+", REMOVED: "-", CHANGED: "~"}
_TYPE_NAMES = {
    "PortalUserTask": "user task",
    "ExternalServiceTask": "service task",
    "CallActivity": "sub-process",
    "SubWorkflowTask": "sub-process",
    "TransactionSubprocess": "transaction",
}


# -- what the diff reports ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One attribute whose value differs between the two versions."""

    attribute: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ElementDiff:
    """A BPMN element added, removed or changed (named as in the newer version when it still exists)."""

    element_id: str
    status: str
    type: str
    name: str | None
    process: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class FieldDiff:
    field: str
    status: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class FormDiff:
    form: str
    status: str
    fields: tuple[FieldDiff, ...] = ()
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class RuleView:
    """One rule of a decision table: its input cells by column, its output cells by output."""

    row: int
    inputs: dict[str, str]
    outputs: dict[str, str]
    description: str = ""


@dataclass(frozen=True)
class RuleDiff:
    rule_id: str
    status: str
    old: RuleView | None
    new: RuleView | None
    changed_cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecisionDiff:
    decision_id: str
    status: str
    name: str
    changes: tuple[Change, ...] = ()
    rules: tuple[RuleDiff, ...] = ()


@dataclass(frozen=True)
class VersionDiff:
    """Everything that differs from ``old`` to ``new``."""

    old: str
    new: str
    elements: tuple[ElementDiff, ...] = ()
    forms: tuple[FormDiff, ...] = ()
    decisions: tuple[DecisionDiff, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.elements or self.forms or self.decisions)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- what is compared ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ElementView:
    type: str
    name: str | None
    process: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class DecisionView:
    name: str
    columns: dict[str, str]
    rules: dict[str, RuleView]


@dataclass
class ModelSnapshot:
    """A version or bundle reduced to what an analyst compares."""

    label: str
    elements: dict[str, ElementView] = field(default_factory=dict)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[str, DecisionView] = field(default_factory=dict)


def snapshot_of_version(label: str, spec_json: str, forms: Mapping[str, Any], files: Mapping[str, str]):
    """Snapshot a deployed version from what it stored: its spec, its forms and its DMN files."""
    specs = WorkflowCodec().load_specs(spec_json)
    dmn = {name: text.encode("utf-8") for name, text in files.items() if name.endswith(".dmn")}
    return snapshot_of_specs(label, specs, forms, dmn)


def snapshot_of_bundle(label: str, bundle: Bundle) -> ModelSnapshot:
    """Snapshot a bundle (it must compile: :raises BundleInvalid: otherwise)."""
    compiled = compile_bundle(bundle)
    dmn = {name: bundle.files[name] for name in bundle.dmn_files()}
    return snapshot_of_specs(label, compiled.specs, compiled.forms, dmn)


def snapshot_of_specs(
    label: str, specs: DeployedSpecs, forms: Mapping[str, Any], dmn_files: Mapping[str, bytes]
) -> ModelSnapshot:
    snapshot = ModelSnapshot(label, forms=dict(forms))
    for process in [specs.spec, *specs.subprocess_specs.values()]:
        for spec in process.task_specs.values():
            if spec.bpmn_id:
                snapshot.elements.setdefault(
                    spec.bpmn_id,
                    ElementView(_type_name(spec), spec.bpmn_name, process.name, _attributes(process, spec)),
                )
    for name, data in sorted(dmn_files.items()):
        snapshot.decisions.update(_decisions(name, data))
    return snapshot


def _type_name(spec) -> str:
    name = type(spec).__name__
    return _TYPE_NAMES.get(name) or re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def _visible(process, name: str) -> str | None:
    """The BPMN element a task spec name stands for (boundary splits stand for their activity)."""
    spec = process.task_specs.get(name)
    if spec is not None and spec.bpmn_id:
        return spec.bpmn_id
    if name.endswith(".BoundaryEventSplit"):
        return name.removesuffix(".BoundaryEventSplit")
    return None


def _attributes(process, spec) -> dict[str, str]:
    """The attributes of one element an analyst changes, as readable text."""
    attrs: dict[str, str] = {"lane": spec.lane or "", "documentation": spec.documentation or ""}
    nexts = sorted({v for o in spec.outputs if (v := _visible(process, o.name)) is not None})
    attrs["next"] = ", ".join(nexts)
    if isinstance(spec, PortalUserTask):
        attrs["performers"] = spec.candidate_groups or (f"lane {spec.lane}" if spec.lane else "")
        attrs["form"] = _form_text(spec.form)
        attrs["due date"] = spec.due_date or ""
    if isinstance(spec, ExternalServiceTask):
        attrs["service topic"] = spec.topic or ""
        attrs.update({f"input {n}": e for n, e in spec.input_parameters})
        attrs.update({f"output {n}": e for n, e in spec.output_parameters})
    properties = {k: v for k, v in (spec.extensions or {}).items() if isinstance(v, str)}
    name_vi = properties.pop("name_vi", None)  # the step's Vietnamese name is a name, not a setting
    if name_vi is not None:
        attrs["Vietnamese name"] = name_vi
    if properties:
        attrs["properties"] = ", ".join(f"{k}={v}" for k, v in sorted(properties.items()))
    definition = getattr(spec, "event_definition", None)
    if definition is not None:
        key, text = _event_text(definition)
        attrs[key] = text
    if type(spec).__name__ == "BoundaryEvent":
        attrs["attached to"] = ", ".join(v for i in spec.inputs if (v := _visible(process, i.name)))
        attrs["interrupting"] = "yes" if spec.cancel_activity else "no"
    conditions = getattr(spec, "cond_task_specs", None)
    if conditions is not None:
        attrs["conditions"] = "; ".join(
            f"to {_visible(process, target) or target}: {condition.args[0]}"
            for condition, target in conditions
            if condition is not None
        )
        default = getattr(spec, "default_task_spec", None)
        attrs["default flow"] = (_visible(process, default) or default) if default else ""
    engine = getattr(spec, "dmnEngine", None)
    if engine is not None:
        attrs["decision"] = engine.decision_table.id
    if isinstance(getattr(spec, "script", None), str):
        attrs["script"] = spec.script
    if isinstance(getattr(spec, "spec", None), str):
        attrs["sub-process"] = spec.spec
    return {k: v for k, v in attrs.items() if v != "" or k in ("performers", "form")}


def _form_text(form) -> str:
    if form is None:
        return ""
    if form.key:
        return form.key
    return "inline: " + ", ".join(f.id for f in form.fields)


def _event_text(definition) -> tuple[str, str]:
    expression = getattr(definition, "expression", None)
    if isinstance(definition, DurationTimerEventDefinition):
        return "timer", f"duration {expression}"
    if isinstance(definition, TimeDateEventDefinition):
        return "timer", f"date {expression}"
    if isinstance(definition, CycleTimerEventDefinition):
        return "timer", f"cycle {expression}"
    kind = type(definition).__name__.removesuffix("EventDefinition")
    if kind == "None":
        return "event", ""
    if kind.startswith("Message") or kind.startswith("Camunda"):
        return "message", str(getattr(definition, "name", "") or "")
    detail = getattr(definition, "name", None) or getattr(definition, "code", None) or ""
    return "event", f"{kind} {detail}".strip()


def _decisions(file: str, data: bytes) -> dict[str, DecisionView]:
    parser = PortalParser(validate_schema=False)
    try:
        parser.add_dmn_xml(parse_xml_safely(data, file), filename=file)
    except Exception:  # an unreadable table has nothing to compare; compile_bundle reports it
        return {}
    found: dict[str, DecisionView] = {}
    for decision_id, dmn_parser in parser.dmn_parsers.items():
        table = _first_table(dmn_parser)
        if table is None:
            continue
        inputs = [c.label or c.expression or c.id for c in table.inputs]
        outputs = [c.name or c.label or c.id for c in table.outputs]
        columns = {
            f"input {label}": c.expression or "" for label, c in zip(inputs, table.inputs, strict=True)
        }
        columns.update(
            {f"output {label}": c.typeRef or "" for label, c in zip(outputs, table.outputs, strict=True)}
        )
        columns["hit policy"] = str(getattr(table.hit_policy, "value", table.hit_policy) or "")
        rules: dict[str, RuleView] = {}
        for position, rule in enumerate(table.rules, start=1):
            key = rule.id if rule.id and rule.id not in rules else f"row {position}"
            rules[key] = RuleView(
                position,
                {
                    label: ", ".join(c for c in entry.lhs if c) or "-"
                    for label, entry in zip(inputs, rule.inputEntries, strict=False)
                },
                {label: entry.text or "" for label, entry in zip(outputs, rule.outputEntries, strict=False)},
                (rule.description or "").strip(),
            )
        found[decision_id] = DecisionView(dmn_parser.decision.name or decision_id, columns, rules)
    return found


def _first_table(dmn_parser):
    try:
        dmn_parser.parse()
        return dmn_parser.decision.decisionTables[0]
    except Exception:  # a table SpiffWorkflow cannot read has nothing to compare
        return None


# -- comparing ---------------------------------------------------------------------------------------------
def diff_snapshots(old: ModelSnapshot, new: ModelSnapshot) -> VersionDiff:
    """Compare two snapshots: elements by id, forms by key and field, decision rules by rule id."""
    return VersionDiff(
        old.label,
        new.label,
        tuple(_diff_elements(old.elements, new.elements)),
        tuple(_diff_forms(old.forms, new.forms)),
        tuple(_diff_decisions(old.decisions, new.decisions)),
    )


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Change, ...]:
    keys = sorted(set(old) | set(new))
    return tuple(Change(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k))


def _diff_elements(old: dict[str, ElementView], new: dict[str, ElementView]) -> list[ElementDiff]:
    out = []
    for element_id in sorted(set(old) | set(new)):
        before, after = old.get(element_id), new.get(element_id)
        if before is None:
            changes = _changes({}, after.attributes)
            out.append(ElementDiff(element_id, ADDED, after.type, after.name, after.process, changes))
        elif after is None:
            out.append(ElementDiff(element_id, REMOVED, before.type, before.name, before.process))
        else:
            changes = _changes(
                {"name": before.name, "type": before.type, **before.attributes},
                {"name": after.name, "type": after.type, **after.attributes},
            )
            if changes:
                out.append(ElementDiff(element_id, CHANGED, after.type, after.name, after.process, changes))
    return out


def _fields(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    required = set(schema.get("required") or [])
    properties = schema.get("properties") or {}
    return {
        name: {**(spec if isinstance(spec, dict) else {"schema": spec}), "required": name in required}
        for name, spec in properties.items()
    }


def _diff_forms(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FormDiff]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            fields = tuple(FieldDiff(f, ADDED) for f in _fields(new[key]))
            out.append(FormDiff(key, ADDED, fields))
            continue
        if key not in new:
            out.append(FormDiff(key, REMOVED))
            continue
        before, after = _fields(old[key]), _fields(new[key])
        fields = []
        for name in sorted(set(before) | set(after), key=_field_order(new[key], old[key])):
            if name not in before:
                fields.append(FieldDiff(name, ADDED, _changes({}, after[name])))
            elif name not in after:
                fields.append(FieldDiff(name, REMOVED))
            elif changes := _changes(before[name], after[name]):
                fields.append(FieldDiff(name, CHANGED, changes))
        form_level = _changes(
            {k: v for k, v in old[key].items() if k not in ("properties", "required")},
            {k: v for k, v in new[key].items() if k not in ("properties", "required")},
        )
        if fields or form_level:
            out.append(FormDiff(key, CHANGED, tuple(fields), form_level))
    return out


def _field_order(*schemas: Mapping[str, Any]):
    order: list[str] = []
    for schema in schemas:
        order += [n for n in (schema.get("properties") or {}) if n not in order]
    return lambda name: order.index(name) if name in order else len(order)


def _diff_decisions(old: dict[str, DecisionView], new: dict[str, DecisionView]) -> list[DecisionDiff]:
    out = []
    for decision_id in sorted(set(old) | set(new)):
        before, after = old.get(decision_id), new.get(decision_id)
        if before is None:
            rules = tuple(RuleDiff(r, ADDED, None, v) for r, v in after.rules.items())
            out.append(DecisionDiff(decision_id, ADDED, after.name, rules=rules))
            continue
        if after is None:
            out.append(DecisionDiff(decision_id, REMOVED, before.name))
            continue
        rules = []
        for rule_id in sorted(set(before.rules) | set(after.rules), key=_rule_order(before, after)):
            old_rule, new_rule = before.rules.get(rule_id), after.rules.get(rule_id)
            if old_rule is None:
                rules.append(RuleDiff(rule_id, ADDED, None, new_rule))
            elif new_rule is None:
                rules.append(RuleDiff(rule_id, REMOVED, old_rule, None))
            else:
                cells = [
                    *(c.attribute for c in _changes(old_rule.inputs, new_rule.inputs)),
                    *(c.attribute for c in _changes(old_rule.outputs, new_rule.outputs)),
                ]
                if old_rule.description != new_rule.description:
                    cells.append("description")
                if cells or old_rule.row != new_rule.row:
                    rules.append(RuleDiff(rule_id, CHANGED, old_rule, new_rule, tuple(cells)))
        changes = _changes({"name": before.name, **before.columns}, {"name": after.name, **after.columns})
        if rules or changes:
            out.append(DecisionDiff(decision_id, CHANGED, after.name, changes, tuple(rules)))
    return out


def _rule_order(before: DecisionView, after: DecisionView):
    def key(rule_id: str) -> tuple[int, int]:
        rule = after.rules.get(rule_id) or before.rules[rule_id]
        return (rule.row, 0 if rule_id in after.rules else 1)

    return key


# -- printing ----------------------------------------------------------------------------------------------
def render_text(diff: VersionDiff) -> str:
    """The diff as lines a person reads in a terminal: + added, - removed, ~ changed."""
    lines = [f"{diff.old} -> {diff.new}"]
    if diff.empty:
        return "\n".join([*lines, "  no differences"])
    if diff.elements:
        lines.append(f"Elements: {_counts(diff.elements)}")
        for element in diff.elements:
            where = "" if element.process == _main_process(diff) else f"  [in {element.process}]"
            lines.append(
                f"  {_SIGN[element.status]} {element.type} {element.element_id}{_quoted(element.name)}{where}"
            )
            if element.status == ADDED:
                shown = [c for c in element.changes if c.attribute not in ("documentation", "lane")]
                lines += [f"      {c.attribute}: {_short(c.new)}" for c in shown]
            else:
                lines += [f"      {_change_text(c)}" for c in element.changes]
    if diff.forms:
        lines.append(f"Forms: {_counts(diff.forms)}")
        for form in diff.forms:
            lines.append(f"  {_SIGN[form.status]} form {form.form}")
            for item in form.fields:
                lines.append(f"      {_SIGN[item.status]} field {item.field}{_field_summary(item)}")
                if item.status == CHANGED:
                    lines += [f"          {_change_text(c)}" for c in item.changes]
            lines += [f"      {_change_text(c)}" for c in form.changes]
    if diff.decisions:
        lines.append(f"Decision rules: {_counts(diff.decisions)}")
        for decision in diff.decisions:
            lines.append(
                f"  {_SIGN[decision.status]} decision {decision.decision_id}{_quoted(decision.name)}"
            )
            lines += [f"      {_change_text(c)}" for c in decision.changes]
            for rule in decision.rules:
                lines += _rule_lines(rule)
    return "\n".join(lines)


def _main_process(diff: VersionDiff) -> str:
    processes = [e.process for e in diff.elements]
    return max(set(processes), key=processes.count) if processes else ""


def _counts(items) -> str:
    counts = {s: sum(1 for i in items if i.status == s) for s in (ADDED, REMOVED, CHANGED)}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def _quoted(name: str | None) -> str:
    return f' "{name}"' if name else ""


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _change_text(change: Change) -> str:
    if change.old is None or change.old == "":
        return f"{change.attribute}: (none) -> {_short(change.new)}"
    if change.new is None or change.new == "":
        return f"{change.attribute}: {_short(change.old)} -> (none)"
    return f"{change.attribute}: {_short(change.old)} -> {_short(change.new)}"


def _field_summary(item: FieldDiff) -> str:
    if item.status != ADDED:
        return ""
    values = {c.attribute: c.new for c in item.changes}
    kind = values.get("type") or "value"
    return f" ({kind}, {'required' if values.get('required') else 'optional'})"


def _rule_text(rule: RuleView) -> str:
    when = ", ".join(f"{k} {v}" for k, v in rule.inputs.items() if v != "-") or "always"
    then = ", ".join(f"{k} = {v}" for k, v in rule.outputs.items())
    return _short(f"when {when} then {then}", 160)


def _rule_lines(rule: RuleDiff) -> list[str]:
    view = rule.new or rule.old
    head = f"      {_SIGN[rule.status]} rule {rule.rule_id} (row {view.row})"
    if rule.status != CHANGED:
        return [f"{head}: {_rule_text(view)}"]
    lines = [f"{head}: {', '.join(rule.changed_cells) or 'moved'}"]
    lines.append(f"          was: {_rule_text(rule.old)}")
    lines.append(f"          now: {_rule_text(rule.new)}")
    return lines
