"""The portal's own checks of a parsed bundle, beyond what SpiffWorkflow's parser checks.

``lint`` looks at the parsed specs: every user task has a performer the portal can resolve and a form;
a countersigning form names a signed user task; every service topic has a connector; every message caught
is a callback the portal knows; every timer, condition, mapping, due date and decision-table cell compiles
in the sandbox, and timer literals parse.
``lint_xml`` looks at the XML where the parser is silent or forgiving: boundary events attached to
nothing, exclusive gateways that can run out of flows, and the process the portal runs missing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

from app.forms.context import FORMATS, context_entries
from app.signing.countersign import countersigned_steps

from . import sandbox
from .problems import Problem
from .runtime import ROLE_BY_GROUP
from .specs import ExternalServiceTask, PortalUserTask, parse_cycle

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# An ISO 8601 duration, cycle or date written bare: Python reads ``PT2H`` as a variable name.
BARE_ISO = re.compile(r"^(R\d*/\S+|P(\d|T\d)\S*|\d{4}-\d{2}-\d{2}([T ]\S*)?)$", re.IGNORECASE)
ACTIVITIES = {
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "manualTask",
    "callActivity",
    "subProcess",
    "transaction",
}


def lint(
    spec,
    subprocess_specs,
    forms,
    known_topics: Collection[str] | None = None,
    dmn_file_of: Mapping[str, str] | None = None,
    known_messages: Collection[str] | None = None,
    broken_forms: Collection[str] = (),
) -> list[Problem]:
    """Check what matters to this portal beyond what SpiffWorkflow's parser checks (``broken_forms``:
    form keys whose file exists but could not be loaded)."""
    problems: list[Problem] = []
    signed = {
        task_spec.bpmn_id
        for process in [spec, *subprocess_specs.values()]
        for task_spec in process.task_specs.values()
        if isinstance(task_spec, PortalUserTask)
        and (task_spec.extensions or {}).get("signature") == "required"
    }
    decided = {
        task_spec.bpmn_id: [o.name for o in task_spec.dmnEngine.decision_table.outputs]
        for process in [spec, *subprocess_specs.values()]
        for task_spec in process.task_specs.values()
        if getattr(task_spec, "dmnEngine", None) is not None
    }
    for process in [spec, *subprocess_specs.values()]:
        file = Path(getattr(process, "file", "") or "").name or "<bpmn>"
        for task_spec in process.task_specs.values():
            if isinstance(task_spec, PortalUserTask):
                _check_user_task(task_spec, forms, broken_forms, file, problems)
                _check_countersigned(task_spec, forms, signed, file, problems)
                _check_context(task_spec, forms, decided, file, problems)
            if isinstance(task_spec, ExternalServiceTask):
                _check_service_task(task_spec, known_topics, file, problems)
            script = getattr(task_spec, "script", None)
            if isinstance(script, str):
                try:
                    sandbox.compile_checked(script, "exec")
                except sandbox.SandboxViolation as exc:
                    problems.append(Problem(file, f"script: {exc}", None, task_spec.bpmn_id))
            engine = getattr(task_spec, "dmnEngine", None)
            if engine is not None:
                table_file = (dmn_file_of or {}).get(engine.decision_table.id) or file
                check_decision_table(engine.decision_table, table_file, task_spec.bpmn_id, problems)
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, TimerEventDefinition):
                _check_timer(definition, file, task_spec.bpmn_id, problems)
            elif getattr(definition, "expression", None):
                check_expression(definition.expression, file, task_spec.bpmn_id, problems)
            if known_messages is not None and isinstance(task_spec, CatchingEvent):
                _check_message(definition, known_messages, file, task_spec.bpmn_id, problems)
            for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
                text = (
                    condition.args[0] if condition is not None and getattr(condition, "args", None) else None
                )
                if text:
                    check_expression(text, file, task_spec.bpmn_id, problems)
    return problems


def _check_user_task(task_spec, forms, broken_forms, file: str, problems: list[Problem]) -> None:
    _check_performer(task_spec, file, problems)
    key = task_spec.form.key if task_spec.form else None
    if not key and not (task_spec.form and task_spec.form.fields):
        problems.append(Problem(file, "user task has no form (camunda:formKey)", None, task_spec.bpmn_id))
    elif key in broken_forms:
        problems.append(
            Problem(
                file, f"form '{key}' cannot be used: forms/{key}.json has errors", None, task_spec.bpmn_id
            )
        )
    elif key and key not in forms:
        problems.append(Problem(file, f"form '{key}' not found in forms/", None, task_spec.bpmn_id))
    for expr in placeholders(task_spec.candidate_groups or "") + placeholders(task_spec.due_date or ""):
        check_expression(expr, file, task_spec.bpmn_id, problems)


def _check_countersigned(
    task_spec, forms, signed: Collection[str], file: str, problems: list[Problem]
) -> None:
    """A form field ``x-countersigns: <step>`` confirms that step's signed record: it must be signed."""
    key = task_spec.form.key if task_spec.form else None
    schema = forms.get(key) if key and isinstance(forms.get(key), dict) else None
    for name, step in countersigned_steps(schema or {}).items():
        if step not in signed:
            problems.append(
                Problem(
                    file,
                    f"form '{key}' field '{name}' countersigns '{step}', which is not a signed user task "
                    "(camunda:property signature=required)",
                    None,
                    task_spec.bpmn_id,
                )
            )


def _check_context(
    task_spec, forms, decided: Mapping[str, list[str]], file: str, problems: list[Problem]
) -> None:
    """A form's ``x-context`` shows outputs of business rule tasks: each must name such a task of the
    model and an output of its decision table, with a format the portal knows."""
    key = task_spec.form.key if task_spec.form else None
    schema = forms.get(key) if key and isinstance(forms.get(key), dict) else None
    items = (schema or {}).get("x-context")
    if items is not None and (not isinstance(items, list) or len(items) != len(context_entries(schema))):
        message = f'form \'{key}\' x-context must be a list of {{"decision": <task>, "output": <name>}}'
        problems.append(Problem(file, message, None, task_spec.bpmn_id))
    for entry in context_entries(schema or {}):
        where = f"form '{key}' x-context '{entry.decision}.{entry.output}'"
        if entry.decision not in decided:
            reason = f"'{entry.decision}' is not a business rule task of the model"
        elif entry.output not in decided[entry.decision]:
            outputs = ", ".join(decided[entry.decision]) or "none"
            reason = f"'{entry.output}' is not an output of its decision table (outputs: {outputs})"
        elif entry.format not in FORMATS:
            reason = f"format '{entry.format}' is not one of {', '.join(FORMATS)}"
        else:
            continue
        problems.append(Problem(file, f"{where}: {reason}", None, task_spec.bpmn_id))


def _check_performer(task_spec, file: str, problems: list[Problem]) -> None:
    """The performer must be a candidate group ``runtime.resolve_performer`` understands."""
    group, source = task_spec.candidate_groups, "candidateGroups"
    if not group and task_spec.lane:
        group, source = task_spec.lane, "lane"
    if not group:
        problems.append(
            Problem(file, "user task has no performer (candidateGroups or lane)", None, task_spec.bpmn_id)
        )
        return
    parts = [p.strip() for p in group.split(":")]
    kind = parts[0]
    if "${" in kind:
        return  # the whole group is computed at run time
    if kind not in ROLE_BY_GROUP:
        hint = "add camunda:candidateGroups, " if source == "lane" else ""
        problems.append(
            Problem(
                file,
                f"{source} '{group}' is not a performer: {hint}a group starts with one of "
                f"{', '.join(sorted(ROLE_BY_GROUP))}",
                None,
                task_spec.bpmn_id,
            )
        )
    elif kind not in ("trader", "port") and (len(parts) < 2 or not parts[1]):
        problems.append(
            Problem(
                file,
                f"{source} '{group}' names no organization (e.g. '{kind}:${{customs_branch}}')",
                None,
                task_spec.bpmn_id,
            )
        )


def _check_service_task(task_spec, known_topics, file: str, problems: list[Problem]) -> None:
    if not task_spec.topic:
        problems.append(Problem(file, "service task has no camunda:topic", None, task_spec.bpmn_id))
    elif known_topics is not None and task_spec.topic not in known_topics:
        problems.append(Problem(file, f"no connector for topic '{task_spec.topic}'", None, task_spec.bpmn_id))
    for _name, expr in task_spec.input_parameters + task_spec.output_parameters:
        for inner in placeholders(expr):
            check_expression(inner, file, task_spec.bpmn_id, problems)


def _check_message(definition, known_messages, file: str, element_id: str, problems: list[Problem]) -> None:
    if "Message" not in type(definition).__name__:
        return
    name = getattr(definition, "name", None)
    if name not in known_messages:
        known = ", ".join(sorted(known_messages)) or "none"
        problems.append(
            Problem(
                file,
                f"message '{name}' is not a callback the portal receives (known: {known})",
                None,
                element_id,
            )
        )


def _check_timer(definition, file: str, element_id: str, problems: list[Problem]) -> None:
    expression = (definition.expression or "").strip()
    if not expression:
        problems.append(Problem(file, "timer has no expression", None, element_id))
        return
    if BARE_ISO.match(expression):
        problems.append(
            Problem(
                file,
                f"timer {expression!r} is read as Python, not as a date or duration: "
                f'quote it ("{expression}")',
                None,
                element_id,
            )
        )
        return
    if not check_expression(expression, file, element_id, problems):
        return
    literal = _string_literal(expression)
    if literal is None:
        return
    try:
        if isinstance(definition, DurationTimerEventDefinition):
            if not TimerEventDefinition.parse_iso_duration(literal):
                raise ValueError("empty")
        elif isinstance(definition, TimeDateEventDefinition):
            TimerEventDefinition.get_datetime(literal)
        elif isinstance(definition, CycleTimerEventDefinition):
            parse_cycle(literal, datetime.now(UTC))
    except Exception:  # SpiffWorkflow raises bare Exception, ValueError or IndexError here
        kind = {
            DurationTimerEventDefinition: 'an ISO 8601 duration such as "PT2H"',
            TimeDateEventDefinition: 'an ISO 8601 date-time such as "2026-12-07T10:00:00+07:00"',
            CycleTimerEventDefinition: 'an ISO 8601 cycle such as "R3/PT1H"',
        }
        wanted = next((v for k, v in kind.items() if isinstance(definition, k)), "a timer value")
        problems.append(Problem(file, f"timer {expression} is not {wanted}", None, element_id))


def _string_literal(expression: str) -> str | None:
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return None
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def check_decision_table(table, file: str, element_id: str, problems: list[Problem]) -> None:
    """Check every input column, input cell and output cell of a DMN table compiles in the sandbox."""
    for rule in table.rules:
        for entry in rule.inputEntries:
            for lhs in entry.lhs:
                if lhs and lhs.strip() and lhs.strip() != "-":
                    text = lhs.replace("?", "dmninputexpr")
                    try:
                        sandbox.compile_checked(text, "eval")
                    except sandbox.SandboxViolation:
                        check_expression(
                            f"dmninputexpr {text}", file, f"{element_id} rule {rule.row_number}", problems
                        )
        for entry in rule.outputEntries:
            if entry.text and entry.text.strip():
                check_expression(entry.text, file, f"{element_id} rule {rule.row_number}", problems)
    for column in table.inputs:
        if column.expression:
            check_expression(column.expression, file, element_id, problems)


def check_expression(expr: str, file: str, element_id: str, problems: list[Problem]) -> bool:
    """Report ``expr`` unless it compiles in the sandbox; tell whether it did."""
    try:
        sandbox.compile_checked(expr, "eval")
    except sandbox.SandboxViolation as exc:
        problems.append(Problem(file, f"expression {expr!r}: {exc}", None, element_id))
        return False
    return True


def placeholders(text: str) -> list[str]:
    """Return the Python expressions inside ``${...}`` placeholders."""
    found, start = [], text.find("${")
    while start != -1:
        end = text.find("}", start)
        if end == -1:
            break
        found.append(text[start + 2 : end])
        start = text.find("${", end)
    return found


# -- XML-level rules --------------------------------------------------------------------------------------
def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def lint_xml(root: etree._Element, file: str) -> list[Problem]:
    """Check the BPMN XML for what SpiffWorkflow's parser drops or accepts silently."""
    problems: list[Problem] = []
    for scope in root.iter(f"{{{BPMN_NS}}}process", f"{{{BPMN_NS}}}subProcess", f"{{{BPMN_NS}}}transaction"):
        children = [c for c in scope if isinstance(c.tag, str)]
        ids = {c.get("id"): c for c in children if c.get("id")}
        flows = [c for c in children if _local(c) == "sequenceFlow"]
        for node in children:
            kind = _local(node)
            if kind == "boundaryEvent":
                target = ids.get(node.get("attachedToRef") or "")
                if target is None or _local(target) not in ACTIVITIES:
                    problems.append(
                        Problem(
                            file,
                            f"boundary event is attached to '{node.get('attachedToRef') or ''}', "
                            "which is not an activity of this process",
                            node.sourceline,
                            node.get("id"),
                            node.get("name"),
                        )
                    )
            elif kind == "exclusiveGateway":
                problem = _gateway_problem(node, [f for f in flows if f.get("sourceRef") == node.get("id")])
                if problem:
                    problems.append(Problem(file, problem, node.sourceline, node.get("id"), node.get("name")))
    return problems


def _gateway_problem(node: etree._Element, outgoing: list[etree._Element]) -> str | None:
    """Why an exclusive gateway can run out of flows, or None. One flow without a condition is always
    taken (SpiffWorkflow makes it the default); several flows, or a single conditional one, need a
    default flow or complete conditions (``c`` / ``not c``, or one flow whose condition is ``True``)."""
    if node.get("default") or not outgoing or _complete(outgoing):
        return None
    if len(outgoing) == 1:
        if _condition(outgoing[0]) is None:
            return None
        return (
            "exclusive gateway has a single conditional flow and no default: when its condition is false "
            "the consignment stops with an error (mark the flow as the default or remove its condition)"
        )
    return (
        "exclusive gateway has no default flow: when no condition holds the consignment "
        "stops with an error (mark one outgoing flow as the default)"
    )


def _condition(flow: etree._Element) -> str | None:
    """The flow's condition text, or None when it has none."""
    condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
    text = (condition.text or "").strip() if condition is not None else ""
    return text or None


def _parsed_condition(flow: etree._Element) -> ast.expr | None:
    try:
        return ast.parse(_condition(flow) or "", mode="eval").body
    except SyntaxError:
        return None


def _complete(flows: list[etree._Element]) -> bool:
    """Conditions that cover every case without a default: one flow whose condition is literally
    ``True``, or two flows whose conditions are ``c`` and ``not c``."""
    parsed = [_parsed_condition(flow) for flow in flows]
    if any(isinstance(p, ast.Constant) and p.value is True for p in parsed):
        return True
    if len(parsed) != 2 or None in parsed:
        return False
    a, b = (ast.dump(p) for p in parsed)
    return f"UnaryOp(op=Not(), operand={a})" == b or f"UnaryOp(op=Not(), operand={b})" == a


def process_location(roots: Mapping[str, etree._Element], process_id: str) -> Problem:
    """Explain that no file holds the process the portal runs, pointing at what is there instead."""
    found: list[tuple[str, etree._Element]] = [
        (name, node) for name, root in roots.items() for node in root.iter(f"{{{BPMN_NS}}}process")
    ]
    if found:
        name, node = found[0]
        others = ", ".join(f"'{n.get('id')}'" for _f, n in found)
        return Problem(
            name,
            f"no process with id '{process_id}' (the process the portal runs); found {others}: "
            f"rename the process id to '{process_id}'",
            node.sourceline,
            node.get("id"),
            node.get("name"),
        )
    name, root = next(iter(roots.items()))
    return Problem(
        name, f"no process in this file (the portal runs the process '{process_id}')", root.sourceline or 1
    )


def element_index(roots: Mapping[str, etree._Element]) -> dict[tuple[str, str], tuple[int | None, Any]]:
    """Map (file, element id) to the element's line and name, to locate spec-level problems."""
    index: dict[tuple[str, str], tuple[int | None, Any]] = {}
    for name, root in roots.items():
        for node in root.iter():
            if isinstance(node.tag, str) and node.get("id"):
                index.setdefault((name, node.get("id")), (node.sourceline, node.get("name")))
    return index
