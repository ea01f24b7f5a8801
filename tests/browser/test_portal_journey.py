"""The portal in a real browser (Playwright + Debian's Chromium) against a real server: a trader
registers five containers, a customs officer nominates two, the agency records the sampling and the trader
countersigns it, the trader asks to keep the goods for preservation, the branch head lets the
2-working-hour deadline pass so the branch manager sees the escalation, the branch head decides, the
consignment page shows the diagram with the right step marked, and the trader downloads the evidence.
Screenshots of the main pages are saved under docs/screenshots/."""

from __future__ import annotations

import zipfile
from datetime import timedelta

import pytest

from app.settings import PROJECT_ROOT
from app.signing.pki import DEMO_PIN
from tests.procedure import registration, worker_settles

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


class Desk:
    """One person at their own browser (own context, own cookies)."""

    def __init__(self, browser, base_url: str, username: str, *, phone: bool = False) -> None:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        self.context = browser.new_context(viewport=viewport, locale="vi-VN")
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

    def shoot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def test_a_consignment_with_preservation_moves_through_everyone_s_desk(
    browser, live_portal, portal, worker, clock
):
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
        page = customs.open_task(number, "Nominate containers for inspection")
        boxes = page.locator("input[name='nominated_containers']")
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()
        worker_settles(worker, portal, number)

        # The agency records the sampling; a forgotten field is reported next to it first.
        agency = Desk(browser, live_portal, "officer.ppsd2")
        desks.append(agency)
        page = agency.open_task(number, "Record the sampling")
        page.locator("main").get_by_label("Thời điểm lấy mẫu").fill("2026-12-07T09:00")
        page.locator("main").get_by_label("Số lượng mẫu").fill("3")
        page.locator("main").get_by_label("Số niêm phong mẫu").fill("SL-001, SL-002, SL-003")
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()
        summary = page.locator("#error-summary")
        assert summary.is_visible()
        assert "Người đại diện doanh nghiệp" in summary.inner_text()
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
        page = trader.open_task(number, "Countersign the sampling record")
        record = page.locator("section[data-countersigns='record_sampling']")
        assert "SL-001, SL-002, SL-003" in record.inner_text()
        assert "officer.ppsd2" in record.inner_text()
        page.locator("main").get_by_label("Tôi xác nhận biên bản lấy mẫu").check()
        page.locator("main").get_by_label("Mã PIN ký số").fill(DEMO_PIN)
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()
        assert "/consignments/" in page.url

        # The trader asks to keep the goods in its own warehouse.
        page = trader.open_task(number, "Request release for preservation")
        page.locator("main").get_by_label("Địa chỉ kho bảo quản").fill(
            "Lô A2, KCN Tân Tạo, Bình Tân, TP. Hồ Chí Minh"
        )
        page.locator("main").get_by_label("Chứng từ về địa điểm bảo quản").fill("HD-THUE-2026-118")
        page.locator("main").get_by_label("Lý do đề nghị").fill("Hàng đông lạnh cần kho lạnh")
        page.locator("input[name='undertaking_accepted']").check()
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()

        # Nobody decides for three working hours: the branch manager sees the escalation.
        clock.advance(timedelta(hours=3))
        worker.fire_due_timers()
        manager = Desk(browser, live_portal, "manager.02ci")
        desks.append(manager)
        page = manager.open("/dashboard")
        escalation = page.locator("tr[data-escalation='preservation_decision_overdue']")
        assert escalation.get_by_role("link", name=number).is_visible()
        assert int(page.locator("[data-figure='open_escalations']").inner_text()) >= 1
        manager.shoot("dashboard")

        # The branch head decides; the consignment moves on to the agency's result.
        head = Desk(browser, live_portal, "head.02ci")
        desks.append(head)
        page = head.open_task(number, "Decide on release for preservation")
        page.locator("main").get_by_label("Đồng ý cho mang hàng về bảo quản").check()
        page.locator("main").get_by_label("Mã PIN ký số").fill(DEMO_PIN)
        page.get_by_role("button", name="Hoàn thành bước này").click()
        page.wait_for_load_state()

        # Everyone who takes part reads the consignment page; the diagram marks where it stands.
        port = Desk(browser, live_portal, "operator.snp")
        desks.append(port)
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

        # The same page works on a phone screen.
        phone = Desk(browser, live_portal, "trader.t03", phone=True)
        desks.append(phone)
        page = phone.open(f"/consignments/{number}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        phone.shoot("consignment-phone")
    finally:
        for desk in desks:
            desk.close()
