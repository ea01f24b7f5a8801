"""The analyst's studio in a real browser: open the editor, add a timer to a task, see the lint error of a
user task without performers, click it, fix it in the properties panel, deploy with a change note — then
a new consignment follows the new version while one registered before stays on the old one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import ModelVersion, ProcessInstance
from tests.browser.test_portal_journey import Desk
from tests.procedure import consignment, trader_registers

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

EDITOR = "/studio/bpmn/specialized_inspection.bpmn"


def _version_of(portal, number: str) -> int:
    with portal.db.session() as db:
        instance = db.get(ProcessInstance, consignment(portal, number).instance_id)
        return db.get(ModelVersion, instance.model_version_id).version


def test_analyst_adds_a_timer_fixes_a_lint_error_and_deploys(browser, live_portal, portal):
    old = trader_registers(portal, "C01")
    analyst = Desk(browser, live_portal, "analyst")
    try:
        page = analyst.open(EDITOR)
        editor = page.locator("[data-bpmn-modeler]")
        page.locator("[data-bpmn-modeler][data-rendered='true']").wait_for(timeout=30_000)

        # A 4-hour, non-interrupting timer on the sampling step; the step loses its performers.
        page.evaluate(
            """() => {
                const m = window.portalModeler, modeling = m.get('modeling'), moddle = m.get('moddle');
                const task = m.get('elementRegistry').get('record_sampling');
                const shape = m.get('elementFactory').createShape({
                    type: 'bpmn:BoundaryEvent', eventDefinitionType: 'bpmn:TimerEventDefinition'});
                const event = modeling.createShape(
                    shape, {x: task.x + task.width - 10, y: task.y + task.height}, task, {attach: true});
                modeling.updateProperties(
                    event, {id: 'sampling_reminder', name: '4 hours passed', cancelActivity: false});
                const definition = event.businessObject.eventDefinitions[0];
                modeling.updateModdleProperties(event, definition, {
                    timeDuration: moddle.create('bpmn:FormalExpression', {body: '"PT4H"'})});
                modeling.updateProperties(task, {'camunda:candidateGroups': undefined});
            }"""
        )
        page.locator("[data-modeler-save]").click()
        page.locator("[data-bpmn-modeler][data-saved='true']").wait_for(timeout=30_000)
        problems = page.locator("[data-modeler-problems] li")
        assert problems.count() >= 1
        listed = problems.all_inner_texts()
        assert any("record_sampling" in text and "performer" in text for text in listed), listed
        assert (
            page.locator("g.djs-element[data-element-id='record_sampling']")
            .get_attribute("class")
            .count("lint-error")
        )
        analyst.shoot("studio-lint-error")

        # Clicking the problem selects the step; the analyst types its performers in the properties panel.
        problems.filter(has_text="record_sampling").first.locator("button, a").first.click()
        selected = page.evaluate("() => window.portalModeler.get('selection').get().map(e => e.id)")
        assert selected == ["record_sampling"]
        panel = page.locator("[data-modeler-properties]")
        group = panel.locator("[data-group-id='group-CamundaPlatform__UserAssignment']")
        if group.locator(".bio-properties-panel-group-entries.open").count() == 0:
            group.locator(".bio-properties-panel-group-header").click()
        group.get_by_label("Candidate groups").fill("agency:${lead_agency}")
        page.locator("[data-modeler-save]").click()
        page.locator("[data-bpmn-modeler][data-problems='0']").wait_for(timeout=30_000)
        assert editor.get_attribute("data-saved") == "true"

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
    assert 'camunda:candidateGroups="agency:${lead_agency}"' in xml
