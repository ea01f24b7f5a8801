"""The analyst's studio in a real browser, through its controls only (palette, context pad, properties
panel, links and buttons): add a timer to a task, see the lint error of a user task without performers,
open it from the overview, click it, fix it in the properties panel, deploy with a change note — then a new
consignment follows the new version while one registered before stays on the old one. Also: a ready-made
port-move service task from the palette's templates, and the form editor's live preview."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.models import ModelVersion, ProcessInstance
from app.models.studio import ModelDraft
from tests.browser.modeler import type_label
from tests.browser.test_portal_journey import Desk
from tests.procedure import consignment, trader_registers

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

EDITOR = "/studio/bpmn/specialized_inspection.bpmn"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def _version_of(portal, number: str) -> int:
    with portal.db.session() as db:
        instance = db.get(ProcessInstance, consignment(portal, number).instance_id)
        return db.get(ModelVersion, instance.model_version_id).version


def _working_copy(portal) -> str:
    with portal.db.session() as db:
        return db.scalar(select(ModelDraft)).files["specialized_inspection.bpmn"]


def _open_editor(analyst, path: str = EDITOR):
    page = analyst.open(path)
    page.locator("[data-bpmn-modeler][data-rendered='true']").wait_for(timeout=30_000)
    return page


def _group(page, group_id: str):
    """The properties panel's group, opened."""
    group = page.locator(f"[data-modeler-properties] [data-group-id='{group_id}']")
    if group.locator(".bio-properties-panel-group-entries.open").count() == 0:
        group.locator(".bio-properties-panel-group-header").click()
    return group


def _shape(page, element_id: str):
    return page.locator(f"[data-modeler-canvas] g.djs-element[data-element-id='{element_id}']")


def _click_at(page, x: float, y: float) -> None:
    page.mouse.move(x - 40, y + 40)
    page.mouse.move(x, y, steps=5)
    page.mouse.click(x, y)


def _selected(page):
    """The name in the properties panel's header: the selected element (assert with expect, which waits
    for the panel to render)."""
    return expect(page.locator("[data-modeler-properties] .bio-properties-panel-header-label"))


def test_analyst_adds_a_timer_fixes_a_lint_error_and_deploys(browser, live_portal, portal):
    old = trader_registers(portal, "C01")
    analyst = Desk(browser, live_portal, "analyst")
    try:
        page = _open_editor(analyst)
        editor = page.locator("[data-bpmn-modeler]")
        assert editor.get_attribute("data-problems") == "0"

        # A 4-hour, non-interrupting timer on the sampling step: an intermediate event from the palette
        # dropped on the step's lower edge, named as it lands, then changed into a timer.
        page.locator("[data-modeler-canvas]").scroll_into_view_if_needed()
        sampling = _shape(page, "record_sampling").locator(".djs-visual > rect").bounding_box()
        page.locator(".djs-palette [data-action='create.intermediate-event']").click()
        _click_at(page, sampling["x"] + sampling["width"] - 8, sampling["y"] + sampling["height"] - 2)
        type_label(page, "4 hours passed")
        page.locator(".djs-context-pad [data-action='replace']").click()
        page.keyboard.type("timer")
        page.locator(".djs-popup .entry", has_text="Timer boundary event (non-interrupting)").click()
        _group(page, "group-general").get_by_label("ID", exact=True).fill("sampling_reminder")
        timer = _group(page, "group-timer")
        timer.get_by_label("Type").select_option(label="Duration")
        timer.get_by_label("Value").fill('"PT4H"')

        # The sampling step loses its performers.
        _shape(page, "record_sampling").click()
        _selected(page).to_have_text("Record the sampling")
        _group(page, "group-CamundaPlatform__UserAssignment").get_by_label("Candidate groups").fill("")

        page.locator("[data-modeler-save]").click()
        page.locator("[data-bpmn-modeler][data-saved='true']").wait_for(timeout=30_000)
        problems = page.locator("[data-modeler-problems] li")
        listed = problems.all_inner_texts()
        assert any(
            text.startswith("Record the sampling (record_sampling)") and "performer" in text
            for text in listed
        ), listed
        marked = _shape(page, "record_sampling").get_attribute("class").split()
        assert "lint-error" in marked
        analyst.shoot("studio-lint-error")

        # The overview lists the problem with the step's name; its link opens the editor on that step,
        # which shows the problems without saving first.
        page = analyst.open("/studio/")
        item = page.locator("ul.problems li[data-element-id='record_sampling']")
        assert "Record the sampling" in item.inner_text() and "performer" in item.inner_text()
        item.get_by_role("link", name="Mở trong trình soạn thảo").click()
        page.locator("[data-bpmn-modeler][data-rendered='true']").wait_for(timeout=30_000)
        assert page.url.endswith(EDITOR + "#record_sampling")
        assert int(page.locator("[data-bpmn-modeler]").get_attribute("data-problems")) >= 1
        _selected(page).to_have_text("Record the sampling")
        assert "lint-error" in _shape(page, "record_sampling").get_attribute("class").split()

        # Clicking the problem selects the step; the analyst types its performers in the properties panel.
        _shape(page, "publish_result").click()
        _selected(page).not_to_have_text("Record the sampling")
        page.locator("[data-modeler-problems] li", has_text="record_sampling").get_by_role("button").click()
        _selected(page).to_have_text("Record the sampling")
        group = _group(page, "group-CamundaPlatform__UserAssignment")
        group.get_by_label("Candidate groups").fill("agency:${lead_agency}")
        page.locator("[data-modeler-save]").click()
        page.locator("[data-bpmn-modeler][data-problems='0']").wait_for(timeout=30_000)
        assert page.locator("[data-bpmn-modeler]").get_attribute("data-saved") == "true"
        assert page.locator("[data-modeler-status]").inner_text() == "Đã lưu"

        # Deploy with a change note from the studio's overview.
        page = analyst.open("/studio/")
        page.get_by_label("Ghi chú thay đổi").fill("Nhắc việc lấy mẫu sau 4 giờ")
        page.get_by_role("button", name="Triển khai thành phiên bản mới").click()
        page.wait_for_load_state()
        assert page.locator("tr[data-version='2'] td").nth(3).inner_text() == "Nhắc việc lấy mẫu sau 4 giờ"
        analyst.shoot("studio-versions")
    finally:
        analyst.close()

    new = trader_registers(portal, "C05")
    assert _version_of(portal, old) == 1
    assert _version_of(portal, new) == 2
    with portal.db.session() as db:
        deployed = db.scalar(select(ModelVersion).where(ModelVersion.version == 2))
        xml = deployed.files["specialized_inspection.bpmn"]
    assert 'id="sampling_reminder"' in xml and 'attachedToRef="record_sampling"' in xml
    assert 'name="4 hours passed"' in xml and 'cancelActivity="false"' in xml
    assert '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT4H"</bpmn:timeDuration>' in xml
    assert 'camunda:candidateGroups="agency:${lead_agency}"' in xml


def test_analyst_inserts_a_ready_made_port_move_task_from_the_palette(browser, live_portal, portal):
    from lxml import etree

    analyst = Desk(browser, live_portal, "analyst")
    try:
        page = _open_editor(analyst)
        page.locator("[data-modeler-canvas]").scroll_into_view_if_needed()
        page.locator(".djs-palette [data-action='create']").click()
        page.keyboard.type("port")
        page.locator(".djs-popup .entry", has_text="Port: move containers to the sampling area").click()
        flow = page.locator(
            "g[data-element-id='Flow_countersign_sampling_to_preservation_requested']"
        ).bounding_box()
        _click_at(page, flow["x"] + flow["width"] / 2, flow["y"] + flow["height"] / 2)
        type_label(page, "Return the containers to the yard", replace=True)
        _selected(page).to_have_text("Return the containers to the yard")
        fields = _group(page, "group-ElementTemplates__CustomProperties")
        assert fields.get_by_label("Declaration number").input_value() == "${declaration_no}"
        assert fields.get_by_label("Sampling place").input_value() == "${sampling_place}"

        page.locator("[data-modeler-save]").click()
        page.locator("[data-bpmn-modeler][data-saved='true']").wait_for(timeout=30_000)
        assert page.locator("[data-bpmn-modeler]").get_attribute("data-problems") == "0"
        assert page.locator("[data-modeler-problems] li").count() == 0
        assert page.locator("[data-modeler-status]").inner_text() == "Đã lưu"
    finally:
        analyst.close()

    saved = etree.fromstring(_working_copy(portal).encode())
    tasks = [t for t in saved.iter("{*}serviceTask") if t.get("name") == "Return the containers to the yard"]
    assert len(tasks) == 1
    task = tasks[0]
    assert task.get(f"{CAMUNDA}type") == "external" and task.get(f"{CAMUNDA}topic") == "port.move_containers"
    inputs = {p.get("name") for p in task.iter(f"{CAMUNDA}inputParameter")}
    assert inputs == {"declaration_no", "containers", "sampling_place"}
    incoming = task.findtext("{*}incoming")
    assert incoming == "Flow_countersign_sampling_to_preservation_requested"
    with portal.db.session() as db:
        assert db.scalar(select(ModelVersion.version).order_by(ModelVersion.version.desc())) == 1


def test_form_editor_preview_follows_the_typing(browser, live_portal, portal):
    analyst = Desk(browser, live_portal, "analyst")
    try:
        page = analyst.open("/studio/forms/fee_payment")
        region = page.locator("[data-preview-region][data-preview-live='true']")
        region.wait_for()
        assert page.get_by_text("Bản xem trước cập nhật theo những gì bạn gõ.").is_visible()
        definition = page.locator("textarea[name='definition']")
        text = definition.input_value()
        assert "Phương thức thanh toán" in region.locator("legend").all_inner_texts()[0]

        # Typing a broken definition keeps the last good preview and says what is wrong.
        definition.fill(text.replace('"type": "object"', '"type": "object",,', 1))
        page.locator("[data-preview-region][data-preview-state='broken']").wait_for()
        assert region.locator("[data-preview-error]").inner_text().startswith("line ")
        assert "Phương thức thanh toán" in region.locator("legend").all_inner_texts()[0]

        # Renaming the field as the analyst types: the preview follows, no button pressed.
        definition.fill(text)
        label = text.index("Phương thức thanh toán")
        definition.focus()
        definition.evaluate(
            "(area, at) => area.setSelectionRange(at, at + 'Phương thức thanh toán'.length)", label
        )
        page.keyboard.type("Cách nộp phí")
        page.locator("[data-preview-region][data-preview-state='fresh']").wait_for()
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-form-preview] legend')]"
            ".some(l => l.textContent.includes('Cách nộp phí'))"
        )
        assert region.locator("[data-preview-error]").count() == 0
        assert page.locator("[data-preview-status]").inner_text() == "Đã cập nhật bản xem trước"
    finally:
        analyst.close()
    with portal.db.session() as db:
        draft = db.scalar(select(ModelDraft))
        assert draft is None or "Cách nộp phí" not in draft.files["forms/fee_payment.json"]
