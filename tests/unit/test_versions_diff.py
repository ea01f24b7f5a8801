"""The diff of two model versions as an analyst reads it: elements added, removed and changed (with the
attributes that changed), forms field by field, decision rules with their inputs and outputs; the same
answer from bundles and from what a deployed version stored; a text rendering and JSON."""

from __future__ import annotations

import json

import pytest

from app.engine.bundle import Bundle, compile_bundle
from app.engine.serializer import WorkflowCodec
from app.engine.versions_diff import (
    ADDED,
    CHANGED,
    REMOVED,
    VersionDiff,
    diff_snapshots,
    render_text,
    snapshot_of_bundle,
    snapshot_of_version,
)
from tests.model_versions import BPMN, REAL, replace_once, version_2

pytestmark = pytest.mark.timeout(30)

V1 = snapshot_of_bundle("version 1", REAL)
V2_BUNDLE = version_2()
V2 = snapshot_of_bundle("version 2", V2_BUNDLE)


def edited(*replacements: tuple[str, str], files: dict[str, bytes] | None = None) -> Bundle:
    text = REAL.files[BPMN].decode("utf-8")
    for old, new in replacements:
        text = replace_once(text, old, new)
    return Bundle({**REAL.files, BPMN: text.encode("utf-8"), **(files or {})})


def diff_with(candidate: Bundle) -> VersionDiff:
    return diff_snapshots(V1, snapshot_of_bundle("candidate", candidate))


def element(diff: VersionDiff, element_id: str):
    found = [e for e in diff.elements if e.element_id == element_id]
    assert found, [e.element_id for e in diff.elements]
    return found[0]


def changes(item) -> dict[str, tuple]:
    return {c.attribute: (c.old, c.new) for c in item.changes}


def test_a_version_compared_with_itself_has_no_differences():
    diff = diff_snapshots(V1, snapshot_of_bundle("again", REAL))
    assert diff.empty
    assert render_text(diff) == "version 1 -> again\n  no differences"


def test_version_2_elements():
    diff = diff_snapshots(V1, V2)
    assert {(e.element_id, e.status) for e in diff.elements} == {
        ("nominate_containers", REMOVED),
        ("needs_nomination", CHANGED),
        ("move_containers", CHANGED),
        ("port_move_sla", CHANGED),
        ("record_sampling", CHANGED),
        ("payment_sla", ADDED),
        ("payment_overdue", ADDED),
    }
    removed = element(diff, "nominate_containers")
    assert (removed.type, removed.name) == ("user task", "Nominate containers for inspection")
    renamed = element(diff, "record_sampling")
    assert changes(renamed) == {"name": ("Record the sampling", "Record the sampling and seal the samples")}
    assert changes(element(diff, "port_move_sla")) == {
        "timer": ("date hours_after(registered_at, 12)", "date hours_after(registered_at, 10)")
    }
    assert changes(element(diff, "move_containers")) == {
        "input containers": (
            "${nominated_containers if container_count >= 5 else containers}",
            "${containers}",
        )
    }
    assert element(diff, "move_containers").process == "port_move"
    gateway = changes(element(diff, "needs_nomination"))
    assert gateway["conditions"] == (
        "to nominate_containers: container_count >= 5",
        "to nomination_join: container_count >= 5",
    )
    added = element(diff, "payment_sla")
    assert added.type == "boundary event"
    assert changes(added)["timer"] == (None, 'duration "PT72H"')
    assert changes(added)["attached to"] == (None, "pay_fees")


def test_version_2_forms_and_decision_rules():
    diff = diff_snapshots(V1, V2)
    [form] = diff.forms
    assert (form.form, form.status) == ("sampling_record", CHANGED)
    [field] = form.fields
    assert (field.field, field.status) == ("seal_photo_ref", ADDED)
    assert changes(field)["required"] == (None, False)
    [decision] = diff.decisions
    assert (decision.decision_id, decision.status, decision.name) == ("fees", CHANGED, "Inspection fees")
    [rule] = decision.rules
    assert (rule.rule_id, rule.status, rule.changed_cells) == ("Rule_fee_03", CHANGED, ("fee_vnd",))
    assert rule.old.inputs == rule.new.inputs == {"Lead agency": 'in ["RAHO6", "PPSD2"]', "Goods items": "-"}
    assert rule.old.outputs["fee_vnd"].startswith("300000 + ")
    assert rule.new.outputs["fee_vnd"].startswith("350000 + ")


@pytest.mark.parametrize(
    ("replacement", "element_id", "attribute", "values"),
    [
        (
            (
                'camunda:candidateGroups="agency:${lead_agency}" camunda:formKey="inspection_result"',
                'camunda:candidateGroups="customs:${customs_branch}" camunda:formKey="inspection_result"',
            ),
            "publish_result",
            "performers",
            ("agency:${lead_agency}", "customs:${customs_branch}"),
        ),
        (
            ('camunda:formKey="fee_payment"', 'camunda:formKey="escalation_review"'),
            "pay_fees",
            "form",
            ("fee_payment", "escalation_review"),
        ),
        (
            ('camunda:topic="customs.clear"', 'camunda:topic="payment.capture"'),
            "clear_goods",
            "service topic",
            ("customs.clear", "payment.capture"),
        ),
        (
            (
                '<camunda:property name="escalation" value="result_overdue" />',
                '<camunda:property name="escalation" value="result_late" />',
            ),
            "escalate_result_overdue",
            "properties",
            ("escalation=result_overdue", "escalation=result_late"),
        ),
        (
            ('result == "pass"', 'result in ("pass", "conditional")'),
            "result_gateway",
            "conditions",
            ('to compute_fees: result == "pass"', 'to compute_fees: result in ("pass", "conditional")'),
        ),
        (
            ('camunda:dueDate="${working_hours(2)}"', 'camunda:dueDate="${working_hours(1)}"'),
            "decide_preservation",
            "due date",
            ("${working_hours(2)}", "${working_hours(1)}"),
        ),
    ],
    ids=["performers", "form", "topic", "properties", "conditions", "due date"],
)
def test_each_attribute_an_analyst_changes(replacement, element_id, attribute, values):
    diff = diff_with(edited(replacement))
    [changed] = diff.elements
    assert (changed.element_id, changed.status) == (element_id, CHANGED)
    assert changes(changed) == {attribute: values}


def test_form_fields_removed_and_changed():
    form = json.loads(REAL.files["forms/fee_payment.json"])
    form["properties"]["payment_method"]["enum"].remove("e_wallet")
    del form["properties"]["payer_account"]
    form["required"] = ["payment_method"]
    diff = diff_with(edited(files={"forms/fee_payment.json": json.dumps(form).encode()}))
    [changed] = diff.forms
    fields = {f.field: f for f in changed.fields}
    assert fields["payer_account"].status == REMOVED
    assert changes(fields["payment_method"]) == {
        "enum": (["bank_transfer", "card", "e_wallet"], ["bank_transfer", "card"])
    }


def test_decision_rules_added_and_removed():
    fees = REAL.files["fees.dmn"].decode()
    start = fees.index('<rule id="Rule_fee_02">')
    end = fees.index("</rule>", start) + len("</rule>")
    rule = fees[start:end]
    fees = fees[:start] + fees[end:]
    fees = fees.replace("</decisionTable>", rule.replace("Rule_fee_02", "Rule_fee_99") + "</decisionTable>")
    diff = diff_with(edited(files={"fees.dmn": fees.encode()}))
    [decision] = diff.decisions
    statuses = {r.rule_id: r.status for r in decision.rules}
    assert statuses["Rule_fee_02"] == REMOVED and statuses["Rule_fee_99"] == ADDED
    text = render_text(diff)
    assert "- rule Rule_fee_02 (row 2): when Lead agency in" in text
    assert "+ rule Rule_fee_99" in text


def test_a_deployed_version_compares_like_its_bundle():
    codec = WorkflowCodec()
    compiled = compile_bundle(V2_BUNDLE)
    stored = snapshot_of_version(
        "version 2",
        codec.dump_specs(compiled.specs.spec, compiled.specs.subprocess_specs),
        compiled.forms,
        {name: data.decode("utf-8") for name, data in V2_BUNDLE.files.items()},
    )
    assert diff_snapshots(V1, stored) == diff_snapshots(V1, V2)


def test_text_rendering_reads_like_a_change_list():
    text = render_text(diff_snapshots(V1, V2))
    for line in (
        "version 1 -> version 2",
        "Elements: 2 added, 1 removed, 4 changed",
        '  ~ service task move_containers "Ask the port to move the containers"  [in port_move]',
        "      input containers: ${nominated_containers if container_count >= 5 else containers}"
        " -> ${containers}",
        '  - user task nominate_containers "Nominate containers for inspection"',
        '  ~ user task record_sampling "Record the sampling and seal the samples"',
        "      name: Record the sampling -> Record the sampling and seal the samples",
        "      timer: date hours_after(registered_at, 12) -> date hours_after(registered_at, 10)",
        "Forms: 1 changed",
        "      + field seal_photo_ref (string, optional)",
        "Decision rules: 1 changed",
        "      ~ rule Rule_fee_03 (row 3): fee_vnd",
    ):
        assert line in text.splitlines(), line


def test_json_form_of_the_diff():
    data = json.loads(json.dumps(diff_snapshots(V1, V2).as_dict()))
    assert data["old"] == "version 1" and data["new"] == "version 2"
    renamed = next(e for e in data["elements"] if e["element_id"] == "record_sampling")
    assert renamed["changes"] == [
        {"attribute": "name", "old": "Record the sampling", "new": "Record the sampling and seal the samples"}
    ]
