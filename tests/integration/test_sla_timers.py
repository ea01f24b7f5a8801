"""SLA timers: each escalates to the branch's managers when the injected clock passes its deadline, and
legal deadlines count working hours across weekends and Vietnamese public holidays."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from app.engine.commands import DetectStalledConsignments
from app.models import Escalation
from tests.procedure import (
    PRESERVATION_REQUEST,
    SAMPLING,
    completes,
    consignment,
    jobs,
    open_work_items,
    trader_countersigns,
    trader_registers,
    worker_settles,
)


def ict(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def escalations_seen_by(live_portal: str, username: str) -> list[dict]:
    response = requests.get(
        f"{live_portal}/api/v1/escalations", timeout=10, headers={"Authorization": f"Bearer demo-{username}"}
    )
    assert response.status_code == 200
    return response.json()["items"]


def test_port_move_not_reported_within_12_hours_escalates_to_the_branch_manager(
    portal, live_portal, worker, simulators, clock
):
    requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "error"}, timeout=5)
    try:
        number = trader_registers(portal, "C02")
        for _ in range(3):
            worker.run_due_jobs()
        move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
        assert move.attempts >= 1 and move.state == "pending"

        clock.advance(timedelta(hours=11, minutes=59))
        worker.fire_due_timers()
        assert not [w for w in open_work_items(portal, number) if w.escalation]

        clock.advance(timedelta(minutes=2))
        worker.fire_due_timers()
        escalation = [w for w in open_work_items(portal, number) if w.escalation]
        assert [(w.step_id, w.organization, w.role) for w in escalation] == [
            ("escalate_port_move", "02CI", "manager")
        ]
        seen = escalations_seen_by(live_portal, "manager.02ci")
        assert [(e["kind"], e["declaration_no"]) for e in seen] == [("port_move_overdue", number)]
        assert escalations_seen_by(live_portal, "manager.02ab") == []
    finally:
        requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "ok"}, timeout=5)


def test_the_port_has_12_hours_from_registration_even_when_customs_nominates_late(
    portal, live_portal, worker, simulators, clock
):
    requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "error"}, timeout=5)
    try:
        number = trader_registers(portal, "C03")  # five containers: Customs nominates first
        worker_settles(worker, portal, number)
        clock.advance(timedelta(hours=11))
        completes(
            portal,
            "officer.02ci",
            number,
            "nominate_containers",
            {"nominated_containers": ["SEGU3340533", "SEGU8722462"]},
        )
        worker.run_due_jobs()  # the move is ordered 11 hours after registration; the port is down
        clock.advance(timedelta(minutes=59))
        worker.fire_due_timers()
        assert not [w for w in open_work_items(portal, number) if w.escalation]

        clock.advance(timedelta(minutes=2))  # 12 hours and 1 minute after registration
        worker.fire_due_timers()
        escalation = [w for w in open_work_items(portal, number) if w.escalation]
        assert [(w.step_id, w.organization, w.role) for w in escalation] == [
            ("escalate_port_move", "02CI", "manager")
        ]
    finally:
        requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "ok"}, timeout=5)


@pytest.mark.parametrize(
    ("request_at", "deadline"),
    [
        # Friday 16:00 + 2 working hours: one hour on Friday, one on Monday from 07:30.
        ("2026-12-11T16:00:00", "2026-12-14T08:30:00"),
        # Wednesday before 30 April and 1 May (public holidays) and a weekend.
        ("2026-04-29T16:00:00", "2026-05-04T08:30:00"),
    ],
    ids=["across-a-weekend", "across-30-april-and-1-may"],
)
def test_branch_head_has_two_working_hours_to_decide_on_preservation(
    portal, live_portal, worker, clock, request_at, deadline
):
    clock.set(ict(request_at) - timedelta(hours=1))
    number = trader_registers(portal, "C04", request_preservation=True)
    worker_settles(worker, portal, number)
    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)

    clock.set(ict(request_at))
    completes(portal, "trader.t04", number, "request_preservation", PRESERVATION_REQUEST)
    decision = [w for w in open_work_items(portal, number) if w.step_id == "decide_preservation"][0]
    assert decision.due_at == ict(deadline)

    clock.set(ict(deadline) - timedelta(minutes=1))
    worker.fire_due_timers()
    assert not [w for w in open_work_items(portal, number) if w.escalation]

    clock.set(ict(deadline) + timedelta(minutes=1))
    worker.fire_due_timers()
    escalation = [w for w in open_work_items(portal, number) if w.escalation]
    assert [(w.step_id, w.escalation) for w in escalation] == [
        ("escalate_preservation_decision", "preservation_decision_overdue")
    ]
    # The escalation does not take the decision away from the branch head.
    assert "decide_preservation" in [w.step_id for w in open_work_items(portal, number)]


def test_agency_result_past_its_own_deadline_escalates(portal, live_portal, worker, clock):
    # PPSD2 (plant quarantine) has 1 working day for its result (agencies.json), not the 10-day cap.
    number = trader_registers(portal, "C02")
    worker_settles(worker, portal, number)
    clock.set(ict("2026-12-07T09:00:00"))
    completes(portal, "officer.ppsd2", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    result = [w for w in open_work_items(portal, number) if w.step_id == "publish_result"][0]
    assert result.due_at == ict("2026-12-08T17:00:00")

    clock.set(ict("2026-12-08T16:59:00"))
    worker.fire_due_timers()
    assert not [w for w in open_work_items(portal, number) if w.escalation]
    clock.set(ict("2026-12-08T17:01:00"))
    worker.fire_due_timers()
    assert [w.escalation for w in open_work_items(portal, number) if w.escalation] == ["result_overdue"]


def test_quality_inspection_result_defaults_to_the_ten_working_day_cap(portal, live_portal, worker, clock):
    number = trader_registers(portal, "C06")
    worker_settles(worker, portal, number)
    completes(portal, "officer.quatest3", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    result = [w for w in open_work_items(portal, number) if w.step_id == "publish_result"][0]
    # Monday 7 December + 10 working days = Monday 21 December, end of office hours.
    assert result.due_at == ict("2026-12-21T17:00:00")


def test_a_consignment_where_nothing_happens_is_escalated_as_stalled(portal, live_portal, worker, clock):
    number = trader_registers(portal, "C01")
    worker_settles(worker, portal, number)
    assert portal.settings.stalled_after_working_hours == 16

    clock.set(ict("2026-12-08T14:00:00"))  # 9 h on Monday + 6.5 h on Tuesday: not yet
    assert portal.execute(DetectStalledConsignments()) == 0
    clock.set(ict("2026-12-08T15:00:00"))
    assert portal.execute(DetectStalledConsignments()) == 1
    assert portal.execute(DetectStalledConsignments()) == 0  # raised once
    assert [e["kind"] for e in escalations_seen_by(live_portal, "manager.02ci")] == ["stalled"]

    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    assert escalations_seen_by(live_portal, "manager.02ci") == []


def test_the_worker_looks_for_stalled_consignments_as_soon_as_the_clock_jumps(
    portal, live_portal, worker, clock
):
    number = trader_registers(portal, "C01")
    worker_settles(worker, portal, number)  # its passes scan for stalled consignments too
    clock.set(ict("2026-12-09T10:00:00"))  # two days on, a moment later in real time
    worker.run_once()
    with portal.db.session() as session:
        kinds = [e.kind for e in session.scalars(select(Escalation))]
    assert kinds == ["stalled"]


def test_a_consignment_says_when_it_will_count_as_stalled_and_when_its_next_timer_fires(
    portal, live_portal, worker, clock
):
    number = trader_registers(portal, "C02")  # Monday 08:00; PPSD2 has one working day for its result

    def read() -> dict:
        response = requests.get(
            f"{live_portal}/api/v1/consignments/{number}",
            timeout=10,
            headers={"Authorization": "Bearer demo-admin"},
        )
        assert response.status_code == 200
        return response.json()

    body = read()
    # 16 working hours: 08:00-17:00 on Monday, then 07:30-14:30 on Tuesday.
    assert datetime.fromisoformat(body["stalled_at"]) == ict("2026-12-08T14:30:00")
    assert datetime.fromisoformat(body["last_activity_at"]) == ict("2026-12-07T08:00:00")

    worker_settles(worker, portal, number)
    clock.set(ict("2026-12-07T09:00:00"))
    completes(portal, "officer.ppsd2", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    body = read()
    assert datetime.fromisoformat(body["next_timer_at"]) == ict("2026-12-08T17:00:00")  # the result's SLA
    assert [t["due_at"] for t in body["open_tasks"]] == [body["next_timer_at"]]
    # Waiting for the agency within its deadline is not stalling: idle time counts from the deadline, and
    # 16 working hours after Tuesday 17:00 are Wednesday 07:30-17:00 and Thursday 07:30-14:00.
    assert datetime.fromisoformat(body["stalled_at"]) == ict("2026-12-10T14:00:00")

    clock.set(ict("2026-12-08T16:59:00"))  # 16 working hours after the sampling, an hour before the SLA
    assert portal.execute(DetectStalledConsignments()) == 0
    clock.set(ict("2026-12-08T17:01:00"))
    worker.fire_due_timers()  # the deadline escalates; the managers hear of it once, not twice
    assert [e["kind"] for e in escalations_seen_by(live_portal, "manager.02ci")] == ["result_overdue"]
    assert portal.execute(DetectStalledConsignments()) == 0
    assert datetime.fromisoformat(read()["stalled_at"]) == ict("2026-12-10T14:00:00")

    clock.set(ict("2026-12-10T13:59:00"))
    assert portal.execute(DetectStalledConsignments()) == 0
    clock.set(ict("2026-12-10T14:01:00"))  # nothing happened for 16 working hours after the escalation
    assert portal.execute(DetectStalledConsignments()) == 1
    body = read()
    assert body["stalled_at"] is None  # stalled now: nothing more to wait for


def test_the_stalled_scan_takes_the_longest_idle_first_so_a_recent_escalation_holds_back_no_one(
    portal, worker, simulators, clock
):
    """The scan reads a batch at a time. Consignment X last moved first but its port-move deadline
    escalated on Monday evening, so it is idle only from then; Y, registered an hour after X, has been
    idle since. With a batch of one, Y must be the one read, and raised."""
    requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "error"}, timeout=5)
    try:
        x = trader_registers(portal, "C02")  # Monday 08:00
        for _ in range(3):
            worker.run_due_jobs()  # the port is down: the move stays pending, its 12-hour SLA runs
    finally:
        requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "ok"}, timeout=5)
    clock.advance(timedelta(hours=1))
    y = trader_registers(portal, "C01")  # Monday 09:00; nobody acts on it again
    clock.set(ict("2026-12-07T20:01:00"))
    worker.fire_due_timers()  # X's port move is 12 hours late: escalated
    assert consignment(portal, x).last_activity_at < consignment(portal, y).last_activity_at

    clock.set(ict("2026-12-08T15:31:00"))  # Y: 8 h on Monday from 09:00 and 8 h on Tuesday from 07:30
    assert portal.execute(DetectStalledConsignments(limit=1)) == 1
    with portal.db.session() as session:
        stalled = session.scalars(select(Escalation.consignment_id).where(Escalation.kind == "stalled")).all()
    assert stalled == [consignment(portal, y).id]
    assert portal.execute(DetectStalledConsignments(limit=1)) == 0  # X: idle only since Monday 20:01
