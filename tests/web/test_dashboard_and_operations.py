"""The manager's dashboard (figures by SQL over the projections, checked against the timeline computed by
hand), CSV exports, the operators' incidents page with bulk retry, notifications in the portal and by
e-mail through a local SMTP sink."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import math
import threading
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.engine.commands.reporting import RebuildStatistics
from app.models import ClearanceWeek, SlaCounter, StepDurationBucket, TimelineEvent
from app.services import build_portal
from app.settings import Settings
from app.stack import free_port
from app.worker import Worker
from tests.procedure import (
    PASS,
    PAYMENT,
    SAMPLING,
    completes,
    jobs,
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
    assert len(charts) == 2 and '"type": "line"' in charts[0]

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
        assert message["Subject"].startswith("Việc mới: Record the sampling")  # the officer reads Vietnamese
        assert number in message["Subject"] and number in message.get_content()
    finally:
        mailer._pool.shutdown(wait=True)
        services.close()
        controller.stop()
