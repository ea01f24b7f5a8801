"""A second version of the real bundle, edited the way an analyst would, for the diff and migration tests.

Version 2 renames "Record the sampling", shortens the port-move SLA timer (12 to 10 hours from
registration), adds a payment SLA timer on "Pay inspection fees", removes "Nominate containers for
inspection" (the port moves every container declared, so "Ask the port to move the containers" takes
new inputs), raises the quarantine fee in ``fees.dmn`` and adds an optional photo reference to the
sampling-record form."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.engine.bundle import Bundle, load_bundle
from app.settings import PROJECT_ROOT

BPMN = "specialized_inspection.bpmn"
REAL = load_bundle(PROJECT_ROOT / "bpmn")

RENAMED = ("record_sampling", "Record the sampling", "Record the sampling and seal the samples")
REMOVED = "nominate_containers"
PAYMENT_SLA = """
    <bpmn:boundaryEvent id="payment_sla" name="3 days without payment" cancelActivity="false"
        attachedToRef="pay_fees">
      <bpmn:outgoing>Flow_payment_sla_to_payment_overdue</bpmn:outgoing>
      <bpmn:timerEventDefinition id="payment_sla_timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT72H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="payment_overdue" name="Payment overdue noted">
      <bpmn:incoming>Flow_payment_sla_to_payment_overdue</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_payment_sla_to_payment_overdue" sourceRef="payment_sla"
        targetRef="payment_overdue" />
"""
PHOTO_FIELD = {
    "title": "Photo of the sealed samples",
    "description": "Reference of the photo taken of the sealed samples (optional).",
    "type": "string",
    "maxLength": 64,
}


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def without_element(text: str, tag: str, element_id: str) -> str:
    """Drop one element (``<tag id="...">...</tag>`` or self-closed) from the XML text."""
    pattern = re.compile(rf'\n[ \t]*<{tag} id="{re.escape(element_id)}"[^>]*?(/>|>.*?</{tag}>)', re.DOTALL)
    text, count = pattern.subn("", text, count=1)
    assert count == 1, f"<{tag} id={element_id}> not found"
    return text


def version_2_bpmn(text: str | None = None) -> str:
    text = text if text is not None else REAL.files[BPMN].decode("utf-8")
    element, old_name, new_name = RENAMED
    text = replace_once(text, f'id="{element}" name="{old_name}"', f'id="{element}" name="{new_name}"')
    text = replace_once(text, "hours_after(registered_at, 12)<", "hours_after(registered_at, 10)<")
    # Remove the nomination: containers always go straight to the move.
    text = without_element(text, "bpmn:userTask", REMOVED)
    text = without_element(text, "bpmn:sequenceFlow", "Flow_nominate_containers_to_nomination_join")
    text = replace_once(text, "<bpmn:flowNodeRef>nominate_containers</bpmn:flowNodeRef>", "")
    text = replace_once(
        text, "${nominated_containers if container_count &gt;= 5 else containers}", "${containers}"
    )
    text = replace_once(
        text, "      <bpmn:incoming>Flow_nominate_containers_to_nomination_join</bpmn:incoming>\n", ""
    )
    text = replace_once(
        text,
        'name="5 or more" sourceRef="needs_nomination" targetRef="nominate_containers"',
        'name="5 or more" sourceRef="needs_nomination" targetRef="nomination_join"',
    )
    text = replace_once(
        text,
        "<bpmn:outgoing>Flow_nomination_join_to_port_move</bpmn:outgoing>",
        "<bpmn:incoming>Flow_needs_nomination_to_nominate_containers</bpmn:incoming>\n"
        "      <bpmn:outgoing>Flow_nomination_join_to_port_move</bpmn:outgoing>",
    )
    for di in ("nominate_containers_di", "Flow_nominate_containers_to_nomination_join_di"):
        tag = "bpmndi:BPMNShape" if di == "nominate_containers_di" else "bpmndi:BPMNEdge"
        text = without_element(text, tag, di)
    # A payment SLA on the trader's payment.
    text = replace_once(
        text,
        "<bpmn:flowNodeRef>pay_fees</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>pay_fees</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>payment_sla</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>payment_overdue</bpmn:flowNodeRef>",
    )
    return replace_once(text, "  </bpmn:process>", PAYMENT_SLA + "  </bpmn:process>")


def version_2() -> Bundle:
    files = dict(REAL.files)
    files[BPMN] = version_2_bpmn().encode("utf-8")
    fees = REAL.files["fees.dmn"].decode("utf-8")
    files["fees.dmn"] = replace_once(fees, "<text>300000 + (min(", "<text>350000 + (min(").encode("utf-8")
    form = json.loads(REAL.files["forms/sampling_record.json"])
    form["properties"]["seal_photo_ref"] = PHOTO_FIELD
    files["forms/sampling_record.json"] = json.dumps(form, ensure_ascii=False, indent=2).encode("utf-8")
    return Bundle(files)


def write_bundle(bundle: Bundle, folder: Path) -> Path:
    """Write a bundle's files into ``folder`` (as an analyst's edited copy of bpmn/)."""
    for name, data in bundle.files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder
