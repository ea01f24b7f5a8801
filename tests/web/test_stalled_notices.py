"""A consignment where nothing happens is escalated as stalled, and the managers who read it on their
dashboard are told: the customs branch's and the lead agency's, in the portal and by e-mail."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import select

from app.engine.commands import DetectStalledConsignments
from app.models import Notification, OutboundEmail, User
from app.services import build_portal
from tests.procedure import trader_registers, worker_settles
from tests.web.client import page, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

TUESDAY_AFTERNOON = datetime.fromisoformat("2026-12-08T15:00:00+07:00")  # 16 working hours later


def _told(portal) -> dict[str, set[str]]:
    with portal.db.session() as db:
        rows = db.execute(
            select(User.username, Notification.kind).join(User, User.id == Notification.user_id)
        ).all()
    told: dict[str, set[str]] = {}
    for username, kind in rows:
        told.setdefault(kind, set()).add(username)
    return told


def test_the_branch_and_lead_agency_managers_hear_of_a_stalled_consignment(
    portal, person, worker, clock, database_url
):
    number = trader_registers(portal, "C01")  # Cát Lái (02CI), led by RAHO6
    worker_settles(worker, portal, number)
    assert "stalled" not in _told(portal)

    clock.set(TUESDAY_AFTERNOON)
    # A worker that sends e-mail (SMTP configured) finds it stalled.
    mailing = build_portal(replace(portal.settings, smtp_host="127.0.0.1", smtp_port=2525), clock=clock)
    try:
        assert mailing.execute(DetectStalledConsignments()) == 1
    finally:
        mailing.close()

    assert _told(portal)["stalled"] == {"manager.02ci", "manager.raho6"}
    with portal.db.session() as db:
        mails = db.execute(select(OutboundEmail.recipient, OutboundEmail.subject)).all()
    stalled_mail = {to: subject for to, subject in mails if number in subject and "đình trệ" in subject}
    assert set(stalled_mail) == {"manager.02ci@demo.catlai.example", "manager.raho6@demo.catlai.example"}
    assert stalled_mail["manager.02ci@demo.catlai.example"] == f"Lô hàng đình trệ: {number}"

    manager = person("manager.02ci")
    notices = manager.get("/notifications")
    stalled = page(notices).xpath("//li[@data-kind='stalled']")
    assert len(stalled) == 1
    assert stalled[0].xpath(".//a/@href") == [f"/consignments/{number}"]
    assert texts(notices, "//li[@data-kind='stalled']/a") == [f"Lô hàng đình trệ: {number}"]
    for someone in ("manager.02ab", "manager.moit-fs", "officer.02ci", "head.02ci", "trader.t01"):
        assert not page(person(someone).get("/notifications")).xpath("//li[@data-kind='stalled']"), someone
