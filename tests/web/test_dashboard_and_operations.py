"""The manager's dashboard (figures by SQL over the projections, checked against the timeline computed by
hand), CSV exports, the operators' incidents page with bulk retry, notifications in the portal and by
e-mail through a local SMTP sink."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import math
import threading
import time
from datetime import datetime, timedelta

import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.engine.commands import DetectStalledConsignments
from app.engine.commands.reporting import RebuildStatistics
from app.models import ClearanceWeek, SlaCounter, StepDurationBucket, TimelineEvent
from app.services import build_portal
from app.settings import Settings
from app.stack import free_port
from app.worker import Worker
from tests.procedure import (
    PASS,
    PAYMENT,
    PRESERVATION_REQUEST,
    SAMPLING,
    completes,
    jobs,
    open_work_items,
    trader_countersigns,
    trader_registers,
    work_item,
    worker_settles,
)
from tests.web.client import page, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def _nearest_rank(values: list[float], share: float) -> float:
    """The nearest-rank percentile, at the dashboard's resolution of a tenth of a working hour."""
    ordered = sorted(round(v * 10) / 10 for v in values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def test_manager_reads_step_times_breaches_and_the_clearance_trend(portal, person, worker, clock):
    for cid, hours in (("C01", 1.5), ("C04", 3.0), ("C05", 0.5)):
        number = trader_registers(portal, cid)
        worker_settles(worker, portal, number)
        agency = work_item(portal, number, "record_sampling").organization
        officer = f"officer.{agency.lower()}"
        clock.advance(timedelta(hours=hours))
        completes(portal, officer, number, "record_sampling", SAMPLING)
        trader_countersigns(portal, number)
        clock.advance(timedelta(hours=hours))
        completes(portal, officer, number, "publish_result", PASS)
        worker_settles(worker, portal, number)
        completes(portal, f"trader.t0{cid[-1]}", number, "pay_fees", PAYMENT)
        assert worker_settles(worker, portal, number).status == "cleared"

    manager = person("manager.02ci")
    board = manager.get("/dashboard")
    assert board.status_code == 200
    with portal.db.session() as db:
        rows = db.execute(
            select(TimelineEvent.step_id, TimelineEvent.working_hours).where(
                TimelineEvent.working_hours.is_not(None),
                TimelineEvent.kind.in_(("task", "service", "message")),
            )
        ).all()
    by_step: dict[str, list[float]] = {}
    for step, hours in rows:
        by_step.setdefault(step, []).append(hours)
    exported = list(
        csv.DictReader(io.StringIO(manager.get("/dashboard/step-times.csv").text.lstrip("\ufeff")))
    )
    assert {r["step_id"] for r in exported} == set(by_step)
    for row in exported:
        values = by_step[row["step_id"]]
        assert int(row["count"]) == len(values)
        assert float(row["median_working_hours"]) == pytest.approx(_nearest_rank(values, 0.5))
        assert float(row["p90_working_hours"]) == pytest.approx(_nearest_rank(values, 0.9))
    assert float(next(r for r in exported if r["step_id"] == "record_sampling")["p90_working_hours"]) == 3.0

    trend = list(
        csv.DictReader(io.StringIO(manager.get("/dashboard/clearance-trend.csv").text.lstrip("\ufeff")))
    )
    assert sum(int(r["cleared"]) for r in trend) == 3
    assert all(r["baseline_days"] == "5.0" and r["target_days"] == "4.2" for r in trend)
    assert texts(board, "//table[@data-table='trend']//tbody/tr[1]/td[2]") == [trend[-1]["cleared"]]
    charts = page(board).xpath("//canvas/@data-chart")
    assert len(charts) >= 2 and '"type": "line"' in charts[0]
    assert all('"type": "bar"' in chart for chart in charts[1:])

    # The running totals kept by the commands equal a rebuild from the projections.
    kept = _totals(portal)
    portal.execute(RebuildStatistics())
    assert _totals(portal) == kept
    assert kept["stats_clearance_weeks"] and kept["stats_step_durations"] and kept["stats_sla"]


def _totals(portal) -> dict[str, list[tuple]]:
    with portal.db.engine.connect() as conn:
        return {
            model.__tablename__: sorted(tuple(row) for row in conn.execute(select(model.__table__)))
            for model in (StepDurationBucket, SlaCounter, ClearanceWeek)
        }


def test_operator_retries_incidents_after_the_port_comes_back(portal, person, worker, simulators, clock):
    simulators.stop("port")
    try:
        number = trader_registers(portal, "C02")
        worker.run_due_jobs()
        worker.run_due_jobs()
        for attempt in range(1, portal.settings.job_max_attempts + 1):
            clock.advance(timedelta(seconds=portal.settings.job_backoff_seconds * 2**attempt))
            worker.run_due_jobs()
        assert [j.state for j in jobs(portal, number) if j.topic == "port.move_containers"] == ["incident"]
    finally:
        simulators.restart("port")
    trader = person("trader.t02")
    assert trader.get("/incidents").status_code == 403
    manager = person("manager.02ci")
    listing = manager.get("/incidents")
    assert number in listing.text and "port.move_containers" in listing.text
    # The step reads in the manager's language (Vietnamese), as in the inbox; its id is not shown.
    assert texts(listing, "//td[@data-step='move_containers']") == ["Yêu cầu cảng di chuyển container"]
    manager.post("/language", {"locale": "en", "next": "/incidents"}, token_from="/incidents")
    in_english = texts(manager.get("/incidents"), "//td[@data-step='move_containers']")
    assert in_english == ["Ask the port to move the containers"]
    job_ids = page(listing).xpath("//input[@name='job_id']/@value")
    assert len(job_ids) == 1
    response = manager.post(
        "/incidents/retry", [("job_id", v) for v in job_ids] + [("job_id", "999999")], token_from="/incidents"
    )
    assert response.status_code == 302
    notices = texts(manager.get("/incidents"), "//div[contains(@class,'flash')]")
    assert any("1" in n for n in notices) and any("999999" not in n for n in notices)
    assert [j.state for j in jobs(portal, number) if j.topic == "port.move_containers"] == ["pending"]
    consignment = worker_settles(worker, portal, number)
    assert "Record the sampling" in (consignment.current_step or "")


def ict(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def _csv(person, figure: str) -> list[dict[str, str]]:
    response = person.get(f"/dashboard/{figure}.csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))


def _chart(board, figure: str) -> dict:
    return json.loads(page(board).xpath(f"//canvas[@data-figure='{figure}']/@data-chart")[0])


def test_manager_sees_the_breaches_stalled_escalations_and_incidents_of_the_branch(
    portal, person, worker, simulators, clock
):
    # Monday 08:00: C01 is registered and then nobody touches it.
    stalled = trader_registers(portal, "C01")
    worker_settles(worker, portal, stalled)

    # Tuesday 15:00: 16.5 working hours later C01 is stalled.
    clock.set(ict("2026-12-08T15:00:00"))
    assert portal.execute(DetectStalledConsignments()) == 1

    # The customs system refuses every declaration lookup of C06 until its last attempt: an incident.
    requests.post(simulators.urls["customs"] + "/_sim/fail", json={"mode": "error"}, timeout=5)
    try:
        failing = trader_registers(portal, "C06")
        for _ in range(10):
            worker.run_due_jobs()
            if [j.state for j in jobs(portal, failing)] == ["incident"]:
                break
            clock.advance(timedelta(minutes=10))
        assert [j.state for j in jobs(portal, failing)] == ["incident"]
    finally:
        requests.post(simulators.urls["customs"] + "/_sim/fail", json={"mode": "ok"}, timeout=5)

    # C04: the trader asks for preservation; the branch head has 2 working hours to decide.
    late_branch = trader_registers(portal, "C04", request_preservation=True)
    worker_settles(worker, portal, late_branch)
    completes(portal, "officer.raho6", late_branch, "record_sampling", SAMPLING)
    trader_countersigns(portal, late_branch)
    completes(portal, "trader.t04", late_branch, "request_preservation", PRESERVATION_REQUEST)
    # C02: plant quarantine (PPSD2) has one working day for its result after the sampling.
    late_agency = trader_registers(portal, "C02")
    worker_settles(worker, portal, late_agency)
    completes(portal, "officer.ppsd2", late_agency, "record_sampling", SAMPLING)
    trader_countersigns(portal, late_agency)
    deadlines = {
        w.step_id: w.due_at
        for n in (late_branch, late_agency)
        for w in open_work_items(portal, n)
        if w.due_at is not None
    }
    assert set(deadlines) == {"decide_preservation", "publish_result"}

    # Wednesday 17:30: both deadlines have passed; their timers escalate to the branch manager.
    clock.set(ict("2026-12-09T17:30:00"))
    assert all(due < clock.now() for due in deadlines.values())
    worker.fire_due_timers()

    manager = person("manager.02ci")
    board = manager.get("/dashboard")
    assert board.status_code == 200
    headline = {e.get("data-figure"): int(e.text) for e in page(board).xpath("//strong[@data-figure]")}
    assert headline == {"stalled": 1, "open_escalations": 3, "incidents": 1, "overdue_items": 2}

    escalations = {
        (row.get("data-escalation"), row.xpath("string(td[1])").strip())
        for row in page(board).xpath("//section[@id='escalations']//tbody/tr")
    }
    assert escalations == {
        ("stalled", stalled),
        ("preservation_decision_overdue", late_branch),
        ("result_overdue", late_agency),
    }
    assert [r["declaration_no"] for r in _csv(manager, "stalled")] == [stalled]

    incidents = page(board).xpath("//table[@data-table='incidents']//tbody/tr")
    assert [r.xpath("string(td[1])").strip() for r in incidents] == [failing]
    assert (
        incidents[0].xpath("string(td[2])").strip() == "Tra cứu tờ khai hải quan"
    )  # the step, in Vietnamese
    assert incidents[0].xpath("string(td[3])").strip() == "customs.lookup_declaration"
    exported = _csv(manager, "incidents")
    assert [(r["declaration_no"], r["step_id"], r["attempts"]) for r in exported] == [
        (failing, "lookup_declaration", str(portal.settings.job_max_attempts))
    ]

    # SLA breaches: the agency's late result and the branch head's late decision, as tables and charts.
    def table(name: str) -> list[list[str]]:
        return [
            [" ".join(td.text_content().split()) for td in row.xpath("td")]
            for row in page(board).xpath(f"//table[@data-table='{name}']//tbody/tr")
        ]

    assert table("agency-breaches") == [["PPSD2", "1", "1", "100.0"]]
    assert table("branch-breaches") == [["02CI", "1", "1", "100.0"]]
    agency_title = page(board).xpath("//table[@data-table='agency-breaches']//abbr/@title")
    assert agency_title == [
        "Chi cục Kiểm dịch thực vật vùng II (Cục Bảo vệ thực vật, Bộ Nông nghiệp và Phát triển nông thôn)"
    ]
    for name, code in (("agency-breaches", "PPSD2"), ("branch-breaches", "02CI")):
        chart = _chart(board, name)
        assert chart["type"] == "bar" and chart["data"]["labels"] == [code]
        assert [d["data"] for d in chart["data"]["datasets"]] == [[0], [1]]
        [row] = _csv(manager, name)
        assert (row["organization"], row["items_with_deadline"], row["breached"]) == (code, "1", "1")

    # Another branch's manager sees none of it.
    other = person("manager.02ab").get("/dashboard")
    assert [int(n) for n in texts(other, "//strong[@data-figure]")] == [0, 0, 0, 0]
    assert page(other).xpath("//table[@data-table='incidents']") == []
    assert _csv(person("manager.02ab"), "incidents") == []


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


def test_the_lead_agency_officer_gets_an_email_about_the_new_task(database_url, clock, simulators):
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        port_url=simulators.urls["port"],
        customs_url=simulators.urls["customs"],
        payment_url=simulators.urls["payment"],
    )
    services = build_portal(settings, clock=clock)
    from app.tasks import build_registry

    mailer = Worker(services, build_registry(simulators.connector_settings()), name="mail-test")
    try:
        number = trader_registers(services, "C10")  # air cargo: straight to the agency's sampling
        worker_settles(mailer, services, number)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("officer.mic" in m[1][0] for m in sink.messages):
            mailer.run_once()
            time.sleep(0.05)
        to_officer = [m for m in sink.messages if m[1] == ["officer.mic@demo.catlai.example"]]
        assert to_officer, [m[1] for m in sink.messages]
        message = email.message_from_string(to_officer[0][2], policy=email.policy.default)
        # The officer reads Vietnamese: the step's Vietnamese name comes from the model (name_vi).
        assert message["Subject"].startswith("Việc mới: Lập biên bản lấy mẫu")
        assert (
            "Lập biên bản lấy mẫu" in message.get_content()
            and "Record the sampling" not in message.get_content()
        )
        assert number in message["Subject"] and number in message.get_content()
    finally:
        mailer._pool.shutdown(wait=True)
        services.close()
        controller.stop()
