"""The port operator's fallback page: when the terminal's system is down, the operator reports the
containers in the sampling area on the portal, the procedure goes on to sampling, the timeline and the audit
trail name the operator, and the port's own report arriving later is a repeat, not a second delivery."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from app.models import AuditEvent, Job, MessageInbox, ProcessInstance, TimelineEvent, WorkItem
from tests.procedure import consignment, jobs, open_work_items, timeline, trader_registers
from tests.web.client import page, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

PORT = {"Authorization": "Bearer demo-operator.snp"}


def _port_down(simulators, down: bool) -> None:
    mode = {"mode": "error"} if down else {"mode": "ok"}
    requests.post(simulators.urls["port"] + "/_sim/fail", json=mode, timeout=5).raise_for_status()


def _state(portal, number: str) -> dict:
    """What a refused report must leave alone."""
    c = consignment(portal, number)
    with portal.db.session() as db:
        return {
            "revision": db.scalar(
                select(ProcessInstance.revision).where(ProcessInstance.id == c.instance_id)
            ),
            "jobs": [(j.id, j.state, j.attempts) for j in jobs(portal, number)],
            "timeline": len(timeline(portal, number)),
            "audit": db.scalar(select(func.count()).select_from(AuditEvent)),
            "inbox": db.scalar(select(func.count()).select_from(MessageInbox)),
            "items": [(w.id, w.state) for w in open_work_items(portal, number)],
            "step": c.current_step,
        }


def _listed(response) -> list[str]:
    return [str(v) for v in page(response).xpath("//section/@data-consignment")]


def _form(operator, number: str) -> list[tuple[str, str]]:
    """The report form of one consignment as the page offers it (container numbers filled in)."""
    section = page(operator.get("/port/positions")).xpath(f"//section[@data-consignment='{number}']")[0]
    return [(i.get("name"), i.get("value") or "") for i in section.xpath(".//input[@name='container_no']")]


def test_operator_reports_positions_when_the_terminal_system_is_down(
    portal, person, live_portal, worker, simulators
):
    _port_down(simulators, True)
    try:
        number = trader_registers(portal, "C05")  # one container, Cát Lái (02CI), led by MOIT-FS
        worker.run_due_jobs()  # the customs look-up
        worker.run_due_jobs()  # the move order: the terminal's system refuses it
        move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
        assert (move.state, move.attempts) == ("pending", 1)

        operator = person("operator.snp")
        listing = operator.get("/port/positions")
        assert listing.status_code == 200
        assert _listed(listing) == [number]
        assert _form(operator, number) == [("container_no", "OOLU1333261")]

        before = _state(portal, number)
        wrong = operator.post(
            f"/port/positions/{number}",
            [("container_no", "MSCU3883899"), ("position", "SA-B-014")],
            token_from="/port/positions",
        )
        assert wrong.status_code == 422
        summary = texts(wrong, "//div[@class='error-summary']//li")
        assert summary == ["MSCU3883899 không thuộc các container cảng được yêu cầu di chuyển (OOLU1333261)"]
        assert page(wrong).xpath("//div[@class='error-summary']//li/@data-field") == [
            "positions[0].container_no"
        ]
        assert page(wrong).xpath("//input[@aria-invalid='true']/@value") == ["MSCU3883899"]  # kept as typed
        no_place = operator.post(
            f"/port/positions/{number}",
            [("container_no", "OOLU1333261"), ("position", "")],
            token_from="/port/positions",
        )
        assert no_place.status_code == 422
        assert page(no_place).xpath("//div[@class='error-summary']//li/@data-field") == [
            "positions[0].position"
        ]
        bad_digit = operator.post(
            f"/port/positions/{number}",
            [("container_no", "OOLU1333262"), ("position", "SA-B-014")],
            token_from="/port/positions",
        )
        assert bad_digit.status_code == 422
        assert "không phải là số container hợp lệ" in " ".join(
            texts(bad_digit, "//div[@class='error-summary']")
        )
        assert _state(portal, number) == before  # nothing changed

        reported = operator.post(
            f"/port/positions/{number}",
            [("container_no", "oolu 1333261"), ("position", "sa-b-014")],
            token_from="/port/positions",
        )
        assert reported.status_code == 302
    finally:
        _port_down(simulators, False)

    # The procedure goes on to sampling; the move order is settled, so the port is not asked again.
    assert [w.step_id for w in open_work_items(portal, number)] == ["record_sampling"]
    move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
    assert move.state == "done" and move.result["reported_on_portal"] is True
    asked = requests.get(simulators.urls["port"] + "/_sim/keys", timeout=5).json()["keys"][
        move.idempotency_key
    ]
    worker.run_due_jobs()
    assert (
        requests.get(simulators.urls["port"] + "/_sim/keys", timeout=5).json()["keys"][move.idempotency_key]
        == asked
    )
    assert asked["actions"] == 0  # the terminal's system never moved anything

    # The timeline and the audit trail say who reported it.
    rows = {(t.kind, t.step_id): t for t in timeline(portal, number)}
    assert rows[("service", "move_containers")].actor == "operator.snp"
    message = rows[("message", "ContainerPositioned")]
    assert (message.actor, message.organization) == ("operator.snp", "SNP")
    assert message.detail["positions"] == [{"container_no": "OOLU1333261", "position": "SA-B-014"}]
    with portal.db.session() as db:
        actions = db.execute(
            select(AuditEvent.action, AuditEvent.actor).where(
                AuditEvent.consignment_id == consignment(portal, number).id
            )
        ).all()
    assert ("port_move_reported", "operator.snp") in actions
    assert ("message_received", "operator.snp") in actions
    officer = person("officer.moit-fs")
    shown = texts(officer.get(f"/consignments/{number}"), "//tr[@data-step='ContainerPositioned']")
    assert shown and "operator.snp" in shown[0]
    assert _listed(operator.get("/port/positions")) == []

    # The terminal's system comes back and sends its own report late: acknowledged, not delivered again.
    before = _state(portal, number)
    late = requests.post(
        f"{live_portal}/api/v1/port/container-positioned",
        json={
            "declaration_no": number,
            "move_ref": "MV-LATE",
            "positions": [{"container_no": "OOLU1333261", "position": "SA-A-001"}],
        },
        headers=PORT,
        timeout=10,
    )
    assert late.status_code == 202
    assert late.json() == {"accepted": True, "delivered": False, "duplicate": True}
    after = _state(portal, number)
    assert after["audit"] == before["audit"] + 1  # the ignored report is on the audit trail
    assert {**after, "audit": before["audit"]} == before
    with portal.db.session() as db:
        ignored = db.scalar(
            select(AuditEvent.action)
            .where(AuditEvent.consignment_id == consignment(portal, number).id)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    assert ignored == "message_ignored"
    again = operator.post(
        f"/port/positions/{number}",
        [("container_no", "OOLU1333261"), ("position", "SA-B-015")],
        token_from="/port/positions",
    )
    assert again.status_code == 409
    assert texts(again, "//div[@class='error-summary']//li") == [
        "Container của lô hàng này đã được báo vào vị trí"
    ]


def test_the_operator_cannot_report_for_another_terminal(portal, person, live_portal, worker):
    number = trader_registers(portal, "C02", customs_branch="02CX")  # Tân Cảng: not SNP's Cát Lái terminal
    worker.run_due_jobs()
    worker.run_due_jobs()  # the move order; the port's callback for it is refused (not its terminal)
    assert any(j.topic == "port.move_containers" for j in jobs(portal, number))
    before = _state(portal, number)

    operator = person("operator.snp")
    assert _listed(operator.get("/port/positions")) == []
    refused = operator.post(
        f"/port/positions/{number}",
        [("container_no", "MSCU3883899"), ("position", "SA-B-014")],
        token_from="/port/positions",
    )
    assert refused.status_code == 404
    callback = requests.post(
        f"{live_portal}/api/v1/port/container-positioned",
        json={"declaration_no": number, "positions": [{"container_no": "MSCU3883899", "position": "SA-1"}]},
        headers=PORT,
        timeout=10,
    )
    assert callback.status_code == 404 and callback.json()["field"] == "declaration_no"
    officer = person("officer.02cx")
    assert officer.get("/port/positions").status_code == 403
    assert (
        officer.post(
            f"/port/positions/{number}",
            [("container_no", "MSCU3883899"), ("position", "SA-B-014")],
            token_from="/inbox",
        ).status_code
        == 403
    )
    after = _state(portal, number)
    # the simulator's own refused callbacks may still be retrying; none of them changed anything
    assert after == before
    with portal.db.session() as db:
        assert (
            db.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.step_id == "record_sampling"))
            == 0
        )
        assert (
            db.scalar(select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == "message"))
            == 0
        )
        assert db.scalar(select(Job.state).where(Job.topic == "port.move_containers")) == "done"
