"""Outside systems fail: jobs retry with backoff, become incidents after the last attempt, an operator
retries them, and the consignment finishes — with every idempotency key acting exactly once."""

from __future__ import annotations

from datetime import timedelta

import requests

from tests.procedure import (
    PASS,
    PAYMENT,
    SAMPLING,
    completes,
    jobs,
    services_run,
    trader_countersigns,
    trader_registers,
    worker_settles,
)

ADMIN = {"Authorization": "Bearer demo-admin"}


def test_port_down_for_a_while_becomes_an_incident_then_the_retried_consignment_clears(
    portal, live_portal, worker, simulators, clock
):
    simulators.stop("port")
    try:
        number = trader_registers(portal, "C05")
        worker.run_due_jobs()  # customs look-up succeeds, the port refuses connections
        worker.run_due_jobs()
        for attempt in range(1, portal.settings.job_max_attempts + 1):
            move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
            assert move.attempts == attempt
            clock.advance(timedelta(seconds=portal.settings.job_backoff_seconds * 2**attempt))
            worker.run_due_jobs()
        move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
        assert move.state == "incident"
        assert "port.move_containers" in move.last_error

        incidents = requests.get(f"{live_portal}/api/v1/incidents", headers=ADMIN, timeout=10).json()["items"]
        assert [(i["declaration_no"], i["topic"]) for i in incidents] == [(number, "port.move_containers")]
        # Nothing more happens on its own while the incident is open.
        clock.advance(timedelta(hours=1))
        worker.run_due_jobs()
        assert next(j for j in jobs(portal, number) if j.topic == "port.move_containers").state == "incident"
    finally:
        simulators.restart("port")

    response = requests.post(f"{live_portal}/api/v1/incidents/{move.id}/retry", headers=ADMIN, timeout=10)
    assert response.status_code == 200
    worker_settles(worker, portal, number)
    completes(portal, "officer.moit-fs", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    completes(portal, "officer.moit-fs", number, "publish_result", PASS)
    worker_settles(worker, portal, number)
    completes(portal, "trader.t05", number, "pay_fees", PAYMENT)
    assert worker_settles(worker, portal, number).status == "cleared"

    assert requests.get(f"{live_portal}/api/v1/incidents", headers=ADMIN, timeout=10).json()["items"] == []
    services = services_run(portal, number)
    assert services["move_containers"]["attempts"] == 1  # the retried incident ran once more, and acted
    for step, service in services.items():
        keys = requests.get(simulators.urls[service["system"]] + "/_sim/keys", timeout=5).json()["keys"]
        if step == "lookup_declaration":
            continue  # look-ups are read-only
        # Never twice; customs clears a declaration once across this session's runs, so a later run of the
        # same declaration may act zero times.
        expected = {1} if step == "move_containers" else {0, 1}
        assert keys[service["key"]]["actions"] in expected, step


def test_a_flaky_port_is_retried_and_its_move_acts_once(portal, live_portal, worker, simulators, clock):
    requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "error", "times": 2}, timeout=5)
    number = trader_registers(portal, "C08")
    worker.run_due_jobs()
    worker.run_due_jobs()
    for _ in range(2):
        clock.advance(timedelta(seconds=portal.settings.job_backoff_seconds * 4))
        worker.run_due_jobs()
    worker_settles(worker, portal, number)
    move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
    assert (move.state, move.attempts) == ("done", 3)
    key = requests.get(simulators.urls["port"] + "/_sim/keys", timeout=5).json()["keys"][move.idempotency_key]
    assert key == {"requests": 3, "actions": 1}


def test_retrying_something_that_is_not_an_incident_is_refused(portal, live_portal, worker):
    number = trader_registers(portal, "C02")
    worker_settles(worker, portal, number)
    done = jobs(portal, number)[0]
    response = requests.post(f"{live_portal}/api/v1/incidents/{done.id}/retry", headers=ADMIN, timeout=10)
    assert response.status_code == 404
    assert response.json()["field"] == "job_id"
