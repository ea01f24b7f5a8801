"""All ten demo consignments run to the end against the real portal processes (gunicorn web + worker)
and the real port, customs and payment simulator processes, on SQLite and on PostgreSQL, driven over
the HTTP API exactly as users and outside systems would, with the simulated clock moved instead of
sleeping."""

from __future__ import annotations

import json

import requests

from app.demo import _drive
from app.demo_pace import Pace
from app.engine.working_time import WorkingCalendar
from app.settings import PROJECT_ROOT
from app.stack import Stack
from tests.web.client import Person, texts

DEMO = json.loads((PROJECT_ROOT / "config" / "demo_consignments.json").read_text(encoding="utf-8"))
SEED = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))


def test_all_ten_demo_consignments_reach_the_end_of_the_procedure(database_url, tmp_path):
    with Stack(database_url, clock="simulated", port_delay=0.05, log_dir=tmp_path / "logs") as stack:
        summary = _drive(stack.urls["web"], SEED, 10, random_seed=7, max_rounds=200, pace="instant")
        api = stack.urls["web"] + "/api/v1"

        def consignment(number: str) -> dict:
            response = requests.get(
                f"{api}/consignments/{number}", timeout=10, headers={"Authorization": "Bearer demo-admin"}
            )
            assert response.status_code == 200
            return response.json()

        outcomes = {c["id"]: consignment(c["declaration_no"]) for c in DEMO}
        incidents = requests.get(
            f"{api}/incidents", headers={"Authorization": "Bearer demo-admin"}, timeout=10
        )
        # The pages over the same gunicorn workers: one sign-in holds across every worker process.
        manager = Person(stack.urls["web"], "manager.02ci")
        assert manager.signs_in().status_code == 302
        pages = [manager.get(path) for path in ("/dashboard", "/consignments", "/inbox") * 6]
        trend = texts(pages[0], "//table[@data-table='trend']//tbody/tr/td[2]")
        # Run again against the same portal: its declarations are taken now, so it renumbers them.
        again = _drive(stack.urls["web"], SEED, 3, random_seed=7, pace="instant")

    assert summary.unfinished == 0
    assert again.unfinished == 0 and sum(again.outcomes.values()) == 3
    assert {cid: body["status"] for cid, body in outcomes.items()} == {
        cid: ("non_compliance_handled" if cid == "C09" else "cleared") for cid in outcomes
    }
    assert incidents.json()["items"] == []
    assert [p.status_code for p in pages] == [200] * len(pages)
    assert all("/login" not in p.url for p in pages)
    assert sum(int(n) for n in trend) == 8  # 02CI clears eight: C09 fails, C10 belongs to 02AB
    steps = {cid: [t["step_id"] for t in body["timeline"]] for cid, body in outcomes.items()}
    assert "decide_preservation" in steps["C04"]  # release for preservation
    assert "nominate_containers" in steps["C03"]  # five containers: customs nominates
    assert "handle_non_compliance" in steps["C09"]  # failing result
    assert "move_containers" not in steps["C10"]  # air cargo
    for cid, taken in steps.items():  # the sampling record is signed by the agency, then by the trader
        assert taken.index("record_sampling") < taken.index("countersign_sampling"), cid
    for cid, body in outcomes.items():
        expected_lead = next(c for c in DEMO if c["id"] == cid)["agencies"].split("+")[0]
        assert body["lead_agency"] == expected_lead, cid
        assert body["open_tasks"] == []


def test_at_a_realistic_pace_late_parties_raise_exactly_the_sla_escalations_they_should(
    database_url, tmp_path
):
    """Each party takes its drawn working hours (app.demo_pace) and the clock jumps from one moment to the
    next; the worker's timers and stalled scan still act at their own moments, before the late party."""
    calendar = WorkingCalendar()
    pace = Pace.from_seed("realistic", 2016, SEED, calendar.hours_per_day)
    with Stack(database_url, clock="simulated", port_delay=0.05, log_dir=tmp_path / "logs") as stack:
        summary = _drive(stack.urls["web"], SEED, 10, random_seed=2016)
        api = stack.urls["web"] + "/api/v1"
        bodies = {
            c["id"]: requests.get(
                f"{api}/consignments/{c['declaration_no']}",
                timeout=10,
                headers={"Authorization": "Bearer demo-admin"},
            ).json()
            for c in DEMO
        }

    assert summary.unfinished == 0 and summary.incidents == 0
    assert summary.outcomes == {"cleared": 9, "non_compliance_handled": 1}
    raised = {
        cid: [t["step_id"] for t in b["timeline"] if t["kind"] == "escalation"] for cid, b in bodies.items()
    }
    for c in DEMO:
        body, number = bodies[c["id"]], c["declaration_no"]
        agency = body["lead_agency"]
        days = pace.result_deadline_days[agency]
        late_result = pace.hours(number, "publish_result", agency, False) > days * calendar.hours_per_day
        assert ("escalate_result_overdue" in raised[c["id"]]) == late_result, c["id"]
        if c["id"] == "C04":  # the only consignment whose goods are released for preservation
            late_decision = pace.hours(number, "decide_preservation", "02CI", False) > 2
            assert ("escalate_preservation_decision" in raised[c["id"]]) == late_decision
        assert "escalate_port_move" not in raised[c["id"]]  # the port moves within seconds
        for event in body["timeline"]:
            if event["kind"] == "escalation" and event["step_id"] == "stalled":
                assert event["detail"]["idle_working_hours"] >= 16
        # Every other party acts within 8 working hours and the agency's wait is guarded by its deadline:
        # a consignment is stalled only after its result ran late (app.engine.stalling), never before.
        if "stalled" in raised[c["id"]]:
            assert late_result, c["id"]
            assert raised[c["id"]].index("escalate_result_overdue") < raised[c["id"]].index("stalled")
        done = {t["step_id"]: t for t in body["timeline"] if t["kind"] == "task"}
        assert done["publish_result"]["working_hours"] >= 0.15 * calendar.hours_per_day  # not at once
    assert sum(summary.escalations.values()) == sum(len(r) for r in raised.values())
    assert summary.escalations.get("result", 0) >= 1  # seed 2016 makes some agencies late
    assert summary.escalations.get("stalled", 0) >= 1  # and one of them more than 16 hours late
    assert summary.mean_clearance_hours > 10
