"""The procedure end to end in one process with real parts: a real database (SQLite and PostgreSQL), the
portal behind a real HTTP server (for the port's callback), real simulator processes, the real worker."""

from __future__ import annotations

import requests

from tests.procedure import (
    FAIL,
    NON_COMPLIANCE,
    PASS,
    PAYMENT,
    PRESERVATION_REQUEST,
    SAMPLING,
    completes,
    jobs,
    open_work_items,
    services_run,
    timeline,
    trader_countersigns,
    trader_registers,
    worker_settles,
)


def test_beef_consignment_runs_from_registration_to_clearance(portal, live_portal, worker, simulators):
    number = trader_registers(portal, "C01")

    consignment = worker_settles(worker, portal, number)
    # Customs confirmed the declaration, the decision table routed it to the quarantine body, the port moved
    # both containers and reported their position: now the agency samples.
    assert consignment.lead_agency == "RAHO6"
    assert [w.step_id for w in open_work_items(portal, number)] == ["record_sampling"]
    assert open_work_items(portal, number)[0].organization == "RAHO6"

    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    # The sampling record is signed by trader and agency: the trader countersigns what the agency signed.
    [countersign] = open_work_items(portal, number)
    assert (countersign.step_id, countersign.organization, countersign.role) == (
        "countersign_sampling",
        "T01",
        "trader",
    )
    assert countersign.signature_required and countersign.due_at is not None
    trader_countersigns(portal, number)
    completes(portal, "officer.raho6", number, "publish_result", PASS)
    worker_settles(worker, portal, number)
    completes(portal, "trader.t01", number, "pay_fees", PAYMENT)
    consignment = worker_settles(worker, portal, number)

    assert consignment.status == "cleared"
    assert consignment.finished_at is not None
    # Every service step ran once; the finished consignment keeps no job in the work queue.
    services = services_run(portal, number)
    assert {step: s["attempts"] for step, s in services.items()} == {
        "lookup_declaration": 1,
        "move_containers": 1,
        "capture_payment": 1,
        "clear_goods": 1,
    }
    assert jobs(portal, number) == []
    steps = [t.step_id for t in timeline(portal, number)]
    for step in (
        "registered",
        "lookup_declaration",
        "route_lead_agency",
        "move_containers",
        "ContainerPositioned",
        "record_sampling",
        "countersign_sampling",
        "publish_result",
        "compute_fees",
        "pay_fees",
        "capture_payment",
        "clear_goods",
        "cleared",
    ):
        assert step in steps, f"{step} missing from the timeline {steps}"
    keys = requests.get(simulators.urls["port"] + "/_sim/keys", timeout=5).json()["keys"]
    assert keys[services["move_containers"]["key"]]["actions"] == 1


def test_customs_nominates_containers_when_there_are_five_or_more(portal, live_portal, worker):
    number = trader_registers(portal, "C03")
    worker_settles(worker, portal, number)

    nomination = [w for w in open_work_items(portal, number) if w.step_id == "nominate_containers"]
    assert nomination and nomination[0].organization == "02CI" and nomination[0].role == "customs_officer"
    completes(
        portal,
        "officer.02ci",
        number,
        "nominate_containers",
        {"nominated_containers": ["SEGU3340533", "SEGU8722462"]},
    )
    worker_settles(worker, portal, number)

    move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
    assert move.inputs["containers"] == ["SEGU3340533", "SEGU8722462"]
    assert [w.step_id for w in open_work_items(portal, number)] == ["record_sampling"]


def test_trader_keeps_goods_for_preservation_after_the_branch_head_approves(portal, live_portal, worker):
    number = trader_registers(portal, "C04", request_preservation=True)
    worker_settles(worker, portal, number)
    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)

    completes(portal, "trader.t04", number, "request_preservation", PRESERVATION_REQUEST)
    decision = [w for w in open_work_items(portal, number) if w.step_id == "decide_preservation"][0]
    assert (decision.organization, decision.role) == ("02CI", "branch_head")
    assert decision.signature_required
    completes(portal, "head.02ci", number, "decide_preservation", {"preservation_approved": True})

    completes(portal, "officer.raho6", number, "publish_result", PASS)
    worker_settles(worker, portal, number)
    completes(portal, "trader.t04", number, "pay_fees", PAYMENT)
    assert worker_settles(worker, portal, number).status == "cleared"


def test_failing_result_goes_to_non_compliance_handling(portal, live_portal, worker):
    number = trader_registers(portal, "C09")
    consignment = worker_settles(worker, portal, number)
    assert consignment.lead_agency == "DONRE"
    completes(portal, "officer.donre", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    completes(portal, "officer.donre", number, "publish_result", FAIL)

    handling = open_work_items(portal, number)
    assert [(w.step_id, w.organization) for w in handling] == [("handle_non_compliance", "02CI")]
    completes(portal, "officer.02ci", number, "handle_non_compliance", NON_COMPLIANCE)

    consignment = worker_settles(worker, portal, number)
    assert consignment.status == "non_compliance_handled"
    assert set(services_run(portal, number)) == {"lookup_declaration", "move_containers"}


def test_air_cargo_goes_straight_to_sampling_without_the_port(portal, live_portal, worker):
    number = trader_registers(portal, "C10")
    consignment = worker_settles(worker, portal, number)
    assert consignment.customs_branch == "02AB"
    assert consignment.lead_agency == "MIC"
    assert [w.step_id for w in open_work_items(portal, number)] == ["record_sampling"]
    assert "port.move_containers" not in [j.topic for j in jobs(portal, number)]
