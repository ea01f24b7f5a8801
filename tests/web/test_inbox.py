"""The inbox: an officer filters by step, deadline and declaration, takes and releases work; a branch head
hands an item to an officer; a trader cannot hand anything over."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models import WorkItem
from tests.procedure import (
    SAMPLING,
    completes,
    trader_countersigns,
    trader_registers,
    work_item,
    worker_settles,
)
from tests.web.client import page, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _rows(response) -> list[str]:
    return page(response).xpath("//table[contains(@class,'inbox')]//tr[@data-work-item]/@data-work-item")


def test_officer_filters_takes_and_releases_work(portal, person, worker, clock):
    numbers = [trader_registers(portal, cid) for cid in ("C01", "C04")]  # both led by RAHO6
    for number in numbers:
        worker_settles(worker, portal, number)
    completes(portal, "officer.raho6", numbers[0], "record_sampling", SAMPLING)
    trader_countersigns(portal, numbers[0])
    officer = person("officer.raho6")

    everything = officer.get("/inbox")
    assert len(_rows(everything)) == 2  # one result to publish, one sampling to record
    sampling = officer.get("/inbox?step=record_sampling")
    assert _rows(sampling) == [str(work_item(portal, numbers[1], "record_sampling").id)]
    one = officer.get(f"/inbox?q={numbers[0]}")
    assert _rows(one) == [str(work_item(portal, numbers[0], "publish_result").id)]

    clock.advance(timedelta(days=30))  # far past the 10-working-day result deadline
    overdue = officer.get("/inbox?sla=overdue")
    assert _rows(overdue) == [
        str(work_item(portal, numbers[0], "publish_result").id)
    ]  # sampling has no deadline
    assert all("Quá hạn" in t for t in texts(overdue, "//span[contains(@class,'sla-overdue')]"))

    item = work_item(portal, numbers[1], "record_sampling")
    assert officer.post(f"/work-items/{item.id}/claim", {}, token_from="/inbox").status_code == 302
    mine = officer.get("/inbox?state=mine")
    assert _rows(mine) == [str(item.id)]
    assert officer.post(f"/work-items/{item.id}/release", {}, token_from="/inbox").status_code == 302
    assert _rows(officer.get("/inbox?state=mine")) == []


def test_branch_head_hands_a_customs_step_to_an_officer(portal, person, worker):
    number = trader_registers(portal, "C03")  # five containers: customs nominates
    worker_settles(worker, portal, number)
    item = work_item(portal, number, "nominate_containers")
    head = person("head.02ci")
    team = head.get("/inbox?team=1")
    assert str(item.id) in _rows(team)

    unknown = head.post(f"/work-items/{item.id}/reassign", {"assignee": "trader.t01"}, token_from="/inbox")
    assert unknown.status_code == 302
    with portal.db.session() as db:
        assert db.get(WorkItem, item.id).state == "open"

    handed = head.post(f"/work-items/{item.id}/reassign", {"assignee": "officer.02ci"}, token_from="/inbox")
    assert handed.status_code == 302
    with portal.db.session() as db:
        row = db.get(WorkItem, item.id)
        assert row.state == "claimed" and row.assignee_id is not None
        handed_to = row.assignee_id
    officer = person("officer.02ci")
    assert _rows(officer.get("/inbox?state=mine")) == [str(item.id)]

    trader = person("trader.t03")
    refused = trader.post(
        f"/work-items/{item.id}/reassign", {"assignee": "officer.02ci"}, token_from="/inbox"
    )
    assert refused.status_code == 302
    assert any(
        "Không giao được việc" in f for f in texts(trader.get("/inbox"), "//div[contains(@class,'flash')]")
    )
    with portal.db.session() as db:
        assert db.get(WorkItem, item.id).assignee_id == handed_to
