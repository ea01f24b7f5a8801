"""The Vietnamese catalog covers every message of the pages and e-mails, and its compiled form is current;
every step of the model has its Vietnamese name (``name_vi``), which the stored spec carries."""

from __future__ import annotations

import io

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from lxml import etree

from app.engine.bundle import compile_bundle, load_bundle
from app.engine.serializer import WorkflowCodec
from app.i18n import TRANSLATIONS_DIR
from app.settings import PROJECT_ROOT
from app.step_names import StepNames, steps_of_spec_json, vietnamese_diagram, vietnamese_name

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2"), ("forms/**.html", "jinja2")]


def _catalog():
    with open(TRANSLATIONS_DIR / "vi" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle)


def test_every_message_of_the_portal_has_vietnamese_text():
    catalog = _catalog()
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "lazy_gettext": None}
    found = {
        (message if isinstance(message, str) else message[0])
        for _file, _line, message, _comments, _context in extract_from_dir(
            PROJECT_ROOT / "app", METHOD_MAP, keywords=keywords
        )
    }
    assert len(found) > 150
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert missing == []


def test_the_compiled_catalog_matches_its_source():
    source = {m.id: m.string for m in _catalog() if m.id and not m.fuzzy}
    with open(TRANSLATIONS_DIR / "vi" / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = {m.id: m.string for m in read_mo(io.BytesIO(handle.read())) if m.id}
    assert compiled == source


def test_vietnamese_text_keeps_its_diacritics():
    catalog = _catalog()
    assert catalog.get("Inbox").string == "Hộp việc"
    assert catalog.get("Wrong username or password.").string == "Sai tên đăng nhập hoặc mật khẩu."


FLOW_NODES = (
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "userTask",
    "serviceTask",
    "businessRuleTask",
    "scriptTask",
    "sendTask",
    "receiveTask",
    "manualTask",
    "task",
    "callActivity",
    "subProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
)


def test_every_flow_node_of_the_model_has_a_vietnamese_name():
    bundle = load_bundle(PROJECT_ROOT / "bpmn")
    compiled = compile_bundle(bundle)
    specs = {
        spec.bpmn_id: spec
        for process in (compiled.specs.spec, *compiled.specs.subprocess_specs.values())
        for spec in process.task_specs.values()
        if spec.bpmn_id
    }
    for name in bundle.bpmn_files():
        root = etree.fromstring(bundle.files[name])
        nodes = [n for tag in FLOW_NODES for n in root.iter(f"{{{BPMN_NS}}}{tag}")]
        assert len(nodes) > 30
        for node in nodes:
            english, vietnamese = node.get("name"), vietnamese_name(specs[node.get("id")])
            assert english and vietnamese, f"{name}: {node.get('id')} needs a name and a name_vi"
            assert vietnamese != english and not vietnamese.isascii(), (node.get("id"), vietnamese)


def test_every_named_sequence_flow_has_a_vietnamese_label_which_the_diagram_shows():
    bundle = load_bundle(PROJECT_ROOT / "bpmn")
    for name in bundle.bpmn_files():
        xml = bundle.files[name]
        named = [f for f in etree.fromstring(xml).iter(f"{{{BPMN_NS}}}sequenceFlow") if f.get("name")]
        assert len(named) >= 10
        drawn = {
            f.get("id"): f.get("name")
            for f in etree.fromstring(vietnamese_diagram(xml.decode("utf-8"))).iter(
                f"{{{BPMN_NS}}}sequenceFlow"
            )
        }
        for flow in named:
            vietnamese = [
                p.get("value")
                for p in flow.iterfind(f"./{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}properties/*")
                if p.get("name") == "name_vi"
            ]
            assert vietnamese and not vietnamese[0].isascii(), f"{name}: {flow.get('id')} needs a name_vi"
            assert drawn[flow.get("id")] == vietnamese[0].strip()


def test_the_stored_spec_gives_each_step_its_vietnamese_name():
    compiled = compile_bundle(load_bundle(PROJECT_ROOT / "bpmn"))
    stored = WorkflowCodec().dump_specs(compiled.specs.spec, compiled.specs.subprocess_specs)
    names = StepNames.of([steps_of_spec_json(stored)])
    assert names.vi("record_sampling", "Record the sampling") == "Lập biên bản lấy mẫu"
    assert names.vi("move_containers", None) == "Yêu cầu cảng di chuyển container"  # inside the sub-process
    assert names.by_message["ContainerPositioned"] == ("Containers positioned", "Container đã vào vị trí")
    assert names.vi("ContainerPositioned", "ContainerPositioned") == "Container đã vào vị trí"
    assert names.english("clear_goods") == "Clear the goods"
    # A gateway or a sub-process carries its own properties, not those of the steps inside it.
    assert names.vi("port_move", None) == "Đưa container đến khu vực lấy mẫu"
    assert names.vi("declaration_ok", "Declaration accepted?") == "Tờ khai được chấp nhận?"
