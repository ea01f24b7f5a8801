"""Read, check and parse a model bundle (``bpmn/``): the BPMN process, its DMN tables and its forms.

A bundle is a folder (or a mapping of file name → bytes once deployed). ``load_bundle`` collects the
files, never reading more of one than its size limit (a file over the limit is refused unread, so memory
stays bounded whatever is on disk); ``compile_bundle`` parses them into specs and reports every problem
with file, line and element (the portal's own rules are in ``lint``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .lint import element_index, lint, lint_xml, process_location
from .parser import MAX_XML_BYTES, PortalParser, UnsafeXml, parse_xml_safely, too_large_message
from .problems import BundleInvalid, Problem
from .serializer import DeployedSpecs

__all__ = [
    "Bundle",
    "BundleInvalid",
    "CompiledBundle",
    "Problem",
    "compile_bundle",
    "lint",
    "load_bundle",
]

MAX_FORM_BYTES = 256 * 1024
XML_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


@dataclass
class Bundle:
    """The raw files of a bundle: BPMN and DMN XML, and JSON forms keyed by form key.

    ``refused`` names the files ``load_bundle`` found but did not read (too large, not a regular file,
    unreadable) with the reason; ``origin`` is where the bundle came from, for problems about the whole
    bundle.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    origin: str = field(default="<bundle>", compare=False)

    @property
    def checksum(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name] + b"\0")
        for name in sorted(self.refused):
            digest.update(name.encode() + b"\0refused\0" + self.refused[name].encode() + b"\0")
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


def load_bundle(path: Path) -> Bundle:
    """Collect the bundle files under ``path`` (a folder) or a single ``.bpmn`` file.

    A file larger than its limit (``MAX_XML_BYTES`` for BPMN and DMN, ``MAX_FORM_BYTES`` for a form) is
    not read: it goes to ``Bundle.refused`` with the reason, as do files that are not regular files or
    cannot be opened.
    """
    path = Path(path)
    bundle = Bundle(origin=str(path))
    if not path.is_dir():
        _load_file(bundle, path.name, path)
        return bundle
    for pattern in ("*.bpmn", "*.dmn", "forms/*.json"):
        for file in sorted(path.glob(pattern)):
            _load_file(bundle, file.relative_to(path).as_posix(), file)
    return bundle


def _load_file(bundle: Bundle, name: str, file: Path) -> None:
    """Read at most the file's limit plus one byte, after checking its size on disk."""
    limit = MAX_FORM_BYTES if name.endswith(".json") else MAX_XML_BYTES
    try:
        if not file.is_file():  # a device, a pipe or a folder named like a model file
            bundle.refused[name] = "not a regular file" if file.exists() else "no such file"
            return
        size = file.stat().st_size
        if size > limit:
            bundle.refused[name] = too_large_message(size, limit)
            return
        with file.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        bundle.refused[name] = f"cannot be read: {exc.strerror or type(exc).__name__}"
        return
    if len(data) > limit:  # the file grew after it was measured
        bundle.refused[name] = too_large_message(None, limit)
        return
    bundle.files[name] = data


def compile_bundle(
    bundle: Bundle,
    process_id: str = "specialized_inspection",
    known_topics: Collection[str] | None = None,
    known_messages: Collection[str] | None = None,
) -> CompiledBundle:
    """Parse and check a bundle; ``known_topics`` / ``known_messages`` (when given) are what the portal
    has connectors and callbacks for.

    :raises BundleInvalid: listing every problem found.
    """
    problems: list[Problem] = [Problem(name, why, 1) for name, why in sorted(bundle.refused.items())]
    forms = _load_forms(bundle, problems)
    parser = PortalParser()
    roots: dict[str, etree._Element] = {}
    refused_models = [n for n in bundle.refused if n.endswith((".bpmn", ".dmn"))]
    unreadable = bool(refused_models)
    if not bundle.bpmn_files() and not any(n.endswith(".bpmn") for n in refused_models):
        unreadable = True
        problems.append(Problem(bundle.origin, "no .bpmn file in the bundle", 1))
    for name in bundle.dmn_files() + bundle.bpmn_files():
        problem = _read_xml(parser, name, bundle.files[name], roots)
        if problem is not None:
            problems.append(problem)
            unreadable = True
    bpmn_roots = {name: roots[name] for name in bundle.bpmn_files() if name in roots}
    for name, root in bpmn_roots.items():
        problems.extend(lint_xml(root, name))
    if unreadable:  # without every file parsed there is no spec to lint
        raise BundleInvalid(problems)
    if process_id not in parser.process_parsers:
        raise BundleInvalid([*problems, process_location(bpmn_roots, process_id)])
    try:
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except (ValidationException, SpiffWorkflowException) as exc:
        raise BundleInvalid([*problems, _from_spiff(exc, bundle.bpmn_files()[0])]) from None
    except Exception as exc:
        first = bundle.bpmn_files()[0]
        raise BundleInvalid([*problems, Problem(first, f"cannot build the process: {exc}", 1)]) from None
    dmn_file_of = {
        p.decision.decisionTables[0].id: Path(p.filename or "").name
        for p in parser.dmn_parsers.values()
        if _parsed(p)
    }
    form_names = bundle.form_files() + [n for n in bundle.refused if n.startswith("forms/")]
    broken_forms = {Path(name).stem for name in form_names} - set(forms)
    problems.extend(
        lint(spec, subprocess_specs, forms, known_topics, dmn_file_of, known_messages, broken_forms)
    )
    if problems:
        raise BundleInvalid(_located(problems, roots))
    return CompiledBundle(process_id, DeployedSpecs(spec, subprocess_specs), forms)


def _read_xml(
    parser: PortalParser, name: str, data: bytes, roots: dict[str, etree._Element]
) -> Problem | None:
    """Add one BPMN or DMN file to the parser; return the problem that stopped it, if any."""
    if len(data) > MAX_XML_BYTES:  # before any decoding: a bundle built in memory is not size-checked
        return Problem(name, too_large_message(len(data), MAX_XML_BYTES), 1)
    problem = _encoding_problem(name, data)
    if problem is not None:
        return problem
    add = parser.add_dmn_xml if name.endswith(".dmn") else parser.add_bpmn_xml
    try:
        root = parse_xml_safely(data, name)
        add(root, filename=name)
    except UnsafeXml as exc:
        return Problem(name, str(exc), exc.line)
    except (ValidationException, SpiffWorkflowException) as exc:
        return _from_spiff(exc, name)
    except Exception as exc:  # SpiffWorkflow's parsers raise plain errors on odd documents
        kind = "decision table" if name.endswith(".dmn") else "process model"
        return Problem(name, f"cannot be read as a {kind}: {type(exc).__name__}: {exc}", 1)
    roots[name] = root
    return None


def _encoding_problem(name: str, data: bytes) -> Problem | None:
    """Models are stored as UTF-8 text: refuse other bytes and declarations of other encodings."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return Problem(name, f"must be UTF-8 encoded (byte {exc.start} is not)", line)
    declared = XML_DECLARATION.match(data[:200])
    if declared is None:
        return None
    encoding = declared.group(1).decode("ascii").lower()
    if encoding in ("utf-8", "utf8") or (encoding in ("us-ascii", "ascii") and data.isascii()):
        return None
    return Problem(
        name,
        f"declares encoding {declared.group(1).decode('ascii')} but models must be UTF-8: save the file "
        'as UTF-8 and declare encoding="UTF-8"',
        1,
    )


def _located(problems: list[Problem], roots: dict[str, etree._Element]) -> list[Problem]:
    """Fill in the line and name of problems found on parsed specs, from the XML they came from."""
    index = element_index(roots)
    out = []
    for problem in problems:
        found = index.get((problem.file, problem.element_id or ""))
        if found is not None:
            line, name = found
            problem = dataclasses.replace(
                problem, line=problem.line or line, element_name=problem.element_name or name
            )
        out.append(problem)
    return out


def _from_spiff(exc: Exception, default_file: str) -> Problem:
    file = getattr(exc, "file_name", None) or default_file
    line = getattr(exc, "line_number", None) or getattr(exc, "sourceline", None)
    element = getattr(exc, "id", None)
    message = getattr(exc, "msg", None) or str(exc)
    if not line and not element:
        line = 1  # every problem names a line or an element; this one is about the whole file
    return Problem(Path(str(file)).name if file else default_file, str(message).strip(), line, element)


def _load_forms(bundle: Bundle, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    forms: dict[str, dict[str, Any]] = {}
    for name in bundle.form_files():
        data = bundle.files[name]
        if len(data) > MAX_FORM_BYTES:
            problems.append(Problem(name, "form " + too_large_message(len(data), MAX_FORM_BYTES), 1))
            continue
        try:
            schema = json.loads(data.decode("utf-8"))
            Draft202012Validator.check_schema(schema)
        except UnicodeDecodeError:
            problems.append(Problem(name, "form file is not UTF-8", 1))
            continue
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, f"not valid JSON: {exc.msg}", exc.lineno))
            continue
        except SchemaError as exc:
            problems.append(Problem(name, f"not a valid JSON Schema: {exc.message}", 1))
            continue
        forms[Path(name).stem] = schema
    return forms


def _parsed(dmn_parser) -> bool:
    try:
        dmn_parser.parse()
        return bool(dmn_parser.decision.decisionTables)
    except Exception:
        return False
