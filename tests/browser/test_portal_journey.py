"""The portal in a real browser (Playwright + Debian's Chromium) against a real server: a trader registers
five containers, a customs officer nominates two, the terminal's system is down so the port operator
reports the two containers' yard positions on the portal's fallback page, the agency records the sampling
and the trader countersigns it, the trader asks to keep the goods for preservation (by keyboard alone),
the branch head lets the 2-working-hour deadline pass so the diagram marks the decision overdue and the
branch manager sees the escalation among a month of real figures, the branch head decides, the consignment
page shows the diagram with the right step marked, and the trader downloads the evidence. The inbox, a
task form, the dashboard and the consignment page fit a phone's width. Screenshots of the main pages are
taken on the way: into docs/screenshots/ (the README's pictures) with ``make screenshots``, into a temporary
folder otherwise, so that a test run leaves the work tree as it found it."""

from __future__ import annotations

import os
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from app.settings import PROJECT_ROOT
from app.signing.pki import DEMO_PIN
from tests.procedure import (
    PASS,
    PAYMENT,
    PRESERVATION_REQUEST,
    SAMPLING,
    completes,
    jobs,
    registration,
    trader_countersigns,
    trader_registers,
    trader_username,
    work_item,
    worker_settles,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SCREENSHOTS = (
    PROJECT_ROOT / "docs" / "screenshots"
    if os.environ.get("PORTAL_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "portal-screenshots"
)


class Desk:
    """One person at their own browser (own context, own cookies)."""

    def __init__(self, browser, base_url: str, username: str, *, phone: bool = False) -> None:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        # Reduced motion: the charts draw at once (no animation), so screenshots show their figures.
        self.context = browser.new_context(viewport=viewport, locale="vi-VN", reduced_motion="reduce")
        self.page = self.context.new_page()
        self.base_url = base_url
        self.page.goto(base_url + "/login")
        self.page.get_by_label("Tên đăng nhập").fill(username)
        self.page.get_by_label("Mật khẩu").fill("catlai-demo")
        self.page.get_by_role("button", name="Đăng nhập").click()
        self.page.wait_for_load_state()

    def open(self, path: str):
        self.page.goto(self.base_url + path)
        return self.page

    def open_task(self, number: str, step_name: str):
        page = self.open("/inbox")
        row = page.locator("tr", has=page.get_by_role("link", name=number))
        row.get_by_role("link", name=step_name).click()
        page.wait_for_load_state()
        return page

    def fits_the_screen(self) -> bool:
        """No horizontal scrolling: the page is not wider than the window."""
        return self.page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")

    def tab_to(self, selector: str, limit: int = 60) -> None:
        """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key")

    def shoot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def port_down(simulators, down: bool) -> None:
    """Tell the port simulator (the terminal's system) to refuse every request, or to work again."""
    mode = {"mode": "error"} if down else {"mode": "ok"}
    requests.post(simulators.urls["port"] + "/_sim/fail", json=mode, timeout=5).raise_for_status()


def ict(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def a_month_of_consignments(portal, worker, clock) -> None:
    """Four weeks of cleared consignments before the journey, so the dashboard has real figures: each
    Monday a quarantine consignment (RAHO6) cleared in 3-4 working days, a plant-quarantine one (PPSD2)
    whose one-day result comes a day late, and a food-safety one (MOIT-FS) on time; in the second week a
    preservation the branch head decides too late."""
    for week in range(4):
        monday = ict("2026-11-09T08:00:00") + timedelta(weeks=week)
        clock.set(monday)
        for cid, result_after_days in (("C01", 2 + week % 2), ("C02", 2), ("C05", 1)):
            number = trader_registers(portal, cid, declaration_no=f"1068{week}{cid[1:]}00001"[:12])
            worker_settles(worker, portal, number)
            agency = work_item(portal, number, "record_sampling").organization
            clock.set(monday + timedelta(hours=2))
            completes(portal, f"officer.{agency.lower()}", number, "record_sampling", SAMPLING)
            trader_countersigns(portal, number)
            clock.set(monday + timedelta(days=result_after_days, hours=1))
            completes(portal, f"officer.{agency.lower()}", number, "publish_result", PASS)
            worker_settles(worker, portal, number)
            clock.set(monday + timedelta(days=result_after_days + 1))
            completes(portal, trader_username(cid), number, "pay_fees", PAYMENT)
            assert worker_settles(worker, portal, number).status == "cleared"
    clock.set(ict("2026-11-16T08:00:00"))
    late = trader_registers(portal, "C04", declaration_no="106849990001", request_preservation=True)
    worker_settles(worker, portal, late)
    completes(portal, "officer.raho6", late, "record_sampling", SAMPLING)
    trader_countersigns(portal, late)
    completes(portal, "trader.t04", late, "request_preservation", PRESERVATION_REQUEST)
    clock.set(ict("2026-11-16T13:00:00"))
    completes(portal, "head.02ci", late, "decide_preservation", {"preservation_approved": True})
    clock.set(ict("2026-11-18T09:00:00"))
    completes(portal, "officer.raho6", late, "publish_result", PASS)
    worker_settles(worker, portal, late)
    completes(portal, "trader.t04", late, "pay_fees", PAYMENT)
    assert worker_settles(worker, portal, late).status == "cleared"
    clock.set(ict("2026-12-07T08:00:00"))


def test_a_consignment_with_preservation_moves_through_everyone_s_desk(
    browser, live_portal, portal, worker, clock, simulators
):
    a_month_of_consignments(portal, worker, clock)
    data = registration("C03")
    number = data["declaration_no"]
    desks = []
    try:
        # The trader registers the consignment on the registration page.
        trader = Desk(browser, live_portal, "trader.t03")
        desks.append(trader)
        page = trader.open("/consignments/new")
        page.locator("main").get_by_label("Số tờ khai").fill(number)
        page.locator("main").get_by_label("Hàng hóa").fill(data["goods"])
        page.locator("main").get_by_label("Mã HS").fill(", ".join(data["hs_codes"]))
        page.locator("main").get_by_label("Số container").fill("\n".join(data["containers"]))
        page.locator("main").get_by_label("Vận đơn", exact=True).fill(data["bill_of_lading"])
        page.locator("main").get_by_label("Tôi sẽ đề nghị đưa hàng về bảo quản").check()
        trader.shoot("register")
        page.get_by_role("button", name="Đăng ký", exact=True).click()
        page.wait_for_load_state()
        assert number in page.locator("h1").inner_text()
        worker_settles(worker, portal, number)

        # Five containers: a customs officer nominates the ones to inspect.
        customs = Desk(browser, live_portal, "officer.02ci")
        desks.append(customs)
        page = customs.open("/inbox")
        assert page.get_by_role("link", name=number).is_visible()
        customs.shoot("inbox")
        page = customs.open_task(number, "Chỉ định container kiểm tra")  # the step's Vietnamese name
        boxes = page.locator("input[name='nominated_containers']")
        boxes.nth(0).check()
        boxes.nth(1).check()
        nominated = [boxes.nth(i).get_attribute("value") for i in (0, 1)]
        # The terminal's system is down: it refuses the order to move the two containers to the yard.
        port_down(simulators, True)
        try:
            page.get_by_role("button", name="Hoàn thành bước này").click()
            page.wait_for_load_state()
            worker.run_due_jobs()
            move = next(j for j in jobs(portal, number) if j.topic == "port.move_containers")
            assert (move.state, move.attempts) == ("pending", 1)

            # The port operator reports the positions on the portal's fallback page instead.
            operator = Desk(browser, live_portal, "operator.snp")
            desks.append(operator)
            page = operator.open("/port/positions")
            waiting = page.locator(f"section[data-consignment='{number}']")
            assert waiting.is_visible()
            assert "Hệ thống của cảng chưa nhận lệnh di chuyển (số lần thử: 1)." in waiting.inner_text()
            listed = [waiting.get_by_label(f"Số container {i}", exact=True).input_value() for i in (1, 2)]
            assert listed == nominated
            assert waiting.get_by_label("Số container 3", exact=True).count() == 0  # only the nominated two
            waiting.get_by_label("Vị trí trong khu vực lấy mẫu 1", exact=True).fill("SA-B-014")
            keys = page.keyboard
            keys.press("Tab")  # past the second container's number ...
            keys.press("Tab")  # ... to its position
            keys.type("SA-B-015")
            assert (
                waiting.get_by_label("Vị trí trong khu vực lấy mẫu 2", exact=True).input_value() == "SA-B-015"
            )
            operator.shoot("port-positions")
            with page.expect_navigation():
                keys.press("Enter")
            assert page.get_by_role("status").inner_text() == (
                f"Đã báo vị trí container của lô {number}; lô hàng chuyển sang bước lấy mẫu."
            )
            assert page.locator(f"section[data-consignment='{number}']").count() == 0
        finally:
            port_down(simulators, False)
        worker_settles(worker, portal, number)
        page = operator.open(f"/consignments/{number}")
        reported = page.locator("tr[data-step='ContainerPositioned']").inner_text()
        assert "operator.snp" in reported

        # The agency records the sampling; a forgotten field is reported next to it first.
        agency = Desk(browser, live_portal, "officer.ppsd2")
        desks.append(agency)
        page = agency.open_task(number, "Lập biên bản lấy mẫu")
        page.locator("main").get_by_label("Thời điểm lấy mẫu").fill("2026-12-07T09:00")
        page.locator("main").get_by_label("Số lượng mẫu").fill("3")
        page.locator("main").get_by_label("Số niêm phong mẫu").fill("SL-001, SL-002, SL-003")
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()
        summary = page.locator("#error-summary")
        assert summary.is_visible()
        assert "Người đại diện doanh nghiệp" in summary.inner_text()
        assert page.evaluate("document.activeElement.id") == "error-summary"  # read first
        agency.shoot("task-form-errors")
        form = page.locator("main")
        assert form.get_by_label("Số niêm phong mẫu").input_value() == "SL-001, SL-002, SL-003"
        assert form.get_by_label("Thời điểm lấy mẫu").input_value() == "2026-12-07T09:00"
        page.locator("main").get_by_label("Người đại diện doanh nghiệp").fill("Trần Thị Bình")
        page.locator("main").get_by_label("Địa điểm lấy mẫu").fill("Bãi kiểm hóa Cát Lái")
        page.locator("main").get_by_label("Mã PIN ký số").fill(DEMO_PIN)  # the record is signed
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()
        assert "/consignments/" in page.url

        # The sampling record is signed by trader and agency: the trader reads what the agency signed and
        # countersigns it.
        page = trader.open_task(number, "Ký xác nhận biên bản lấy mẫu")
        record = page.locator("section[data-countersigns='record_sampling']")
        assert "SL-001, SL-002, SL-003" in record.inner_text()
        assert "officer.ppsd2" in record.inner_text()
        page.locator("main").get_by_label("Tôi xác nhận biên bản lấy mẫu").check()
        page.locator("main").get_by_label("Mã PIN ký số").fill(DEMO_PIN)
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()
        assert "/consignments/" in page.url

        # The trader asks to keep the goods in its own warehouse, with the keyboard alone.
        page = trader.open_task(number, "Đề nghị mang hàng về bảo quản")
        keys = page.keyboard
        trader.tab_to("button.primary")
        with page.expect_navigation():
            keys.press("Enter")  # nothing filled in yet: the error summary takes the focus
        assert page.evaluate("document.activeElement.id") == "error-summary"
        trader.tab_to("[name='warehouse_address']")
        keys.type("Lô A2, KCN Tân Tạo, Bình Tân, TP. Hồ Chí Minh")
        trader.tab_to("[name='proof_of_premises_ref']")
        keys.type("HD-THUE-2026-118")
        trader.tab_to("[name='reason']")
        keys.type("Hàng đông lạnh cần kho lạnh")
        trader.tab_to("[name='undertaking_accepted']")
        keys.press("Space")
        assert page.locator("input[name='undertaking_accepted']").is_checked()
        trader.tab_to("button.primary")
        with page.expect_navigation():
            keys.press("Enter")
        assert "/consignments/" in page.url

        # Nobody decides for three working hours: the diagram marks the decision overdue ...
        clock.advance(timedelta(hours=3))
        worker.fire_due_timers()
        head = Desk(browser, live_portal, "head.02ci")
        desks.append(head)
        page = head.open(f"/consignments/{number}")
        page.locator("[data-bpmn-viewer][data-rendered='true']").wait_for(timeout=20_000)
        marks = page.locator("g.djs-element[data-element-id='decide_preservation']").get_attribute("class")
        assert "step-overdue" in marks and "step-current" in marks
        label = page.locator("g.djs-element[data-element-id='decide_preservation'] text tspan")
        words = " ".join(label.all_text_contents()).split()
        assert " ".join(words) == "Quyết định cho mang hàng về bảo quản"  # the diagram speaks Vietnamese
        assert "step-overdue" not in (
            page.locator("g.djs-element[data-element-id='request_preservation']").get_attribute("class")
        )

        # ... and the branch manager sees the escalation, with the month's figures drawn as charts.
        manager = Desk(browser, live_portal, "manager.02ci")
        desks.append(manager)
        page = manager.open("/dashboard")
        escalation = page.locator("tr[data-escalation='preservation_decision_overdue']")
        assert escalation.get_by_role("link", name=number).is_visible()
        assert int(page.locator("[data-figure='open_escalations']").inner_text()) == 1
        assert page.locator("table[data-table='trend'] tbody tr").count() == 4  # four weeks cleared
        late = page.locator("table[data-table='agency-breaches'] tr[data-organization='PPSD2'] td")
        # Every plant result came two days after sampling: late but in the week of 24 November (Cultural
        # Day, a holiday from 2026), when the one-working-day deadline moved a day further.
        assert [late.nth(i).inner_text() for i in (1, 2)] == ["4", "3"]
        charts = page.locator("canvas[data-chart]")
        assert charts.count() == 4
        for i in range(charts.count()):
            assert charts.nth(i).get_attribute("data-rendered") == "true", charts.nth(i).get_attribute(
                "data-error"
            )
        manager.shoot("dashboard")

        # The branch head decides; the consignment moves on to the agency's result.
        page = head.open_task(number, "Quyết định cho mang hàng về bảo quản")
        page.locator("main").get_by_label("Đồng ý cho mang hàng về bảo quản").check()
        page.locator("main").get_by_label("Mã PIN ký số").fill(DEMO_PIN)
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()

        # Everyone who takes part reads the consignment page; the diagram marks where it stands.
        port = operator
        page = port.open(f"/consignments/{number}")
        diagram = page.locator("[data-bpmn-viewer]")
        diagram.and_(page.locator("[data-rendered='true']")).wait_for(timeout=20_000)
        assert (
            page.locator("g.djs-element[data-element-id='publish_result']")
            .get_attribute("class")
            .count("step-current")
            == 1
        )
        completed = page.locator("g.djs-element[data-element-id='decide_preservation']").get_attribute(
            "class"
        )
        assert "step-completed" in completed
        assert "step-current" not in completed
        port.shoot("consignment")

        # The trader downloads the consignment's evidence bundle from its page.
        page = trader.open(f"/consignments/{number}")
        with page.expect_download() as download:
            page.get_by_role("link", name="Tải hồ sơ chứng cứ (ZIP)").click()
        assert download.value.suggested_filename == f"evidence-{number}.zip"
        with zipfile.ZipFile(download.value.path()) as archive:
            assert f"evidence-{number}/evidence.json" in archive.namelist()

        # The same page works on a phone screen, and so do the inbox, a task form and the dashboard.
        phone = Desk(browser, live_portal, "trader.t03", phone=True)
        desks.append(phone)
        page = phone.open(f"/consignments/{number}")
        assert phone.fits_the_screen()
        phone.shoot("consignment-phone")
        officer = Desk(browser, live_portal, "officer.ppsd2", phone=True)
        desks.append(officer)
        officer.open("/inbox")
        assert officer.fits_the_screen()
        page = officer.open_task(number, "Công bố kết quả kiểm tra chuyên ngành")
        assert page.locator("form.task-form").is_visible() and officer.fits_the_screen()
        page.get_by_role("button", name="Hoàn thành bước này").click()  # with its error summary too
        page.wait_for_load_state()
        assert page.locator("#error-summary").is_visible() and officer.fits_the_screen()
        boss = Desk(browser, live_portal, "manager.02ci", phone=True)
        desks.append(boss)
        boss.open("/dashboard")
        assert boss.fits_the_screen()
    finally:
        for desk in desks:
            desk.close()
