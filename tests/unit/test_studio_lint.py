"""The analyst studio's lint rules on the real bundle, one mistake at a time: exclusive gateways need a
default flow or complete conditions (two complementary ones, or one that is ``True``), a single
conditional flow without a default is refused, messages must be callbacks the portal receives, timer
literals must be quoted and parse, performers must resolve, and every problem carries its line and the
element's name."""

from __future__ import annotations

import pytest
from lxml import etree

from app.engine.bundle import Bundle, BundleInvalid, Problem, compile_bundle, load_bundle
from app.engine.commands.messages import KNOWN_MESSAGES
from app.engine.lint import lint_xml
from app.settings import PROJECT_ROOT
from app.tasks import KNOWN_TOPICS

pytestmark = pytest.mark.timeout(20)

BPMN = "specialized_inspection.bpmn"
REAL = load_bundle(PROJECT_ROOT / "bpmn")
TEXT = REAL.files[BPMN].decode("utf-8")

# The port's 12 hours from registration, as the shipped model writes them.
PORT_TIMER = '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">hours_after(registered_at, 12)</bpmn:timeDate>'


def edited(*replacements: tuple[str, str]) -> Bundle:
    text = TEXT
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return Bundle({**REAL.files, BPMN: text.encode("utf-8")})


def fail_flow_condition(expression: str) -> tuple[str, str]:
    """A condition on the result gateway's "fail" flow (plain in the model), after its Vietnamese label."""
    label = '<camunda:property name="name_vi" value="không đạt" />\n        </camunda:properties>\n'
    label += "      </bpmn:extensionElements>\n"
    condition = (
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{expression}</bpmn:conditionExpression>'
    )
    return label, label + condition


def problems(candidate: Bundle) -> list[Problem]:
    with pytest.raises(BundleInvalid) as caught:
        compile_bundle(candidate, known_topics=KNOWN_TOPICS, known_messages=KNOWN_MESSAGES)
    return caught.value.problems


def line_of(text: str) -> int:
    return TEXT[: TEXT.index(text)].count("\n") + 1


def test_the_real_bundle_passes_every_rule():
    compile_bundle(REAL, known_topics=KNOWN_TOPICS, known_messages=KNOWN_MESSAGES)


def test_exclusive_gateway_without_default_flow():
    [problem] = problems(
        edited(
            (
                ' default="Flow_result_gateway_to_handle_non_compliance"',
                "",
            ),
            fail_flow_condition('result == "fail"'),
        )
    )
    assert (problem.element_id, problem.element_name) == ("result_gateway", "Result?")
    assert problem.line == line_of('<bpmn:exclusiveGateway id="result_gateway"')
    assert "no default flow" in problem.message


def test_exclusive_gateway_with_complementary_conditions_needs_no_default():
    compile_bundle(
        edited(
            (' default="Flow_result_gateway_to_handle_non_compliance"', ""),
            fail_flow_condition('not (result == "pass")'),
        ),
        known_topics=KNOWN_TOPICS,
    )


def test_exclusive_gateway_with_a_true_condition_needs_no_default():
    compile_bundle(
        edited(
            (' default="Flow_result_gateway_to_handle_non_compliance"', ""),
            fail_flow_condition("True"),
        ),
        known_topics=KNOWN_TOPICS,
    )


def test_joining_gateway_whose_single_flow_gets_a_condition():
    """``nomination_join`` has one plain outgoing flow; a condition on it can leave the consignment stuck."""
    [problem] = problems(
        edited(
            (
                'sourceRef="nomination_join" targetRef="port_move" />',
                'sourceRef="nomination_join" targetRef="port_move">'
                '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">container_count &gt; 0'
                "</bpmn:conditionExpression></bpmn:sequenceFlow>",
            )
        )
    )
    assert (problem.element_id, problem.element_name) == ("nomination_join", "Containers chosen")
    assert problem.line == line_of('<bpmn:exclusiveGateway id="nomination_join"')
    assert "single conditional flow and no default" in problem.message


GATEWAY = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<bpmn:process id="p">
<bpmn:exclusiveGateway id="gw" name="Decide"{default}/>
{flows}
</bpmn:process></bpmn:definitions>"""


def gateway_problems(*conditions: str | None, default: str | None = None) -> list[str]:
    """Lint a gateway with one outgoing flow per condition (``None``: a flow without condition)."""
    flows = "\n".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="gw" targetRef="t{i}">'
        + (f"<bpmn:conditionExpression>{c}</bpmn:conditionExpression>" if c is not None else "")
        + "</bpmn:sequenceFlow>"
        for i, c in enumerate(conditions)
    )
    xml = GATEWAY.format(default=f' default="{default}"' if default else "", flows=flows)
    found = lint_xml(etree.fromstring(xml.encode()), "g.bpmn")
    assert all((p.element_id, p.element_name, p.line) == ("gw", "Decide", 3) for p in found)
    return [p.message for p in found]


GATEWAYS = {
    "one flow without condition": ((None,), None, None),
    "one conditional flow": (("fee_vnd &gt; 0",), None, "single conditional flow and no default"),
    "one conditional flow that is the default": (("fee_vnd &gt; 0",), "f0", None),
    "one flow whose condition is True": (("True",), None, None),
    "one flow whose condition is (True)": ((" (True) ",), None, None),
    "one flow whose condition is the string 'True'": (("'True'",), None, "single conditional flow"),
    "one flow whose condition is 1": (("1",), None, "single conditional flow"),
    "c and not c": (("paid", "not paid"), None, None),
    "not c and c": (("not (a == 1)", "a == 1"), None, None),
    "c and True": (("a == 1", "True"), None, None),
    "True among three": (("a == 1", "a == 2", "True"), None, None),
    "two unrelated conditions": (("a == 1", "a == 2"), None, "has no default flow"),
    "c and not c and a third": (("c", "not c", "d"), None, "has no default flow"),
    "c and a broken condition": (("c", "not (c"), None, "has no default flow"),
    "two conditions and a default": (("a == 1", "a == 2"), "f1", None),
    "no outgoing flow": ((), None, None),
}


@pytest.mark.parametrize(("conditions", "default", "message"), GATEWAYS.values(), ids=GATEWAYS.keys())
def test_exclusive_gateway_rules(conditions, default, message):
    found = gateway_problems(*conditions, default=default)
    if message is None:
        assert found == []
    else:
        assert len(found) == 1 and message in found[0], found


def test_message_the_portal_does_not_receive():
    [problem] = problems(edited(('name="ContainerPositioned"', 'name="ContainersMoved"')))
    assert problem.element_id == "container_positioned"
    assert "'ContainersMoved' is not a callback the portal receives" in problem.message
    assert "ContainerPositioned" in problem.message


@pytest.mark.parametrize("bare", ["PT12H", "P1D", "R3/PT1H"])
def test_unquoted_timer_literal(bare):
    [problem] = problems(
        edited(
            (PORT_TIMER, f'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{bare}</bpmn:timeDuration>')
        )
    )
    assert problem.element_id == "port_move_sla"
    assert f'quote it ("{bare}")' in problem.message
    assert problem.line == line_of('<bpmn:boundaryEvent id="port_move_sla"')


@pytest.mark.parametrize(
    ("tag", "old", "literal"),
    [
        ("timeDuration", "working_hours(2)</bpmn:timeDate>", '"PT12X"'),
        ("timeDuration", "working_hours(2)</bpmn:timeDate>", '""'),
        ("timeDate", "working_hours(2)</bpmn:timeDate>", '"next monday"'),
    ],
    ids=["bad duration", "empty duration", "bad date"],
)
def test_quoted_timer_literal_that_does_not_parse(tag, old, literal):
    timer = (
        "preservation_decision_sla_timer" + '">\n        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">'
    )
    expression = f'<bpmn:{tag} xsi:type="bpmn:tFormalExpression">{literal}</bpmn:{tag}>'
    replacement = f'preservation_decision_sla_timer">\n        {expression}'
    [problem] = problems(edited((timer + old, replacement)))
    assert "is not an ISO 8601" in problem.message or "no expression" in problem.message


def test_lane_alone_is_not_a_performer():
    [problem] = problems(
        edited(
            (
                'camunda:candidateGroups="trader" camunda:formKey="preservation_request"',
                'camunda:formKey="preservation_request"',
            )
        )
    )
    assert problem.element_id == "request_preservation"
    assert problem.element_name == "Request release for preservation"
    assert "lane 'Trader' is not a performer" in problem.message


def test_candidate_group_of_an_unknown_kind():
    [problem] = problems(
        edited(
            (
                'camunda:candidateGroups="trader" camunda:formKey="preservation_request"',
                'camunda:candidateGroups="inspector:${lead_agency}" camunda:formKey="preservation_request"',
            )
        )
    )
    assert "candidateGroups 'inspector:${lead_agency}' is not a performer" in problem.message


def test_candidate_group_without_organization():
    [problem] = problems(
        edited(
            (
                'camunda:candidateGroups="agency:${lead_agency}" camunda:formKey="inspection_result"',
                'camunda:candidateGroups="agency" camunda:formKey="inspection_result"',
            )
        )
    )
    assert problem.element_id == "publish_result"
    assert "names no organization" in problem.message


def test_a_countersignature_of_an_unsigned_record():
    sampling_signed = (
        '<camunda:property name="signature" value="required" />\n        </camunda:properties>\n'
        "      </bpmn:extensionElements>\n      <bpmn:incoming>Flow_sampling_join_to_record_sampling"
    )
    [problem] = problems(
        edited(
            (
                sampling_signed,
                sampling_signed.replace('<camunda:property name="signature" value="required" />', ""),
            )
        )
    )
    assert (problem.element_id, problem.element_name) == (
        "countersign_sampling",
        "Countersign the sampling record",
    )
    assert "countersigns 'record_sampling', which is not a signed user task" in problem.message


def test_boundary_event_on_a_missing_activity():
    [problem] = problems(edited(('attachedToRef="publish_result"', 'attachedToRef="publish_results"')))
    assert problem.element_id == "result_sla"
    assert "attached to 'publish_results'" in problem.message
    assert problem.line == line_of('<bpmn:boundaryEvent id="result_sla"')


def test_every_lint_problem_has_a_line_and_a_name():
    found = problems(
        edited(
            ('camunda:topic="payment.capture"', 'camunda:topic="payment.refund"'),
            (PORT_TIMER, '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT12H</bpmn:timeDuration>'),
        )
    )
    assert {(p.element_id, p.element_name) for p in found} == {
        ("capture_payment", "Capture the payment"),
        ("port_move_sla", "12 hours passed"),
    }
    assert all(p.line for p in found)
