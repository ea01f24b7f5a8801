"""Read, check and parse a model bundle (``bpmn/``): the BPMN process, its DMN tables and its forms.

A bundle is a folder (or a mapping of file name → bytes once deployed). ``load_bundle`` collects the
files, ``compile_bundle`` parses them into specs and reports every problem with file, line and element.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import sandbox
from .parser import PortalParser, UnsafeXml, parse_xml_safely
from .serializer import DeployedSpecs
from .specs import ExternalServiceTask, PortalUserTask

MAX_FORM_BYTES = 256 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle, located as precisely as we can."""

    file: str
    message: str
    line: int | None = None
    element_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line or 0}"
        return f"{where} {self.element_id or '-'}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "element_id": self.element_id, "message": self.message}


@dataclass
class Bundle:
    """The raw files of a bundle: BPMN and DMN XML, and JSON forms keyed by form key."""

    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name] + b"\0")
        return digest.hexdigest()

    def bpmn_files(self) -> list[str]:
        return sorted(n for n in self.files if n.endswith(".bpmn"))

    def dmn_files(self) -> list[str]:
        return sorted(n for n in self.files if n.endswith(".dmn"))

    def form_files(self) -> list[str]:
        return sorted(n for n in self.files if n.startswith("forms/") and n.endswith(".json"))


@dataclass
class CompiledBundle:
    process_id: str
    specs: DeployedSpecs
    forms: dict[str, dict[str, Any]]


class BundleInvalid(Exception):
    """The bundle cannot be deployed; ``problems`` says why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def load_bundle(path: Path) -> Bundle:
    """Collect the bundle files under ``path`` (a folder) or a single ``.bpmn`` file."""
    path = Path(path)
    bundle = Bundle()
    if path.is_file():
        bundle.files[path.name] = path.read_bytes()
        return bundle
    for pattern in ("*.bpmn", "*.dmn", "forms/*.json"):
        for file in sorted(path.glob(pattern)):
            bundle.files[file.relative_to(path).as_posix()] = file.read_bytes()
    return bundle


def compile_bundle(
    bundle: Bundle, process_id: str = "specialized_inspection", known_topics=None
) -> CompiledBundle:
    """Parse and check a bundle.

    :raises BundleInvalid: listing every problem found.
    """
    problems: list[Problem] = []
    forms = _load_forms(bundle, problems)
    parser = PortalParser()
    if not bundle.bpmn_files():
        problems.append(Problem("<bundle>", "no .bpmn file in the bundle"))
    for name in bundle.dmn_files() + bundle.bpmn_files():
        add = parser.add_dmn_xml if name.endswith(".dmn") else parser.add_bpmn_xml
        try:
            bundle.files[name].decode("utf-8")
        except UnicodeDecodeError as exc:
            line = bundle.files[name][: exc.start].count(b"\n") + 1
            problems.append(Problem(name, f"must be UTF-8 encoded (byte {exc.start} is not)", line))
            continue
        try:
            add(parse_xml_safely(bundle.files[name], name), filename=name)
        except UnsafeXml as exc:
            problems.append(Problem(name, str(exc), exc.line))
        except (ValidationException, SpiffWorkflowException) as exc:
            problems.append(_from_spiff(exc, name))
        except Exception as exc:  # SpiffWorkflow's parsers raise plain errors on odd documents
            kind = "decision table" if name.endswith(".dmn") else "process model"
            problems.append(Problem(name, f"cannot be read as a {kind}: {type(exc).__name__}: {exc}"))
    if problems:
        raise BundleInvalid(problems)
    try:
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except (ValidationException, SpiffWorkflowException) as exc:
        raise BundleInvalid([_from_spiff(exc, bundle.bpmn_files()[0])]) from None
    except Exception as exc:
        raise BundleInvalid([Problem(bundle.bpmn_files()[0], f"cannot build the process: {exc}")]) from None
    dmn_file_of = {
        p.decision.decisionTables[0].id: Path(p.filename or "").name
        for p in parser.dmn_parsers.values()
        if _parsed(p)
    }
    problems.extend(lint(spec, subprocess_specs, forms, known_topics, dmn_file_of))
    if problems:
        raise BundleInvalid(problems)
    return CompiledBundle(process_id, DeployedSpecs(spec, subprocess_specs), forms)


def _from_spiff(exc: Exception, default_file: str) -> Problem:
    file = getattr(exc, "file_name", None) or default_file
    line = getattr(exc, "line_number", None) or getattr(exc, "sourceline", None)
    element = getattr(exc, "id", None)
    message = getattr(exc, "msg", None) or str(exc)
    return Problem(Path(str(file)).name if file else default_file, str(message).strip(), line, element)


def _load_forms(bundle: Bundle, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    forms: dict[str, dict[str, Any]] = {}
    for name in bundle.form_files():
        data = bundle.files[name]
        if len(data) > MAX_FORM_BYTES:
            problems.append(Problem(name, "form file too large"))
            continue
        try:
            schema = json.loads(data.decode("utf-8"))
            Draft202012Validator.check_schema(schema)
        except UnicodeDecodeError:
            problems.append(Problem(name, "form file is not UTF-8"))
            continue
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, f"not valid JSON: {exc.msg}", exc.lineno))
            continue
        except SchemaError as exc:
            problems.append(Problem(name, f"not a valid JSON Schema: {exc.message}"))
            continue
        forms[Path(name).stem] = schema
    return forms


def _parsed(dmn_parser) -> bool:
    try:
        dmn_parser.parse()
        return bool(dmn_parser.decision.decisionTables)
    except Exception:
        return False


def lint(spec, subprocess_specs, forms, known_topics=None, dmn_file_of=None) -> list[Problem]:
    """Check what matters to this portal beyond what SpiffWorkflow's parser checks."""
    problems: list[Problem] = []
    all_specs = [spec, *subprocess_specs.values()]
    for process in all_specs:
        for task_spec in process.task_specs.values():
            file = Path(getattr(process, "file", "") or "").name or "<bpmn>"
            if isinstance(task_spec, PortalUserTask):
                if not task_spec.candidate_groups and not task_spec.lane:
                    problems.append(
                        Problem(
                            file,
                            "user task has no performer (candidateGroups or lane)",
                            None,
                            task_spec.bpmn_id,
                        )
                    )
                key = task_spec.form.key if task_spec.form else None
                if not key and not (task_spec.form and task_spec.form.fields):
                    problems.append(
                        Problem(file, "user task has no form (camunda:formKey)", None, task_spec.bpmn_id)
                    )
                elif key and key not in forms:
                    problems.append(
                        Problem(file, f"form '{key}' not found in forms/", None, task_spec.bpmn_id)
                    )
                for expr in _placeholders(task_spec.candidate_groups or "") + _placeholders(
                    task_spec.due_date or ""
                ):
                    _check_expression(expr, file, task_spec.bpmn_id, problems)
            if isinstance(task_spec, ExternalServiceTask):
                if not task_spec.topic:
                    problems.append(
                        Problem(file, "service task has no camunda:topic", None, task_spec.bpmn_id)
                    )
                elif known_topics is not None and task_spec.topic not in known_topics:
                    problems.append(
                        Problem(file, f"no connector for topic '{task_spec.topic}'", None, task_spec.bpmn_id)
                    )
                for _name, expr in task_spec.input_parameters + task_spec.output_parameters:
                    for inner in _placeholders(expr):
                        _check_expression(inner, file, task_spec.bpmn_id, problems)
            script = getattr(task_spec, "script", None)
            if isinstance(script, str):
                try:
                    sandbox.compile_checked(script, "exec")
                except sandbox.SandboxViolation as exc:
                    problems.append(Problem(file, f"script: {exc}", None, task_spec.bpmn_id))
            engine = getattr(task_spec, "dmnEngine", None)
            if engine is not None:
                table_file = (dmn_file_of or {}).get(engine.decision_table.id) or file
                _check_decision_table(engine.decision_table, table_file, task_spec.bpmn_id, problems)
            event_definition = getattr(task_spec, "event_definition", None)
            expression = getattr(event_definition, "expression", None)
            if expression:
                _check_expression(expression, file, task_spec.bpmn_id, problems)
            for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
                text = (
                    condition.args[0] if condition is not None and getattr(condition, "args", None) else None
                )
                if text:
                    _check_expression(text, file, task_spec.bpmn_id, problems)
    return problems


def _check_performer(task_spec, file: str, problems: list[Problem]) -> None:
    from .runtime import ROLE_BY_GROUP

    group = task_spec.candidate_groups
    if not group:
        problems.append(
            Problem(file, "user task has no performer (camunda:candidateGroups)", None, task_spec.bpmn_id)
        )
        return
    kind = group.split(":")[0].strip()
    if kind not in ROLE_BY_GROUP:
        problems.append(
            Problem(
                file,
                f"candidateGroups '{group}': unknown kind '{kind}' (use one of "
                f"{', '.join(sorted(ROLE_BY_GROUP))})",
                None,
                task_spec.bpmn_id,
            )
        )
    elif kind not in ("trader", "port") and len(group.split(":")) < 2:
        problems.append(
            Problem(file, f"candidateGroups '{group}' names no organization", None, task_spec.bpmn_id)
        )


def _check_decision_table(table, file: str, element_id: str, problems: list[Problem]) -> None:
    for rule in table.rules:
        for entry in rule.inputEntries:
            for lhs in entry.lhs:
                if lhs and lhs.strip() and lhs.strip() != "-":
                    text = lhs.replace("?", "dmninputexpr")
                    try:
                        sandbox.compile_checked(text, "eval")
                    except sandbox.SandboxViolation:
                        _check_expression(
                            f"dmninputexpr {text}", file, f"{element_id} rule {rule.row_number}", problems
                        )
        for entry in rule.outputEntries:
            if entry.text and entry.text.strip():
                _check_expression(entry.text, file, f"{element_id} rule {rule.row_number}", problems)
    for column in table.inputs:
        if column.expression:
            _check_expression(column.expression, file, element_id, problems)


def _check_expression(expr: str, file: str, element_id: str, problems: list[Problem]) -> None:
    try:
        sandbox.compile_checked(expr, "eval")
    except sandbox.SandboxViolation as exc:
        problems.append(Problem(file, f"expression {expr!r}: {exc}", None, element_id))


def _placeholders(text: str) -> list[str]:
    """Return the Python expressions inside ``${...}`` placeholders."""
    found, start = [], text.find("${")
    while start != -1:
        end = text.find("}", start)
        if end == -1:
            break
        found.append(text[start + 2 : end])
        start = text.find("${", end)
    return found
