"""The model validator: the real bundle compiles cleanly, each lint rule names the element, file and
reason, hostile XML is refused quickly with a clear message, and the corpus in tests/corpus/bpmn never
crashes the validator."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine.bundle import (
    Bundle,
    BundleInvalid,
    CompiledBundle,
    Problem,
    compile_bundle,
    lint,
    load_bundle,
)
from app.engine.commands.deployment import DeployBundle
from app.engine.runtime import evaluate_template, resolve_performer
from app.engine.script_engine import PortalScriptEngine
from app.engine.serializer import WorkflowCodec
from app.engine.specs import ExternalServiceTask, PortalUserTask
from app.engine.working_time import WorkingCalendar
from app.settings import PROJECT_ROOT
from app.tasks import KNOWN_TOPICS

pytestmark = pytest.mark.timeout(20)

BUNDLE_DIR = PROJECT_ROOT / "bpmn"
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bpmn"
BPMN = "specialized_inspection.bpmn"
REAL = load_bundle(BUNDLE_DIR)
REAL_TEXT = REAL.files[BPMN].decode("utf-8")
FORM = "forms/escalation_review.json"
FORM_TEXT = REAL.files[FORM].decode("utf-8")
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
SAMPLE_DATA = {
    "declaration_no": "106865793030",
    "declaration_type": "A11",
    "customs_branch": "02CI",
    "trader_org": "T01",
    "goods": "Frozen boneless beef",
    "hs_codes": ["02023000"],
    "hs": "02023000",
    "containers": ["TCLU2167398", "TCLU2167399"],
    "container_count": 2,
    "awb": None,
    "bill_of_lading": "HCM1",
    "sampling_place": "Cat Lai yard",
    "request_preservation": True,
    "lead_agency": "RAHO6",
    "co_agencies": ["MOIT-FS"],
    "result_deadline_wd": 3,
    "fee_vnd": 400_000,
    "payment_ref": "PAY-1",
    "nominated_containers": [],
    "container_positions": {"yard": "A1"},
}


def bundle(bpmn: str | bytes | None = None, files: dict[str, bytes | None] | None = None) -> Bundle:
    """The real bundle with its BPMN and/or other files replaced (``None`` removes a file)."""
    result = Bundle(dict(REAL.files))
    if bpmn is not None:
        result.files[BPMN] = bpmn.encode("utf-8") if isinstance(bpmn, str) else bpmn
    for name, data in (files or {}).items():
        if data is None:
            result.files.pop(name)
        else:
            result.files[name] = data
    return result


def edit(*replacements: tuple[str, str], text: str = REAL_TEXT) -> str:
    """The real BPMN text with each ``old`` (which must occur exactly once) replaced by ``new``."""
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def problems_of(candidate: Bundle, known_topics=KNOWN_TOPICS) -> list[Problem]:
    with pytest.raises(BundleInvalid) as caught:
        compile_bundle(candidate, known_topics=known_topics)
    assert caught.value.problems, "BundleInvalid without problems"
    assert str(caught.value) == "; ".join(str(p) for p in caught.value.problems)
    return caught.value.problems


def only_problem(candidate: Bundle, known_topics=KNOWN_TOPICS) -> Problem:
    problems = problems_of(candidate, known_topics)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# -- the real bundle ----------------------------------------------------------------------------------
def test_real_bundle_compiles_with_zero_problems():
    compiled = compile_bundle(load_bundle(BUNDLE_DIR), known_topics=KNOWN_TOPICS)
    assert compiled.process_id == "specialized_inspection"
    assert set(compiled.forms) == {Path(name).stem for name in REAL.form_files()}
    assert set(compiled.specs.subprocess_specs) == {"port_move"}
    assert lint(compiled.specs.spec, compiled.specs.subprocess_specs, compiled.forms, KNOWN_TOPICS) == []


def test_real_bundle_uses_only_known_topics_and_existing_forms():
    compiled = compile_bundle(REAL, known_topics=KNOWN_TOPICS)
    specs = [compiled.specs.spec, *compiled.specs.subprocess_specs.values()]
    task_specs = [t for s in specs for t in s.task_specs.values()]
    topics = {t.topic for t in task_specs if isinstance(t, ExternalServiceTask)}
    forms = {t.form.key for t in task_specs if isinstance(t, PortalUserTask)}
    assert topics and topics <= set(KNOWN_TOPICS)
    assert forms and forms <= set(compiled.forms)


def test_checksum_changes_with_any_file():
    assert bundle().checksum == REAL.checksum
    assert bundle(REAL_TEXT + " ").checksum != REAL.checksum
    assert bundle(files={FORM: b"{}"}).checksum != REAL.checksum


# -- one lint rule at a time --------------------------------------------------------------------------------
LINT_CASES = {
    "user task without candidateGroups and lane": (
        [
            (
                'camunda:candidateGroups="trader" camunda:formKey="preservation_request"',
                'camunda:formKey="preservation_request"',
            ),
            ("<bpmn:flowNodeRef>request_preservation</bpmn:flowNodeRef>", ""),
        ],
        "request_preservation",
        "user task has no performer (candidateGroups or lane)",
    ),
    "user task without formKey": (
        [('camunda:formKey="preservation_request"', "")],
        "request_preservation",
        "user task has no form (camunda:formKey)",
    ),
    "formKey naming a missing form": (
        [('camunda:formKey="preservation_request"', 'camunda:formKey="preservation_requset"')],
        "request_preservation",
        "form 'preservation_requset' not found in forms/",
    ),
    "service task with an unknown topic": (
        [('camunda:topic="payment.capture"', 'camunda:topic="payment.refund"')],
        "capture_payment",
        "no connector for topic 'payment.refund'",
    ),
    "service task without a topic": (
        [(' camunda:topic="payment.capture"', "")],
        "capture_payment",
        "service task has no camunda:topic",
    ),
    "gateway condition using __import__": (
        [
            (
                "container_count &gt; 0</bpmn:conditionExpression>",
                '__import__("os")</bpmn:conditionExpression>',
            )
        ],
        "has_containers",
        "name '__import__' is not allowed",
    ),
    "gateway condition reading a dunder": (
        [
            (
                "container_count &gt;= 5</bpmn:conditionExpression>",
                "().__class__.__bases__</bpmn:conditionExpression>",
            )
        ],
        "needs_nomination",
        "attribute '__bases__' is not allowed",
    ),
    "timer date that does not compile": (
        [("hours_after(registered_at, 12)", "hours_after(registered_at, 12) +")],
        "port_move_sla",
        "syntax error",
    ),
    "timer date using a lambda": (
        [("working_hours(2)</bpmn:timeDate>", "(lambda: working_hours(2))()</bpmn:timeDate>")],
        "preservation_decision_sla",
        "Lambda is not allowed",
    ),
    "due date placeholder with a forbidden attribute": (
        [('camunda:dueDate="${working_hours(2)}"', 'camunda:dueDate="${working_hours.__self__}"')],
        "decide_preservation",
        "attribute '__self__' is not allowed",
    ),
    "candidateGroups placeholder with __import__": (
        [("customs:${customs_branch}:branch_head", "customs:${__import__('os')}:branch_head")],
        "decide_preservation",
        "name '__import__' is not allowed",
    ),
    "input mapping with a dunder": (
        [
            (
                '<camunda:inputParameter name="amount_vnd">${fee_vnd}</camunda:inputParameter>',
                '<camunda:inputParameter name="amount_vnd">${fee_vnd.__class__}</camunda:inputParameter>',
            )
        ],
        "capture_payment",
        "attribute '__class__' is not allowed",
    ),
    "output mapping that does not compile": (
        [("${clearance_no}", "${clearance_no +}")],
        "clear_goods",
        "syntax error",
    ),
    "input mapping inside the subprocess": (
        [("${sampling_place}", "${sampling_place.__dict__}")],
        "move_containers",
        "attribute '__dict__' is not allowed",
    ),
}


@pytest.mark.parametrize(
    ("replacements", "element_id", "message"), LINT_CASES.values(), ids=LINT_CASES.keys()
)
def test_lint_rule_names_element_file_and_reason(replacements, element_id, message):
    problem = only_problem(bundle(edit(*replacements)))
    assert problem.file == BPMN
    assert problem.element_id == element_id
    assert message in problem.message
    assert str(problem).startswith(f"{BPMN}:") and f" {element_id}: " in str(problem)


def test_expression_problem_quotes_the_expression():
    problem = only_problem(
        bundle(
            edit(
                (
                    "container_count &gt; 0</bpmn:conditionExpression>",
                    '__import__("os")</bpmn:conditionExpression>',
                )
            )
        )
    )
    assert '__import__("os")' in problem.message


def test_unknown_topics_pass_when_no_topic_list_is_given():
    compile_bundle(bundle(edit(('camunda:topic="payment.capture"', 'camunda:topic="payment.refund"'))))


def test_input_mapping_with_a_script_element_is_refused():
    problem = only_problem(
        bundle(
            edit(
                (
                    '<camunda:inputParameter name="payer">${trader_org}</camunda:inputParameter>',
                    '<camunda:inputParameter name="payer">'
                    '<camunda:script scriptFormat="groovy">trader</camunda:script>'
                    "</camunda:inputParameter>",
                )
            )
        )
    )
    assert problem.element_id == "capture_payment"
    assert "only text expressions" in problem.message


def test_every_lint_problem_is_reported_at_once():
    problems = problems_of(
        bundle(
            edit(
                ('camunda:topic="payment.capture"', 'camunda:topic="payment.refund"'),
                ('camunda:formKey="preservation_request"', ""),
                ("hours_after(registered_at, 12)", "hours_after(registered_at, 12) +"),
            )
        )
    )
    assert {(p.file, p.element_id) for p in problems} == {
        (BPMN, "capture_payment"),
        (BPMN, "request_preservation"),
        (BPMN, "port_move_sla"),
    }


def test_every_parse_problem_is_reported_at_once():
    problems = problems_of(bundle(b"", files={"forms/fee_payment.json": b"{", "fees.dmn": b"<x>"}))
    assert {p.file for p in problems} == {BPMN, "fees.dmn", "forms/fee_payment.json"}


def test_a_broken_form_does_not_hide_lint_problems():
    problems = problems_of(
        bundle(
            edit(('camunda:topic="payment.capture"', 'camunda:topic="payment.refund"')),
            files={"forms/fee_payment.json": b'{"type": "object",}'},
        )
    )
    assert {(p.file, p.element_id) for p in problems} == {
        (BPMN, "capture_payment"),
        ("forms/fee_payment.json", None),
        (BPMN, "pay_fees"),
    }


def test_a_removed_form_is_reported_for_each_task_using_it():
    problems = problems_of(bundle(files={FORM: None}))
    assert sorted(p.element_id for p in problems) == [
        "escalate_port_move",
        "escalate_preservation_decision",
        "escalate_result_overdue",
    ]
    assert all(p.message == "form 'escalation_review' not found in forms/" for p in problems)


def test_missing_decision_table_is_reported_on_its_task():
    problem = only_problem(bundle(files={"fees.dmn": None}))
    assert problem.element_id == "compute_fees"
    assert '"fees"' in problem.message


def test_bundle_without_bpmn():
    problem = only_problem(Bundle({k: v for k, v in REAL.files.items() if k != BPMN}))
    assert (problem.file, problem.line, problem.message) == ("<bundle>", 1, "no .bpmn file in the bundle")


def test_folder_without_bpmn_names_the_folder(tmp_path):
    problem = only_problem(load_bundle(tmp_path))
    assert str(problem) == f"{tmp_path}:1 -: no .bpmn file in the bundle"


def test_bundle_with_another_process_id():
    problem = only_problem(
        bundle(
            edit(
                ('<bpmn:process id="specialized_inspection"', '<bpmn:process id="other"'),
                ('processRef="specialized_inspection"', 'processRef="other"'),
            )
        )
    )
    assert "specialized_inspection" in problem.message and "other" in problem.message


# -- forms ---------------------------------------------------------------------------------------------------
USING_FORM = ["escalate_port_move", "escalate_preservation_decision", "escalate_result_overdue"]


def form_problem(candidate: Bundle) -> Problem:
    """The one problem in the broken form's file; each task using the form is also pointed at it."""
    problems = problems_of(candidate)
    in_form = [p for p in problems if p.file == FORM]
    assert len(in_form) == 1, [str(p) for p in problems]
    follow_ons = sorted((p.element_id, p.message) for p in problems if p.file != FORM)
    message = f"form 'escalation_review' cannot be used: {FORM} has errors"
    assert follow_ons == [(task, message) for task in USING_FORM]
    return in_form[0]


def test_form_that_is_not_valid_json_has_a_line():
    broken = FORM_TEXT.replace('"comment"\n  ],', '"comment",\n  ],')
    assert broken != FORM_TEXT
    bad_line = broken[: broken.index('"comment",\n  ],')].count("\n") + 2
    problem = form_problem(bundle(files={FORM: broken.encode()}))
    assert problem.file == FORM
    assert problem.message.startswith("not valid JSON")
    assert problem.line == bad_line
    assert str(problem).startswith(f"{FORM}:{bad_line} -: not valid JSON")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 12},
        {"type": "objekt"},
        {"type": "string", "minLength": -1},
        {"properties": []},
        {"required": "x"},
    ],
    ids=["type-number", "type-unknown", "negative-length", "properties-list", "required-string"],
)
def test_form_that_is_not_a_json_schema(schema):
    problem = form_problem(bundle(files={FORM: json.dumps(schema).encode()}))
    assert problem.file == FORM
    assert problem.message.startswith("not a valid JSON Schema")


def test_form_that_is_not_utf8():
    problem = form_problem(bundle(files={FORM: FORM_TEXT.encode("utf-16")}))
    assert (problem.file, problem.message) == (FORM, "form file is not UTF-8")


def test_form_that_is_too_large():
    schema = json.loads(FORM_TEXT)
    schema["description"] = "x" * 300_000
    problem = form_problem(bundle(files={FORM: json.dumps(schema).encode()}))
    assert problem.file == FORM and problem.line == 1
    assert re.fullmatch(r"form file larger than 256 KB \(29\d KB\)", problem.message), problem.message


# -- hostile XML ---------------------------------------------------------------------------------------------
PROCESS = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">'
    '<bpmn:process id="specialized_inspection" name="{}" isExecutable="true"/></bpmn:definitions>'
)
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>\n"
    + PROCESS.format("&lol9;")
).encode()
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + PROCESS.format("&x;")
).encode()
SIX_MB = REAL_TEXT.replace(
    "<bpmn:documentation>", "<bpmn:documentation>" + "x" * (6 * 1024 * 1024), 1
).encode()
INVALID_UTF8 = (
    edit(('name="Pay inspection fees"', 'name="Pay PLACEHOLDER fees"'))
    .encode()
    .replace(b"PLACEHOLDER", b"\xc3\x28\xff")
)
INVALID_UTF8_LINE = REAL_TEXT[: REAL_TEXT.index('name="Pay inspection fees"')].count("\n") + 1
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect id="task" width="5" height="5"/></svg>\n'
)
XHTML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t'
    b'</title></head><body><p id="p">not a model</p></body></html>\n'
)

HOSTILE = {
    "billion laughs": (LAUGHS, "DOCTYPE and entity declarations are not allowed", 1),
    "external entity": (XXE, "DOCTYPE and entity declarations are not allowed", 1),
    "doctype": (
        REAL_TEXT.replace("?>\n", "?>\n<!DOCTYPE html>\n", 1).encode(),
        "DOCTYPE and entity declarations are not allowed",
        1,
    ),
    "entity declared after the first 4 KB": (
        REAL_TEXT.replace("</bpmn:definitions>", '<!-- <!ENTITY x "y"> --></bpmn:definitions>').encode(),
        "DOCTYPE and entity declarations are not allowed",
        1,
    ),
    "6 MB file": (SIX_MB, f"file larger than 5 MB ({len(SIX_MB) / 1024 / 1024:.1f} MB)", 1),
    "invalid UTF-8 bytes": (
        INVALID_UTF8,
        "must be UTF-8 encoded",
        INVALID_UTF8_LINE,
    ),
    "empty file": (b"", "not well-formed XML: Document is empty", 1),
    "whitespace only": (b" \n\t ", "not well-formed XML", 2),
    "binary garbage": (bytes((i * 37 + 11) % 256 for i in range(4096)), "must be UTF-8 encoded", 1),
    "NUL bytes": (
        REAL_TEXT.replace('name="Pay inspection fees"', 'name="Pay\x00fees"').encode(),
        "not well-formed XML",
        None,
    ),
    "truncated": (REAL.files[BPMN][:20_000], "not well-formed XML", None),
    "SVG": (SVG, "{http://www.w3.org/2000/svg}svg", 2),
    "XHTML": (XHTML, "{http://www.w3.org/1999/xhtml}html", 2),
    "DMN saved as .bpmn": (REAL.files["fees.dmn"], "DMN/20191111/MODEL/}definitions", None),
    "no namespace": (
        b"<definitions><process id='specialized_inspection'/></definitions>",
        "'definitions'",
        1,
    ),
    "XInclude": (
        REAL_TEXT.replace(
            "  <bpmn:message ",
            '  <xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" '
            'parse="text"/>\n  <bpmn:message ',
            1,
        ).encode(),
        "XInclude}include",
        3,
    ),
}


@pytest.mark.parametrize(("data", "message", "line"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_xml_is_refused_with_a_clear_message(data, message, line):
    problems = problems_of(bundle(data))
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert problem.file == BPMN
    assert message in problem.message
    if line is not None:
        assert problem.line == line
    assert problem.line or problem.element_id
    assert BPMN not in problem.message  # the file is named once, by the problem
    assert "root:" not in problem.message  # nothing of /etc/passwd leaks into the message


# -- files too large to read ---------------------------------------------------------------------------------
def sparse_bundle(folder: Path, name: str, size: int) -> Path:
    """The real bundle in ``folder`` with ``name`` grown to ``size`` bytes by a hole (nothing written)."""
    for file_name, data in REAL.files.items():
        (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
        (folder / file_name).write_bytes(data)
    with (folder / name).open("r+b") as handle:
        handle.truncate(size)
    return folder


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        (BPMN, 1024**3, "file larger than 5 MB (1024 MB)"),
        ("fees.dmn", 5 * 1024 * 1024 + 1, "file larger than 5 MB (5.0 MB)"),
    ],
    ids=["1 GB BPMN", "DMN one byte over"],
)
def test_a_model_file_over_the_limit_is_refused_unread(tmp_path, name, size, message):
    loaded = load_bundle(sparse_bundle(tmp_path, name, size))
    assert name not in loaded.files
    assert loaded.refused == {name: message}
    assert str(only_problem(loaded)) == f"{name}:1 -: {message}"


def test_a_model_file_at_the_limit_is_read(tmp_path):
    text = REAL_TEXT.replace("<bpmn:documentation>", "<bpmn:documentation>" + " " * 10, 1).encode()
    padded = text.replace(b" " * 10, b" " * (10 + 5 * 1024 * 1024 - len(text)), 1)
    assert len(padded) == 5 * 1024 * 1024
    (tmp_path / BPMN).write_bytes(padded)
    loaded = load_bundle(tmp_path / BPMN)
    assert loaded.files == {BPMN: padded} and not loaded.refused


def test_a_form_over_the_limit_is_refused_unread_and_its_tasks_are_told(tmp_path):
    loaded = load_bundle(sparse_bundle(tmp_path, FORM, 10 * 1024 * 1024))
    assert FORM not in loaded.files
    problem = form_problem(loaded)
    assert (problem.line, problem.message) == (1, "file larger than 256 KB (10 MB)")


def test_a_device_named_like_a_model_is_not_read(tmp_path):
    """``/dev/zero`` never ends: reading it whole would never return."""
    folder = sparse_bundle(tmp_path, BPMN, len(REAL.files[BPMN]))
    (folder / "fees.dmn").unlink()
    (folder / "fees.dmn").symlink_to("/dev/zero")
    loaded = load_bundle(folder)
    assert loaded.refused == {"fees.dmn": "not a regular file"}
    assert [str(p) for p in problems_of(loaded)] == ["fees.dmn:1 -: not a regular file"]


def test_a_refused_file_changes_the_checksum():
    assert Bundle(dict(REAL.files), {"x.dmn": "not a regular file"}).checksum != REAL.checksum


def test_no_entity_is_ever_expanded():
    problem = only_problem(bundle(XXE))
    assert "&x;" not in problem.message and "passwd" not in problem.message


# -- other modelers' extensions ------------------------------------------------------------------------------
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def zeebe_flavoured() -> bytes:
    """The real model with a service task and a user task written as Camunda 8 (Zeebe) saves them."""
    root = etree.fromstring(REAL.files[BPMN])
    ns = {"bpmn": BPMN_NS}
    capture = root.find(".//bpmn:serviceTask[@id='capture_payment']", ns)
    for attr in ("type", "topic"):
        del capture.attrib[f"{{{CAMUNDA}}}{attr}"]
    extensions = capture.find("bpmn:extensionElements", ns)
    etree.SubElement(
        extensions,
        f"{{{ZEEBE}}}taskDefinition",
        {"type": "payment.capture", "retries": "3"},
        nsmap={"zeebe": ZEEBE},
    )
    pay = root.find(".//bpmn:userTask[@id='pay_fees']", ns)
    del pay.attrib[f"{{{CAMUNDA}}}formKey"]
    pay_extensions = pay.find("bpmn:extensionElements", ns)  # it has one for its Vietnamese name
    etree.SubElement(
        pay_extensions,
        f"{{{ZEEBE}}}formDefinition",
        {"formKey": "camunda-forms:bpmn:fee_payment"},
        nsmap={"zeebe": ZEEBE},
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_zeebe_task_definitions_are_reported_per_element():
    problems = problems_of(bundle(zeebe_flavoured()))
    assert sorted((p.element_id, p.message) for p in problems) == [
        ("capture_payment", "service task has no camunda:topic"),
        ("pay_fees", "user task has no form (camunda:formKey)"),
    ]
    assert all(p.file == BPMN for p in problems)


def test_cosmetic_vendor_extensions_do_not_break_an_executable_model():
    text = edit(
        (
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:bioc="http://bpmn.io/schema/bpmn/biocolor/1.0" '
            'xmlns:color="http://www.omg.org/spec/BPMN/non-normative/color/1.0" '
            'xmlns:signavio="http://www.signavio.com" '
            'xmlns:bizagi="http://www.bizagi.com/bpmn20"',
        ),
        (
            '<bpmndi:BPMNShape id="publish_result_di" bpmnElement="publish_result">',
            '<bpmndi:BPMNShape id="publish_result_di" bpmnElement="publish_result" bioc:stroke="#1e88e5" '
            'bioc:fill="#bbdefb" color:background-color="#bbdefb" color:border-color="#1e88e5">',
        ),
        (
            '<camunda:property name="escalation" value="result_overdue" />',
            '<camunda:property name="escalation" value="result_overdue" />\n        </camunda:properties>\n'
            '        <signavio:signavioMetaData metaKey="bgcolor" metaValue="#ffffcc" />\n'
            '        <bizagi:BizagiExtensions><bizagi:BizagiProperties><bizagi:BizagiProperty name="bgColor" '
            'value="#ECEFFF" /></bizagi:BizagiProperties></bizagi:BizagiExtensions>\n'
            "        <camunda:properties>",
        ),
    )
    compiled = compile_bundle(bundle(text), known_topics=KNOWN_TOPICS)
    assert (
        compiled.specs.spec.task_specs["escalate_result_overdue"].extensions["escalation"] == "result_overdue"
    )


# -- corpus ----------------------------------------------------------------------------------------------
CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*.bpmn"))
# Corpus files the validator still gets wrong, each with the reason (their tests are strict xfails).
KNOWN_APP_BUGS: dict[str, str] = {}


def _corpus_param(name: str):
    reason = KNOWN_APP_BUGS.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, marks=marks, id=name)


def corpus_bundle(name: str) -> Bundle:
    files = {k: v for k, v in REAL.files.items() if k != BPMN}
    files[name] = (CORPUS / name).read_bytes()
    return Bundle(files)


@functools.cache
def compile_corpus(name: str) -> CompiledBundle | BaseException:
    """The validator's verdict on one corpus file (computed once per session)."""
    try:
        return compile_bundle(corpus_bundle(name), known_topics=KNOWN_TOPICS)
    except Exception as exc:  # noqa: BLE001 - the verdict, whatever it is, is what the tests inspect
        return exc


def test_corpus_is_large_and_documented():
    assert len(CORPUS_FILES) >= 50
    prefixes = {name.split("_", 1)[0] for name in CORPUS_FILES}
    assert prefixes == {"valid", "invalid", "foreign", "hostile"}
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for prefix in prefixes:
        assert f"`{prefix}_`" in readme
    assert sum(name.startswith("valid_") for name in CORPUS_FILES) >= 20
    assert set(KNOWN_APP_BUGS) <= set(CORPUS_FILES)


@pytest.mark.parametrize("name", [_corpus_param(n) for n in CORPUS_FILES])
def test_corpus_file(name):
    verdict = compile_corpus(name)
    if isinstance(verdict, BundleInvalid):
        assert not name.startswith("valid_"), "\n".join(str(p) for p in verdict.problems)
        assert verdict.problems
        for problem in verdict.problems:
            assert problem.file == name, str(problem)
            assert problem.element_id or problem.line, f"problem without element id or line: {problem}"
            assert problem.message.strip()
    elif isinstance(verdict, BaseException):
        pytest.fail(f"validator crashed on {name}: {type(verdict).__name__}: {verdict}"[:500])
    else:
        assert name.startswith("valid_"), f"{name} was accepted"


VALID_FILES = [n for n in CORPUS_FILES if n.startswith("valid_")]


@pytest.mark.parametrize("name", VALID_FILES)
def test_valid_corpus_file_runs_to_its_first_wait(name):
    """Accepted models start: user tasks resolve to a performer, service tasks evaluate their inputs."""
    compiled = compile_corpus(name)
    assert isinstance(compiled, CompiledBundle), compiled
    engine = PortalScriptEngine(NOW, WorkingCalendar())
    workflow = BpmnWorkflow(compiled.specs.spec, compiled.specs.subprocess_specs, script_engine=engine)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(SAMPLE_DATA)
    workflow.do_engine_steps()
    waiting = workflow.get_tasks(state=TaskState.READY) + workflow.get_tasks(state=TaskState.STARTED)
    assert waiting or workflow.waiting_events() or workflow.completed
    for task in workflow.get_tasks(state=TaskState.READY):
        spec = task.task_spec
        if isinstance(spec, PortalUserTask):
            group = spec.candidate_groups or spec.lane or ""
            group = str(evaluate_template(engine, group, task.data)) if "${" in group else group
            assert resolve_performer(group, task.data).organization
            assert compiled.forms.get(spec.form.key) is not None or spec.form.fields
    for task in workflow.get_tasks(state=TaskState.STARTED):
        if isinstance(task.task_spec, ExternalServiceTask):
            for _name, expr in task.task_spec.input_parameters:
                evaluate_template(engine, expr, task.data)


# -- app bugs, pinned until fixed ---------------------------------------------------------------------------
NON_DMN = {
    "SVG in a .dmn": b'<svg xmlns="http://www.w3.org/2000/svg"/>',
    "no namespace": b"<definitions/>",
    "BPMN in a .dmn": REAL.files[BPMN],
    "DMN without a decision": b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
    b'id="d" name="d" '
    b'namespace="x"/>',
    "DMN 1.2 namespace": REAL.files["fees.dmn"].replace(
        b"https://www.omg.org/spec/DMN/20191111/MODEL/", b"http://www.omg.org/spec/DMN/20180521/MODEL/"
    ),
}


@pytest.mark.parametrize("data", NON_DMN.values(), ids=NON_DMN.keys())
def test_a_dmn_file_that_is_not_a_usable_dmn_gives_bundle_invalid(data):
    try:
        compile_bundle(bundle(files={"fees.dmn": data}), known_topics=KNOWN_TOPICS)
    except BundleInvalid as exc:
        assert any(p.file == "fees.dmn" for p in exc.problems)
        return
    except Exception as exc:  # noqa: BLE001 - any other exception is the failure under test
        pytest.fail(f"{type(exc).__name__}: {exc}")
    pytest.fail("accepted")


@pytest.mark.parametrize(
    "cell", ["__import__('os').system('id')", ")(", "().__class__"], ids=["import", "syntax", "dunder"]
)
def test_dmn_cell_with_forbidden_syntax_is_reported(cell):
    dmn = (
        REAL.files["lead_agency.dmn"]
        .decode()
        .replace('<text>in ["0402", "0403", "0404", "0405", "0406"]</text>', f"<text>{cell}</text>", 1)
    )
    problems = problems_of(bundle(files={"lead_agency.dmn": dmn.encode()}))
    assert any(p.file == "lead_agency.dmn" for p in problems)


def test_iso_8859_1_declaration_over_vietnamese_text_is_refused():
    text = edit(
        ('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="ISO-8859-1"?>'),
        ('name="Pay inspection fees"', 'name="Nộp phí kiểm tra"'),
    )
    problem = only_problem(bundle(text.encode("utf-8")))
    assert problem.file == BPMN


def _fake_deploy_context():
    added: list = []
    return SimpleNamespace(
        session=SimpleNamespace(
            scalar=lambda query: None,
            add=added.append,
            flush=lambda: None,
            bind=SimpleNamespace(dialect=SimpleNamespace(name="sqlite")),  # no deploy lock to take
        ),
        runtime=SimpleNamespace(codec=WorkflowCodec()),
        record=lambda *a, **k: None,
        after_commit=[],
        actor=SimpleNamespace(username="test"),
        now=NOW,
        added=added,
    )


def test_the_real_bundle_deploys_through_the_fake_context():
    ctx = _fake_deploy_context()
    version = DeployBundle(REAL, known_topics=KNOWN_TOPICS).execute(ctx)
    assert version.process_id == "specialized_inspection" and ctx.added == [version]


ENCODED = {
    "ISO-8859-1": edit(
        ('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
        ('name="Pay inspection fees"', 'name="Payer les frais d\'inspection (réglés)"'),
    ).encode("iso-8859-1", errors="xmlcharrefreplace"),  # the Vietnamese step names as &#...; references
    "UTF-16": edit(('encoding="UTF-8"', 'encoding="UTF-16"')).encode("utf-16"),
}


@pytest.mark.parametrize("data", ENCODED.values(), ids=ENCODED.keys())
def test_what_the_validator_accepts_can_be_deployed(data):
    candidate = bundle(data)
    try:
        compile_bundle(candidate, known_topics=KNOWN_TOPICS)
    except BundleInvalid as exc:  # refusing the encoding is a fine fix too
        assert re.search("encod|UTF-8", str(exc), re.IGNORECASE)
        return
    DeployBundle(candidate, known_topics=KNOWN_TOPICS).execute(_fake_deploy_context())


PERFORMER_CASES = {
    "lane only": (
        'camunda:candidateGroups="trader" camunda:formKey="preservation_request"',
        'camunda:formKey="preservation_request"',
    ),
    "unknown kind": (
        'camunda:candidateGroups="trader" camunda:formKey="preservation_request"',
        'camunda:candidateGroups="inspector:${lead_agency}" camunda:formKey="preservation_request"',
    ),
}


@pytest.mark.parametrize("replacement", PERFORMER_CASES.values(), ids=PERFORMER_CASES.keys())
def test_every_accepted_user_task_resolves_to_a_performer(replacement):
    try:
        compiled = compile_bundle(bundle(edit(replacement)), known_topics=KNOWN_TOPICS)
    except BundleInvalid:
        return
    engine = PortalScriptEngine(NOW, WorkingCalendar())
    spec = compiled.specs.spec.task_specs["request_preservation"]
    group = spec.candidate_groups or spec.lane or ""
    group = str(evaluate_template(engine, group, SAMPLE_DATA)) if "${" in group else group
    resolve_performer(group, SAMPLE_DATA)


FEE_FORM = "forms/fee_payment.json"
CONTEXT_CASES = {
    "a user task, not a decision": (
        [{"decision": "pay_fees", "output": "fee_vnd"}],
        "'pay_fees' is not a business rule task of the model",
    ),
    "an output the fee table does not have": (
        [{"decision": "compute_fees", "output": "fee_usd"}],
        "'fee_usd' is not an output of its decision table (outputs: fee_vnd)",
    ),
    "an unknown format": (
        [{"decision": "compute_fees", "output": "fee_vnd", "format": "euros"}],
        "format 'euros' is not one of money, number, text",
    ),
    "an item without an output": ([{"decision": "compute_fees"}], "x-context must be a list"),
    "not a list": ({"decision": "compute_fees", "output": "fee_vnd"}, "x-context must be a list"),
}


@pytest.mark.parametrize(("context", "message"), CONTEXT_CASES.values(), ids=CONTEXT_CASES.keys())
def test_a_form_showing_a_decision_output_must_name_a_real_one(context, message):
    schema = json.loads(REAL.files[FEE_FORM])
    schema["x-context"] = context
    problem = only_problem(bundle(files={FEE_FORM: json.dumps(schema).encode()}))
    assert (problem.file, problem.element_id) == (BPMN, "pay_fees")
    assert message in problem.message


def test_the_pay_form_shows_the_fee_the_fee_table_decides():
    context = json.loads(REAL.files[FEE_FORM])["x-context"]
    assert [(c["decision"], c["output"], c["format"]) for c in context] == [
        ("compute_fees", "fee_vnd", "money")
    ]
    assert "fee_vnd" not in json.loads(REAL.files[FEE_FORM])["description"]
