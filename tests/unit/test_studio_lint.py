"""The analyst studio's lint rules on the real bundle, one mistake at a time: exclusive gateways need a
default flow (or two complementary conditions), messages must be callbacks the portal receives, timer
literals must be quoted and parse, performers must resolve, and every problem carries its line and the
element's name."""

from __future__ import annotations

import pytest

from app.engine.bundle import Bundle, BundleInvalid, Problem, compile_bundle, load_bundle
from app.engine.commands.messages import KNOWN_MESSAGES
from app.settings import PROJECT_ROOT
from app.tasks import KNOWN_TOPICS

pytestmark = pytest.mark.timeout(20)

BPMN = "specialized_inspection.bpmn"
REAL = load_bundle(PROJECT_ROOT / "bpmn")
TEXT = REAL.files[BPMN].decode("utf-8")


def edited(*replacements: tuple[str, str]) -> Bundle:
    text = TEXT
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return Bundle({**REAL.files, BPMN: text.encode("utf-8")})


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
            (
                'name="fail" sourceRef="result_gateway" targetRef="handle_non_compliance" />',
                'name="fail" sourceRef="result_gateway" targetRef="handle_non_compliance">'
                '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">result == "fail"'
                "</bpmn:conditionExpression></bpmn:sequenceFlow>",
            ),
        )
    )
    assert (problem.element_id, problem.element_name) == ("result_gateway", "Result?")
    assert problem.line == line_of('<bpmn:exclusiveGateway id="result_gateway"')
    assert "no default flow" in problem.message


def test_exclusive_gateway_with_complementary_conditions_needs_no_default():
    compile_bundle(
        edited(
            (' default="Flow_result_gateway_to_handle_non_compliance"', ""),
            (
                'name="fail" sourceRef="result_gateway" targetRef="handle_non_compliance" />',
                'name="fail" sourceRef="result_gateway" targetRef="handle_non_compliance">'
                '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">not (result == "pass")'
                "</bpmn:conditionExpression></bpmn:sequenceFlow>",
            ),
        ),
        known_topics=KNOWN_TOPICS,
    )


def test_message_the_portal_does_not_receive():
    [problem] = problems(edited(('name="ContainerPositioned"', 'name="ContainersMoved"')))
    assert problem.element_id == "container_positioned"
    assert "'ContainersMoved' is not a callback the portal receives" in problem.message
    assert "ContainerPositioned" in problem.message


@pytest.mark.parametrize("bare", ["PT12H", "P1D", "R3/PT1H"])
def test_unquoted_timer_literal(bare):
    [problem] = problems(edited(('"PT12H"</bpmn:timeDuration>', f"{bare}</bpmn:timeDuration>")))
    assert problem.element_id == "port_move_sla"
    assert f'quote it ("{bare}")' in problem.message
    assert problem.line == line_of('<bpmn:boundaryEvent id="port_move_sla"')


@pytest.mark.parametrize(
    ("tag", "old", "literal"),
    [
        ("timeDuration", '"PT12H"', '"PT12X"'),
        ("timeDuration", '"PT12H"', '""'),
        ("timeDate", "working_hours(2)", '"next monday"'),
    ],
    ids=["bad duration", "empty duration", "bad date"],
)
def test_quoted_timer_literal_that_does_not_parse(tag, old, literal):
    [problem] = problems(edited((f"{old}</bpmn:{tag}>", f"{literal}</bpmn:{tag}>")))
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
            ('"PT12H"</bpmn:timeDuration>', "PT12H</bpmn:timeDuration>"),
        )
    )
    assert {(p.element_id, p.element_name) for p in found} == {
        ("capture_payment", "Capture the payment"),
        ("port_move_sla", "12 hours passed"),
    }
    assert all(p.line for p in found)
