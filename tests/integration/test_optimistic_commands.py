"""Commands that read before they take the write lock (``optimistic``): whatever another command changes in
between, the outcome is the one a command holding the lock throughout would have had.

Each test lets a second command commit at the worst moment — after the first one has read everything and
run the engine, just before it writes — by running it from inside the first one's ``save``. A finished
consignment keeps only a compact final record of its workflow."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.engine import executor as executor_module
from app.engine.commands import ClaimDueJobs, ClaimWorkItem, CompleteJob, CompleteWorkItem, CorrelateMessage
from app.engine.errors import Conflict
from app.engine.executor import Actor
from app.engine.serializer import FINAL_SUFFIX, FinishedWorkflow, decompress
from app.models import AuditEvent, Job, Organization, ProcessInstance, TimelineEvent, User, WorkItem
from app.signing.pki import DEMO_PIN
from app.signing.service import PinSigning
from tests.procedure import (
    PASS,
    PAYMENT,
    SAMPLING,
    actor,
    completes,
    consignment,
    jobs,
    services_run,
    trader_countersigns,
    trader_registers,
    work_item,
    worker_settles,
)


@pytest.fixture
def just_before_the_write(monkeypatch):
    """Run ``meanwhile()`` once, inside the next command's ``save``, after it has read and run the engine."""

    def arrange(meanwhile) -> list[int]:
        original, calls = executor_module.CommandContext.save, []

        def save(self, loaded, *args, **kwargs):
            calls.append(loaded.row.revision)
            if len(calls) == 1:
                meanwhile()
            return original(self, loaded, *args, **kwargs)

        monkeypatch.setattr(executor_module.CommandContext, "save", save)
        return calls

    return arrange


def beef_waiting_for_sampling(portal, worker) -> tuple[str, WorkItem]:
    number = trader_registers(portal, "C01")
    worker_settles(worker, portal, number)
    return number, work_item(portal, number, "record_sampling")


def colleague_of(portal, username: str, organization: str, role: str) -> Actor:
    """Another user of the organization (the seed has one officer per agency)."""
    with portal.db.write_session() as session, session.begin():
        org = session.scalar(select(Organization).where(Organization.code == organization))
        user = User(
            username=username, display_name=username, password_hash="!", organization_id=org.id, role=role
        )
        session.add(user)
        session.flush()
        return Actor(username, organization, role, user.id)


def count(portal, model, *where) -> int:
    with portal.db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_claim_that_lands_before_the_completion_writes_wins(
    portal, live_portal, worker, just_before_the_write
):
    number, item = beef_waiting_for_sampling(portal, worker)
    colleague = colleague_of(portal, "officer2.raho6", "RAHO6", "agency_officer")
    audit_before = count(portal, AuditEvent)

    calls = just_before_the_write(lambda: portal.execute(ClaimWorkItem(item.id), colleague))
    with pytest.raises(Conflict, match="claimed by someone else"):
        portal.execute(
            CompleteWorkItem(item.id, SAMPLING, signing=PinSigning(DEMO_PIN)), actor(portal, "officer.raho6")
        )

    assert len(calls) == 1  # the re-run, holding the lock, stopped at the claim before saving anything
    with portal.db.session() as session:
        assert session.get(WorkItem, item.id).state == "claimed"
    assert count(portal, AuditEvent) == audit_before + 1  # the claim only
    assert count(portal, WorkItem, WorkItem.step_id == "publish_result") == 0


def test_a_job_result_that_loses_the_race_to_a_callback_runs_again_and_both_count(
    portal, worker, just_before_the_write
):
    number = trader_registers(portal, "C01")
    worker.run_due_jobs()  # the customs look-up
    with portal.db.session() as session:
        [move] = session.scalars(select(Job).where(Job.topic == "port.move_containers")).all()
    [ticket] = [t for t in portal.execute(ClaimDueJobs(worker.name)) if t.id == move.id]
    c = consignment(portal, number)
    payload = {
        "move_ref": "MV-RACE",
        "positions": [{"container_no": n, "position": "SA-1"} for n in c.containers],
    }
    port = actor(portal, "operator.snp")

    # The port calls back before the move job's result is saved: the callback keeps the message for
    # later and bumps the revision, so the job's first write finds a newer revision and runs again.
    calls = just_before_the_write(
        lambda: portal.execute(CorrelateMessage(number, "ContainerPositioned", payload), port)
    )
    portal.execute(CompleteJob(ticket.id, worker.name, {"move_ref": "MV-RACE"}))

    assert len(calls) == 3  # the job, the callback inside it, the job again (locked)
    assert work_item(portal, number, "record_sampling").state == "open"
    with portal.db.session() as session:
        assert session.get(Job, move.id).state == "done"
        steps = [t.step_id for t in session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
    assert steps.count("move_containers") == 1 and steps.count("ContainerPositioned") == 1


def test_a_finished_consignment_keeps_a_compact_final_record(portal, live_portal, worker):
    number, _ = beef_waiting_for_sampling(portal, worker)
    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    completes(portal, "officer.raho6", number, "publish_result", PASS)
    worker_settles(worker, portal, number)
    completes(portal, "trader.t01", number, "pay_fees", PAYMENT)
    c = worker_settles(worker, portal, number)
    assert c.status == "cleared"

    with portal.db.session() as session:
        row = session.get(ProcessInstance, c.instance_id)
        specs = portal.runtime.specs(session, row.model_version_id)
    assert row.completed and row.next_timer_at is None
    assert row.serializer_version == portal.runtime.codec.version + FINAL_SUFFIX
    assert len(row.state) < 600
    record = portal.runtime.codec.load_final(row.state)
    assert record["end"] == "cleared"
    assert record["data"]["declaration_no"] == number
    assert record["data"]["payment_method"] == PAYMENT["payment_method"]
    assert record["data"]["certificate_no"] == PASS["certificate_no"]
    assert "tasks" not in json.loads(decompress(row.state))
    with pytest.raises(FinishedWorkflow):
        portal.runtime.codec.load_state(row.state, row.serializer_version, specs)
    assert jobs(portal, number) == []  # the work queue keeps nothing of a finished consignment
    assert set(services_run(portal, number)) == {
        "lookup_declaration",
        "move_containers",
        "capture_payment",
        "clear_goods",
    }


def test_states_written_before_the_preset_dictionary_still_load(portal, live_portal, worker):
    import zlib

    number, item = beef_waiting_for_sampling(portal, worker)
    codec = portal.runtime.codec
    with portal.db.write_session() as session, session.begin():
        row = session.get(ProcessInstance, consignment(portal, number).instance_id)
        row.state = zlib.compress(decompress(row.state), 6)  # as stored before, without the dictionary
        row.revision += 1  # and not in any process's warm cache
    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    assert work_item(portal, number, "publish_result").state == "open"
    with portal.db.session() as session:
        row = session.get(ProcessInstance, consignment(portal, number).instance_id)
        specs = portal.runtime.specs(session, row.model_version_id)
        assert codec.load_state(row.state, row.serializer_version, specs).get_tasks()
