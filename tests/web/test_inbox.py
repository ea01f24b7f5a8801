"""The inbox: an officer filters by step, deadline and declaration, pages through a long inbox, sees what
is due soon, takes and releases work; a branch head hands an item to a member of the team chosen from a
list; a trader cannot hand anything over. Refusals read in the user's language, states and roles too."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.models import WorkItem
from tests.procedure import (
    SAMPLING,
    completes,
    open_work_items,
    trader_countersigns,
    trader_registers,
    work_item,
    worker_settles,
)
from tests.web.client import page, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def ict(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def _rows(response) -> list[str]:
    return page(response).xpath("//table[contains(@class,'inbox')]//tr[@data-work-item]/@data-work-item")


def _flashes(response) -> list[str]:
    return texts(response, "//div[contains(@class,'flash')]")


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

    # Releasing it again: the reason names the item's state, in Vietnamese.
    again = officer.post(f"/work-items/{item.id}/release", {}, token_from="/inbox")
    assert again.status_code == 302
    assert _flashes(officer.get("/inbox")) == ["Không trả lại được việc: Công việc đang mở, chưa có ai nhận"]


def test_a_long_inbox_pages_and_shows_what_is_due_soon(portal, person, worker, clock):
    # 26 air consignments (MIC leads, no port move): more than one page of 25.
    numbers = [trader_registers(portal, "C10", declaration_no=f"10753041{i:04d}") for i in range(26)]
    while worker.run_due_jobs():
        pass
    assert sum(len(open_work_items(portal, n)) for n in numbers) == 26
    # Three results with a deadline (10 working days after sampling): sampled on Monday, Tuesday, Wednesday.
    for number, day in zip(numbers[:3], ("2026-12-07", "2026-12-08", "2026-12-09"), strict=True):
        clock.set(ict(f"{day}T09:00:00"))
        completes(portal, "officer.mic", number, "record_sampling", SAMPLING)
        trader_countersigns(portal, number)
    late, soon, in_time = (work_item(portal, n, "publish_result") for n in numbers[:3])
    items = {w.id for n in numbers for w in open_work_items(portal, n)}
    assert len(items) == 26
    assert (late.due_at, soon.due_at, in_time.due_at) == (
        ict("2026-12-21T17:00:00"),
        ict("2026-12-22T17:00:00"),
        ict("2026-12-23T17:00:00"),
    )
    clock.set(ict("2026-12-22T14:00:00"))  # three working hours before the second deadline

    officer = person("officer.mic")
    first = officer.get("/inbox")
    assert "26" in " ".join(texts(first, "//p[@class='count']"))
    assert texts(first, "//nav[@class='pager']/span") == ["Trang 1 / 2"]
    assert len(_rows(first)) == 25
    assert _rows(first)[:3] == [str(late.id), str(soon.id), str(in_time.id)]  # earliest deadline first
    following = page(first).xpath("//nav[@class='pager']/a[@rel='next']/@href")[0]
    second = officer.get(following)
    assert texts(second, "//nav[@class='pager']/span") == ["Trang 2 / 2"]
    assert len(_rows(second)) == 1
    assert set(_rows(first)) | set(_rows(second)) == {str(i) for i in items}

    due_soon = officer.get("/inbox?sla=due_soon")
    assert _rows(due_soon) == [str(soon.id)]
    row = page(due_soon).xpath(f"//tr[@data-work-item='{soon.id}']")[0]
    assert row.get("class") == "sla-row-due_soon"
    assert [
        " ".join(b.text_content().split()) for b in row.xpath(".//span[contains(@class,'sla-due-soon')]")
    ] == ["Sắp đến hạn: còn 3.0 giờ làm việc"]
    assert _rows(officer.get("/inbox?sla=overdue")) == [str(late.id)]
    on_time = _rows(officer.get("/inbox?sla=on_time"))
    assert str(in_time.id) in on_time and str(soon.id) not in on_time and str(late.id) not in on_time
    colours = {r.get("data-work-item"): r.get("class") for r in page(first).xpath("//tr[@data-work-item]")}
    assert (colours[str(late.id)], colours[str(soon.id)], colours[str(in_time.id)]) == (
        "sla-row-overdue",
        "sla-row-due_soon",
        "sla-row-on_time",
    )


def test_branch_head_hands_a_customs_step_to_a_member_of_the_team(portal, person, worker):
    number = trader_registers(portal, "C03")  # five containers: customs nominates
    worker_settles(worker, portal, number)
    item = work_item(portal, number, "nominate_containers")
    head = person("head.02ci")
    team = head.get("/inbox?team=1")
    assert str(item.id) in _rows(team)
    # The list offers the branch's customs officers only (the step's role, the head's branch).
    offered = page(team).xpath(f"//select[@id='assignee-{item.id}']/option/@value")
    assert offered == ["officer.02ci"]

    # The server still checks: a customs officer of another branch is refused, in Vietnamese.
    outsider = head.post(f"/work-items/{item.id}/reassign", {"assignee": "officer.02cx"}, token_from="/inbox")
    assert outsider.status_code == 302
    assert _flashes(head.get("/inbox")) == [
        "Không giao được việc: Không có công chức hải quan nào của 02CI tên là 'officer.02cx'"
    ]
    with portal.db.session() as db:
        assert db.get(WorkItem, item.id).state == "open"

    handed = head.post(f"/work-items/{item.id}/reassign", {"assignee": offered[0]}, token_from="/inbox")
    assert handed.status_code == 302
    with portal.db.session() as db:
        row = db.get(WorkItem, item.id)
        assert row.state == "claimed" and row.assignee_id is not None
        handed_to = row.assignee_id
    officer = person("officer.02ci")
    assert _rows(officer.get("/inbox?state=mine")) == [str(item.id)]
    # An officer sees no hand-over list: only supervisors hand work over.
    assert not page(officer.get("/inbox")).xpath("//form[@class='reassign']")

    trader = person("trader.t03")
    refused = trader.post(
        f"/work-items/{item.id}/reassign", {"assignee": "officer.02ci"}, token_from="/inbox"
    )
    assert refused.status_code == 404  # another organization's item: as if it did not exist
    with portal.db.session() as db:
        assert db.get(WorkItem, item.id).assignee_id == handed_to

    # English readers get the English reason.
    head.post("/language", {"locale": "en", "next": "/inbox"}, token_from="/inbox")
    head.post(f"/work-items/{item.id}/reassign", {"assignee": "trader.t03"}, token_from="/inbox")
    assert _flashes(head.get("/inbox")) == [
        "Could not hand over the task: No customs officer of 02CI is called 'trader.t03'"
    ]
