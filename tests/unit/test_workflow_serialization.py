"""Save and restore a running workflow (SpiffWorkflow's ``save_restore`` idea) with the portal's codec.

The real model runs in memory, with no database. After every step the workflow is dumped with
``WorkflowCodec.dump_state`` and loaded back onto the deployed specs. The restored workflow must have the
same tasks, states and data, and it is the restored one that carries on. The stored state holds no spec.
Timers read the script engine's clock, never the system clock."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timedelta

import pytest
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from app.engine.bundle import Bundle, compile_bundle, load_bundle
from app.engine.script_engine import PortalScriptEngine
from app.engine.serializer import DeployedSpecs, WorkflowCodec, _build_registries, decompress
from app.engine.specs import ClockedDurationTimerEventDefinition, ClockedTimeDateEventDefinition
from app.engine.working_time import WorkingCalendar
from app.settings import PROJECT_ROOT
from app.tasks import KNOWN_TOPICS

pytestmark = pytest.mark.timeout(30)

T0 = datetime.fromisoformat("2026-12-07T08:00:00+07:00")  # a Monday morning at Cat Lai
CALENDAR = WorkingCalendar()
CODEC = WorkflowCodec()
SPIFF_CODEC = WorkflowCodec(task_converter=TaskConverter)  # SpiffWorkflow's own task converter
CORPUS = PROJECT_ROOT / "tests" / "corpus" / "bpmn"
REGISTRATION = {
    "declaration_no": "106865793030",
    "declaration_type": "A11",
    "customs_branch": "02CI",
    "trader_org": "T01",
    "goods": "Frozen boneless beef (Australia)",
    "hs_codes": ["02023000"],
    "hs": "02023000",
    "containers": ["TCLU2167398", "TCLU2167399"],
    "container_count": 2,
    "awb": None,
    "bill_of_lading": "HCM65793030",
    "sampling_place": "Cat Lai inspection yard",
    "request_preservation": False,
}


@pytest.fixture(scope="module")
def specs() -> DeployedSpecs:
    return compile_bundle(load_bundle(PROJECT_ROOT / "bpmn"), known_topics=KNOWN_TOPICS).specs


def engine(at: datetime) -> PortalScriptEngine:
    return PortalScriptEngine(at, CALENDAR)


def register(specs: DeployedSpecs, at: datetime = T0, **overrides) -> BpmnWorkflow:
    """Start a consignment the way RegisterConsignment does, then run it until it waits."""
    workflow = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=engine(at))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({**REGISTRATION, "registered_at": at.isoformat(), **overrides})
    workflow.do_engine_steps()
    return workflow


def all_tasks(workflow: BpmnWorkflow) -> dict:
    tasks = dict(workflow.tasks)
    for sub in workflow.subprocesses.values():
        tasks.update(sub.tasks)
    return tasks


def snapshot(workflow: BpmnWorkflow) -> dict:
    """Everything a restore must preserve, as plain values."""
    tasks = all_tasks(workflow)
    return {
        "tasks": {str(i): (t.task_spec.name, TaskState.get_name(t.state)) for i, t in tasks.items()},
        "data": {str(i): json.dumps(t.data, sort_keys=True, default=str) for i, t in tasks.items()},
        "internal": {
            str(i): json.dumps(t.internal_data, sort_keys=True, default=str) for i, t in tasks.items()
        },
        "workflow_data": json.dumps(workflow.data, sort_keys=True, default=str),
        "subprocesses": sorted(str(k) for k in workflow.subprocesses),
        "completed": workflow.completed,
    }


def in_state(workflow: BpmnWorkflow, state: int) -> list[tuple[str, str]]:
    return sorted(
        (t.task_spec.bpmn_id or t.task_spec.name, str(t.id)) for t in workflow.get_tasks(state=state)
    )


def ids(workflow: BpmnWorkflow, state: int) -> list[str]:
    return [bpmn_id for bpmn_id, _ in in_state(workflow, state)]


def restore(workflow: BpmnWorkflow, specs: DeployedSpecs, at: datetime) -> BpmnWorkflow:
    """Dump, load with a new engine at ``at``, check nothing was lost, and hand back the restored copy.

    On the way, the portal's task converter must write exactly what SpiffWorkflow's own writes, and a
    state read by either must come out the same."""
    state = CODEC.dump_state(workflow)
    assert decompress(state) == decompress(SPIFF_CODEC.dump_state(workflow))
    by_spiff = SPIFF_CODEC.load_state(state, CODEC.version, specs)
    restored = CODEC.load_state(state, CODEC.version, specs)
    assert snapshot(restored) == snapshot(by_spiff)
    assert decompress(CODEC.dump_state(restored)) == decompress(SPIFF_CODEC.dump_state(by_spiff))
    restored.script_engine = engine(at)
    assert restored is not workflow
    assert restored.spec is specs.spec
    for state_mask in (TaskState.READY, TaskState.STARTED, TaskState.WAITING):
        assert in_state(restored, state_mask) == in_state(workflow, state_mask)
    assert snapshot(restored) == snapshot(workflow)
    return restored


def one(workflow: BpmnWorkflow, bpmn_id: str, state: int):
    found = [t for t in workflow.get_tasks(state=state) if t.task_spec.bpmn_id == bpmn_id]
    assert len(found) == 1, (bpmn_id, in_state(workflow, state))
    return found[0]


def finish_job(workflow: BpmnWorkflow, bpmn_id: str, **result) -> None:
    """What CompleteJob does when the connector answers."""
    task = one(workflow, bpmn_id, TaskState.STARTED)
    task.data.update(result)
    task.complete()
    workflow.do_engine_steps()


def complete_user_task(workflow: BpmnWorkflow, bpmn_id: str, **form) -> None:
    """What CompleteWorkItem does with validated form data."""
    task = one(workflow, bpmn_id, TaskState.READY)
    task.data.update(form)
    task.run()
    workflow.do_engine_steps()


def container_positioned(workflow: BpmnWorkflow, payload: dict) -> None:
    """What the executor does with the ContainerPositioned callback."""
    assert any(e.name == "ContainerPositioned" for e in workflow.waiting_events())
    event = BpmnEvent(
        MessageEventDefinition("ContainerPositioned"),
        {"payload": payload, "result_var": "container_positions"},
    )
    workflow.send_event(event)
    workflow.do_engine_steps()


# -- the whole procedure, restored after every step ------------------------------------------------------
def test_restored_workflow_matches_and_runs_to_completion_after_every_step(specs):
    now = T0
    wf = register(specs, now)
    assert ids(wf, TaskState.STARTED) == ["lookup_declaration"]
    wf = restore(wf, specs, now)

    finish_job(wf, "lookup_declaration", declaration_status="accepted")
    # DMN ran, the port subprocess started: a service task STARTED and a timer WAITING
    assert ids(wf, TaskState.STARTED) == ["move_containers", "port_move"]
    assert ids(wf, TaskState.WAITING) == ["port_move_sla"]
    assert one(wf, "move_containers", TaskState.STARTED).data["lead_agency"]
    wf = restore(wf, specs, now)
    sla = one(wf, "port_move_sla", TaskState.WAITING)
    assert datetime.fromisoformat(sla.internal_data["event_value"]) == T0 + timedelta(hours=12)

    now = T0 + timedelta(hours=12)
    wf.script_engine = engine(now)
    wf.refresh_timers()
    wf.do_engine_steps()
    # the escalation is READY while the move is still STARTED
    assert ids(wf, TaskState.READY) == ["escalate_port_move"]
    assert ids(wf, TaskState.STARTED) == ["move_containers", "port_move"]
    wf = restore(wf, specs, now)

    finish_job(wf, "move_containers", port_move_ref="MOVE-1")
    assert ids(wf, TaskState.WAITING) == ["container_positioned", "port_move.BoundaryEventJoin"]
    wf = restore(wf, specs, now)

    container_positioned(wf, {"TCLU2167398": "Yard B, bay 12"})
    assert ids(wf, TaskState.READY) == ["escalate_port_move", "record_sampling"]
    assert one(wf, "record_sampling", TaskState.READY).data["container_positions"] == {
        "TCLU2167398": "Yard B, bay 12"
    }
    wf = restore(wf, specs, now)

    complete_user_task(wf, "record_sampling", sample_count=2, seal_numbers=["S1", "S2"])
    assert ids(wf, TaskState.READY) == ["countersign_sampling", "escalate_port_move"]
    wf = restore(wf, specs, now)

    complete_user_task(wf, "countersign_sampling", record_confirmed=True)
    # a user task READY with its deadline timer WAITING
    assert ids(wf, TaskState.READY) == ["escalate_port_move", "publish_result"]
    assert ids(wf, TaskState.WAITING) == ["result_sla"]
    wf = restore(wf, specs, now)

    complete_user_task(wf, "escalate_port_move", action="reminded", comment="Called the terminal")
    wf = restore(wf, specs, now)

    complete_user_task(wf, "publish_result", result="pass", certificate_no="CERT-1", conclusion="Compliant")
    assert ids(wf, TaskState.READY) == ["pay_fees"]
    assert one(wf, "pay_fees", TaskState.READY).data["fee_vnd"] > 0
    wf = restore(wf, specs, now)

    complete_user_task(wf, "pay_fees", payment_method="bank_transfer")
    assert ids(wf, TaskState.STARTED) == ["capture_payment"]
    wf = restore(wf, specs, now)

    finish_job(wf, "capture_payment", payment_ref="PAY-1")
    wf = restore(wf, specs, now)
    finish_job(wf, "clear_goods", clearance_no="CLR-1")
    assert wf.completed
    ended = [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED)]
    assert "cleared" in ended
    assert wf.data.get("clearance_no") == "CLR-1" or any(
        t.data.get("clearance_no") == "CLR-1" for t in wf.get_tasks(state=TaskState.COMPLETED)
    )
    restore(wf, specs, now)


def test_user_task_service_task_and_timer_together(specs):
    """A model where a READY user task, a STARTED service task and a WAITING timer coexist."""
    files = {k: v for k, v in load_bundle(PROJECT_ROOT / "bpmn").files.items() if not k.endswith(".bpmn")}
    files["parallel.bpmn"] = (CORPUS / "valid_parallel_user_service_timer.bpmn").read_bytes()
    parallel = compile_bundle(Bundle(files), known_topics=KNOWN_TOPICS).specs
    wf = register(parallel, T0, declaration_no="106865793030", fee_vnd=400_000)
    assert ids(wf, TaskState.READY) == ["review"]
    assert ids(wf, TaskState.STARTED) == ["capture"]
    assert ids(wf, TaskState.WAITING) == ["review_sla"]
    wf = restore(wf, parallel, T0 + timedelta(hours=1))
    wf.refresh_timers()
    wf.do_engine_steps()
    assert ids(wf, TaskState.WAITING) == ["review_sla"]  # not yet: 1 hour of 2

    wf = restore(wf, parallel, T0 + timedelta(hours=2))
    wf.refresh_timers()
    wf.do_engine_steps()
    assert ids(wf, TaskState.READY) == ["escalate", "review"]
    finish_job(wf, "capture", payment_ref="PAY-9")
    wf = restore(wf, parallel, T0 + timedelta(hours=2))
    complete_user_task(wf, "review", preservation_approved=True, decision_note="ok")
    assert wf.completed


def test_restore_onto_specs_loaded_from_their_json(specs):
    """Production restores onto specs rebuilt from ModelVersion.spec_json, not the objects that ran."""
    wf = register(specs)
    finish_job(wf, "lookup_declaration", declaration_status="accepted")
    stored = CODEC.dump_state(wf)
    reloaded = CODEC.load_specs(CODEC.dump_specs(specs.spec, specs.subprocess_specs))
    assert reloaded.spec is not specs.spec
    restored = CODEC.load_state(stored, CODEC.version, reloaded)
    restored.script_engine = engine(T0)
    assert snapshot(restored) == snapshot(wf)
    finish_job(restored, "move_containers", port_move_ref="MOVE-2")
    container_positioned(restored, {"TCLU2167399": "Yard C"})
    assert ids(restored, TaskState.READY) == ["record_sampling"]


def test_rejected_declaration_ends_after_restore(specs):
    wf = restore(register(specs), specs, T0)
    finish_job(wf, "lookup_declaration", declaration_status="cancelled")
    assert wf.completed
    assert "registration_rejected" in ids(wf, TaskState.COMPLETED)


def test_loading_a_state_needs_the_deployed_spec(specs):
    with pytest.raises(ValueError, match="deployed spec"):
        CODEC.load_state(CODEC.dump_state(register(specs)), CODEC.version, DeployedSpecs(None, {}))


# -- the stored state holds no spec ---------------------------------------------------------------------
def test_stored_state_has_no_spec_and_is_much_smaller(specs):
    wf = register(specs)
    finish_job(wf, "lookup_declaration", declaration_status="accepted")
    state = CODEC.dump_state(wf)
    raw = decompress(state)
    assert b'"spec":{' not in raw  # no spec body anywhere
    assert b'"subprocess_specs":' not in raw
    dct = json.loads(raw)
    assert "spec" not in dct and "subprocess_specs" not in dct
    # a subprocess names its spec (a reference into the deployed specs), it does not embed it
    assert [sub["spec"] for sub in dct["subprocesses"].values()] == ["port_move"]

    with_spec = json.dumps(BpmnWorkflowSerializer(_build_registries()[0]).to_dict(wf), separators=(",", ":"))
    assert '"spec":' in with_spec
    assert len(raw) * 5 < len(with_spec)
    assert len(state) * 5 < len(zlib.compress(with_spec.encode(), 6))


def test_state_is_compressed_json():
    compiled = compile_bundle(load_bundle(PROJECT_ROOT / "bpmn"), known_topics=KNOWN_TOPICS).specs
    state = CODEC.dump_state(register(compiled))
    assert isinstance(state, bytes)
    assert len(state) < len(decompress(state))
    assert json.loads(decompress(state))["tasks"]


# -- timers read the engine's clock ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "start",
    [
        datetime.fromisoformat("2021-03-01T08:00:00+07:00"),
        datetime.fromisoformat("2099-06-01T08:00:00+07:00"),
    ],
    ids=["long-past", "far-future"],
)
def test_duration_timer_fires_exactly_when_the_engine_clock_reaches_it(start):
    # The shipped model counts the port's 12 hours from registration (a date timer); an analyst may as well
    # write a duration, which must read the engine's clock too.
    text = (PROJECT_ROOT / "bpmn" / "specialized_inspection.bpmn").read_text(encoding="utf-8")
    text = text.replace(
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">hours_after(registered_at, 12)</bpmn:timeDate>',
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT12H"</bpmn:timeDuration>',
    )
    files = {**load_bundle(PROJECT_ROOT / "bpmn").files, "specialized_inspection.bpmn": text.encode()}
    specs = compile_bundle(Bundle(files), known_topics=KNOWN_TOPICS).specs
    wf = register(specs, start)
    finish_job(wf, "lookup_declaration", declaration_status="accepted")
    sla = one(wf, "port_move_sla", TaskState.WAITING)
    assert isinstance(sla.task_spec.event_definition, ClockedDurationTimerEventDefinition)
    due = start + timedelta(hours=12)
    assert sla.internal_data["event_value"] == due.isoformat()

    for moment in (start, due - timedelta(seconds=1)):
        wf = restore(wf, specs, moment)
        wf.refresh_timers()
        wf.do_engine_steps()
        assert ids(wf, TaskState.WAITING) == ["port_move_sla"], moment
        assert ids(wf, TaskState.READY) == []

    wf = restore(wf, specs, due)
    wf.refresh_timers()
    wf.do_engine_steps()
    assert ids(wf, TaskState.READY) == ["escalate_port_move"]
    assert "port_move_sla" not in ids(wf, TaskState.WAITING)


def test_timer_started_by_one_engine_fires_for_a_later_one(specs):
    wf = register(specs, T0)
    finish_job(wf, "lookup_declaration", declaration_status="accepted")  # timer starts at T0
    stored = CODEC.dump_state(wf)
    for hours, fired in ((11, False), (12, True), (500, True)):
        later = CODEC.load_state(stored, CODEC.version, specs)
        later.script_engine = engine(T0 + timedelta(hours=hours))
        later.refresh_timers()
        later.do_engine_steps()
        assert ("escalate_port_move" in ids(later, TaskState.READY)) is fired, hours


def test_result_deadline_timer_counts_working_days_from_when_it_started(specs):
    wf = register(specs, T0)
    finish_job(wf, "lookup_declaration", declaration_status="accepted")
    finish_job(wf, "move_containers", port_move_ref="MOVE-1")
    container_positioned(wf, {})
    sampled = T0 + timedelta(hours=3)
    wf = restore(wf, specs, sampled)
    complete_user_task(wf, "record_sampling", sample_count=1)
    complete_user_task(wf, "countersign_sampling", record_confirmed=True)
    sla = one(wf, "result_sla", TaskState.WAITING)
    assert isinstance(sla.task_spec.event_definition, ClockedTimeDateEventDefinition)
    deadline_wd = sla.data["result_deadline_wd"]
    due = CALENDAR.add_working_days(sampled, deadline_wd)
    assert datetime.fromisoformat(sla.internal_data["event_value"]) == due

    wf = restore(wf, specs, due - timedelta(seconds=1))
    wf.refresh_timers()
    wf.do_engine_steps()
    assert "escalate_result_overdue" not in ids(wf, TaskState.READY)
    wf = restore(wf, specs, due)
    wf.refresh_timers()
    wf.do_engine_steps()
    assert "escalate_result_overdue" in ids(wf, TaskState.READY)
    assert "publish_result" in ids(wf, TaskState.READY)  # non-interrupting


def test_cycle_timer_fires_once_per_period_across_restores():
    files = {k: v for k, v in load_bundle(PROJECT_ROOT / "bpmn").files.items() if not k.endswith(".bpmn")}
    files["cycle.bpmn"] = (CORPUS / "valid_timer_boundary_cycle.bpmn").read_bytes()
    cycle = compile_bundle(Bundle(files)).specs  # "R3/PT1H", non-interrupting
    wf = register(cycle, T0)
    fired = []
    for minutes in (0, 59, 60, 61, 119, 120, 180, 240, 600):
        wf = restore(wf, cycle, T0 + timedelta(minutes=minutes))
        wf.refresh_timers()
        wf.do_engine_steps()
        fired.append(ids(wf, TaskState.READY).count("escalate"))
    assert fired == [0, 0, 1, 1, 1, 2, 3, 3, 3]
