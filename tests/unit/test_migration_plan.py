"""The migration plan on in-memory workflows of the real bundle: which running workflows can move to
version 2 (tests/model_versions.py) and why the others cannot, and that a moved workflow keeps its task
ids, data and timer due times, loads on version 2 from its saved state, and runs on to the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from app.engine.bundle import Bundle, compile_bundle
from app.engine.migration import MigrationError, MigrationPlan
from app.engine.script_engine import PortalScriptEngine
from app.engine.serializer import WorkflowCodec
from app.engine.working_time import WorkingCalendar
from tests.model_versions import BPMN, REAL, replace_once, version_2

pytestmark = pytest.mark.timeout(30)

V1 = compile_bundle(REAL).specs
V2 = compile_bundle(version_2()).specs
CODEC = WorkflowCodec()
MONDAY = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
VARIABLES = {
    "declaration_no": "106865793030",
    "declaration_type": "A11",
    "customs_branch": "02CI",
    "trader_org": "T01",
    "goods": "Frozen boneless beef",
    "hs_codes": ["02023000"],
    "hs": "02023000",
    "awb": None,
    "bill_of_lading": "HCM1",
    "sampling_place": "Cat Lai yard",
    "request_preservation": False,
    "registered_at": MONDAY.isoformat(),
}


def plan(target=V2) -> MigrationPlan:
    return MigrationPlan(CODEC.spec_registry, V1, target, "version 1", "version 2")


def engine(day: int = 7) -> PortalScriptEngine:
    return PortalScriptEngine(MONDAY.replace(day=day), WorkingCalendar())


class Run:
    """One consignment's workflow on version 1, driven step by step like the portal does."""

    def __init__(self, containers: int = 2) -> None:
        self.workflow = BpmnWorkflow(V1.spec, V1.subprocess_specs, script_engine=engine())
        data = dict(VARIABLES, containers=[f"C{i}" for i in range(containers)], container_count=containers)
        for task in self.workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        self.workflow.do_engine_steps()

    def task(self, name: str, state=TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        found = [t for t in self.workflow.get_tasks(state=state) if t.task_spec.name == name]
        assert found, f"{name} not found in {self.at()}"
        return found[0]

    def at(self) -> list[str]:
        return sorted(
            f"{t.task_spec.name}:{TaskState.get_name(t.state)}"
            for t in self.workflow.get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.WAITING)
        )

    def job_done(self, name: str, **result) -> Run:
        task = self.task(name, TaskState.STARTED)
        task.data.update(result)
        task.complete()
        self.workflow.do_engine_steps()
        return self

    def complete(self, name: str, **data) -> Run:
        task = self.task(name, TaskState.READY)
        task.data.update(data)
        task.run()
        self.workflow.do_engine_steps()
        return self

    def containers_positioned(self) -> Run:
        payload = {"payload": {"positions": []}, "result_var": "container_positions"}
        self.workflow.send_event(BpmnEvent(MessageEventDefinition("ContainerPositioned"), payload))
        self.workflow.do_engine_steps()
        return self

    def to_port_move(self) -> Run:
        return self.job_done("lookup_declaration", declaration_status="accepted")

    def to_sampling(self) -> Run:
        return self.to_port_move().job_done("move_containers", move_ref="MV-1").containers_positioned()

    def to_result(self) -> Run:
        sampled = self.to_sampling().complete("record_sampling", sampled_at="2026-12-07T09:00:00+07:00")
        return sampled.complete("countersign_sampling", record_confirmed=True)


def reloaded(workflow: BpmnWorkflow, specs=V2) -> BpmnWorkflow:
    return CODEC.load_state(CODEC.dump_state(workflow), CODEC.version, specs)


# -- which workflows can move ------------------------------------------------------------------------------
def test_a_consignment_waiting_for_customs_moves():
    run = Run()
    assert plan().check(run.workflow).movable


def test_a_consignment_at_a_removed_step_cannot_move():
    run = Run(containers=6).to_port_move()
    assert run.at() == ["nominate_containers:READY"]
    verdict = plan().check(run.workflow)
    assert [(b.element_id, b.name) for b in verdict.blockers] == [
        ("nominate_containers", "Nominate containers for inspection")
    ]
    assert "at this step (ready); it was removed in version 2" in verdict.blockers[0].reason


def test_a_consignment_that_did_a_removed_step_cannot_move():
    run = Run(containers=6).to_port_move().complete("nominate_containers", nominated_containers=["C1"])
    [blocker] = plan().check(run.workflow).blockers
    assert blocker.element_id == "nominate_containers"
    assert "already completed" in blocker.reason and "history would be lost" in blocker.reason


def test_a_consignment_at_a_step_that_gained_a_timer_cannot_move():
    run = Run().to_result().complete("publish_result", result="pass", certificate_no="KQ-1")
    assert run.at() == ["pay_fees:READY"]
    [blocker] = plan().check(run.workflow).blockers
    assert blocker.element_id == "pay_fees" and "gained a boundary event" in blocker.reason


def test_a_running_job_whose_topic_changed_cannot_move():
    text = replace_once(
        REAL.files[BPMN].decode(), 'camunda:topic="port.move_containers"', 'camunda:topic="customs.clear"'
    )
    target = compile_bundle(Bundle({**REAL.files, BPMN: text.encode()})).specs
    run = Run().to_port_move()
    [blocker] = plan(target).check(run.workflow).blockers
    assert blocker.element_id == "move_containers" and "topic" in blocker.reason


def test_a_plan_refuses_a_workflow_of_another_version():
    workflow = BpmnWorkflow(V2.spec, V2.subprocess_specs, script_engine=engine())
    with pytest.raises(MigrationError):
        plan().check(workflow)


# -- what moving keeps ---------------------------------------------------------------------------------------
def test_a_waiting_timer_keeps_its_due_time_and_the_job_its_task():
    run = Run().to_port_move()
    job_task = run.task("move_containers", TaskState.STARTED).id
    due_before = {e.name: e.value for e in run.workflow.waiting_events()}
    verdict = plan().check(run.workflow)
    assert any("keeps its due time" in note for note in verdict.notes)
    # Version 2 moves every declared container: the issued job keeps its inputs, the next one gets the new.
    assert any("runs with the inputs it was given" in note for note in verdict.notes)

    # Moved six hours later: the SLA keeps its due time (12 hours after registration), not a new one.
    run.workflow.script_engine = PortalScriptEngine(MONDAY + timedelta(hours=6), WorkingCalendar())
    plan().apply(run.workflow)

    assert {e.name: e.value for e in run.workflow.waiting_events()} == due_before
    assert run.task("move_containers", TaskState.STARTED).id == job_task
    moved = reloaded(run.workflow)
    assert moved.spec is V2.spec
    assert {e.name: e.value for e in moved.waiting_events()} == due_before


def test_a_ready_task_keeps_its_id_and_data_and_takes_the_new_name():
    run = Run(containers=0).to_port_move()
    ready = run.task("record_sampling", TaskState.READY)
    ready.data["draft_note"] = "kept"
    outcome = plan().apply(run.workflow)
    moved = run.task("record_sampling", TaskState.READY)
    assert moved.id == ready.id and moved.data["draft_note"] == "kept"
    assert moved.task_spec.bpmn_name == "Record the sampling and seal the samples"
    assert outcome.changed_steps == {str(ready.id): ["name"]}


def test_a_moved_consignment_runs_to_the_end_on_version_2():
    run = Run().to_port_move()
    plan().apply(run.workflow)
    run.workflow = reloaded(run.workflow)
    run.workflow.script_engine = engine()
    run.job_done("move_containers", move_ref="MV-1").containers_positioned()
    run.complete("record_sampling", sampled_at="2026-12-07T09:00:00+07:00")
    run.complete("countersign_sampling", record_confirmed=True)
    run.complete("publish_result", result="pass", certificate_no="KQ-1")
    assert run.at() == ["pay_fees:READY", "payment_sla:WAITING"]  # version 2's new timer
    # Version 2's quarantine fee (350,000, was 300,000) plus the food-safety co-inspection fee.
    assert run.task("pay_fees").data["fee_vnd"] == 450_000
    run.complete("pay_fees", payment_method="card", payer_account="4111")
    run.job_done("capture_payment", payment_ref="PAY-1").job_done("clear_goods", clearance_no="CL-1")
    assert run.workflow.completed
    ends = [t.task_spec.bpmn_id for t in run.workflow.get_tasks(state=TaskState.COMPLETED)]
    assert "cleared" in ends


def test_apply_refuses_what_check_refuses():
    run = Run(containers=6).to_port_move()
    with pytest.raises(MigrationError, match="nominate_containers"):
        plan().apply(run.workflow)


def test_a_moved_sla_timer_still_escalates_at_its_old_due_time():
    run = Run().to_result()
    [due] = [e.value for e in run.workflow.waiting_events()]
    plan().apply(run.workflow)
    run.workflow = reloaded(run.workflow)
    run.workflow.script_engine = PortalScriptEngine(datetime.fromisoformat(due), WorkingCalendar())
    run.workflow.refresh_timers()
    run.workflow.do_engine_steps()
    # As without a migration: the escalation opens, the join waits for the result.
    assert run.at() == [
        "escalate_result_overdue:READY",
        "publish_result.BoundaryEventJoin:WAITING",
        "publish_result:READY",
    ]
    run.complete("publish_result", result="pass", certificate_no="KQ-1")
    assert run.at() == ["escalate_result_overdue:READY", "pay_fees:READY", "payment_sla:WAITING"]
