"""The vendored front-end bundles and their glue scripts, driven in headless Chromium.

A real HTTP server on loopback serves app/static/, the model bundle and small test pages under a
Content-Security-Policy without 'unsafe-inline' or 'unsafe-eval' for scripts; a POST endpoint stands in for
the portal's save route and answers with the problems (and revision, or a 409 conflict) a test sets, and
problems.json stands in for the working copy's current problems. Every request that leaves loopback is
aborted and fails the test."""

from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from tests.browser.modeler import type_label

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "app" / "static"
BUNDLE = ROOT / "bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
CSRF_TOKEN = "test-csrf-token-7f3a"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'"
)
TIMEOUT_MS = 20_000

# Collects Content-Security-Policy violations; init scripts run outside the page's CSP.
CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push({directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


class _Handler(SimpleHTTPRequestHandler):
    """Serves the site folder; POST answers with the server's `problems` and records the request."""

    def do_POST(self):  # noqa: N802 - the http.server naming
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.posts.append(
            {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "csrf": self.headers.get("X-CSRFToken"),
                "json": json.loads(body),
            }
        )
        if self.server.conflict:
            status = 409
            answer = json.dumps(
                {
                    "error": "conflict",
                    "field": "revision",
                    "message": "someone saved the model since you opened it",
                }
            ).encode()
        else:
            status = 422 if self.server.problems else 200
            self.server.revision += 1
            answer = json.dumps(
                {
                    "problems": self.server.problems,
                    "revision": self.server.revision,
                    "file_revision": f"file-{self.server.revision}",
                }
            ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args):  # noqa: A002 - keep the test output quiet
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served folder: static/ (a link to app/static), bpmn/ (copies), element-templates.json."""
    root = tmp_path_factory.mktemp("site")
    (root / "static").symlink_to(STATIC, target_is_directory=True)
    (root / "bpmn").mkdir()
    for name in ("specialized_inspection.bpmn", "lead_agency.dmn"):
        shutil.copy(BUNDLE / name, root / "bpmn" / name)
    templates = [json.loads(p.read_text()) for p in sorted((BUNDLE / "element-templates").glob("*.json"))]
    (root / "element-templates.json").write_text(json.dumps(templates))
    (root / "pages").mkdir()

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    server.posts = []
    server.problems = []
    server.conflict = False
    server.revision = 4
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.root = root
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    server.templates = templates
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser, site):
    """A fresh page; requests off loopback are aborted and reported, page errors are collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    outside: list[str] = []

    def guard(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    site.posts.clear()
    site.problems = []
    site.conflict = False
    site.revision = 4
    _current_problems(site, [])
    yield page
    violations = page.evaluate("window.__csp")
    context.close()
    assert outside == [], f"requests left loopback: {outside}"
    assert errors == [], f"uncaught errors in the page: {errors}"
    script_violations = [v for v in violations if v["directive"].startswith("script-src")]
    assert script_violations == [], f"the page needed a script the CSP forbids: {script_violations}"


def _current_problems(site, problems: list[dict]) -> None:
    """What problems.json says about the working copy when an editor opens."""
    (site.root / "problems.json").write_text(json.dumps({"revision": site.revision, "problems": problems}))


def _open(page, site, name: str, body: str, *, styles=(), scripts=(), fragment: str = "") -> None:
    head = [
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f'<meta name="csrf-token" content="{CSRF_TOKEN}">',
        '<link rel="icon" href="data:,">',
        *(f'<link rel="stylesheet" href="/static/{s}">' for s in styles),
        *(f'<script src="/static/{s}" defer></script>' for s in scripts),
    ]
    html = (
        f"<!doctype html><html lang='en'><head>{''.join(head)}<title>{name}</title></head>"
        f"<body>{body}</body></html>"
    )
    (site.root / "pages" / f"{name}.html").write_text(html)
    page.goto(f"{site.base_url}/pages/{name}.html{fragment}")


def _in_view(page, element_id: str) -> bool:
    """Whether the centre of the element lies inside the modeler's visible area."""
    return page.evaluate(
        """id => {
            const modeler = window.portalModeler;
            const element = modeler.get('elementRegistry').get(id);
            const box = modeler.get('canvas').viewbox();
            const cx = element.x + element.width / 2, cy = element.y + element.height / 2;
            return cx >= box.x && cx <= box.x + box.width && cy >= box.y && cy <= box.y + box.height;
        }""",
        element_id,
    )


# ---- the read-only viewer -------------------------------------------------------------------------


def test_viewer_renders_the_procedure_and_marks_progress(page, site):
    _open(
        page,
        site,
        "viewer",
        '<div id="progress" data-bpmn-viewer data-xml-url="/bpmn/specialized_inspection.bpmn"'
        ' data-completed="registered lookup_declaration Flow_registered_to_lookup_declaration"'
        ' data-current="publish_result" data-overdue="port_move unknown_step"'
        ' aria-label="Process of consignment 106865793030"></div>'
        '<div id="broken" data-bpmn-viewer data-xml-url="/bpmn/missing.bpmn"></div>',
        styles=["vendor/bpmn-viewer.css", "css/diagram.css"],
        scripts=["vendor/bpmn-viewer.js", "js/diagram-viewer.js"],
    )
    page.wait_for_selector('#progress[data-rendered="true"]')
    page.wait_for_selector("#broken[data-error]")

    publish = page.locator('#progress g.djs-element[data-element-id="publish_result"]')
    assert publish.count() == 1
    label_lines = publish.locator("text tspan").all_text_contents()
    assert " ".join(line.strip() for line in label_lines) == "Publish the inspection result"

    def classes(element_id):
        return page.get_attribute(f'#progress g[data-element-id="{element_id}"]', "class").split()

    assert "step-current" in classes("publish_result")
    assert "step-completed" in classes("registered")
    assert "step-completed" in classes("lookup_declaration")
    assert "step-completed" in classes("Flow_registered_to_lookup_declaration")
    assert "step-overdue" in classes("port_move")
    assert not {"step-completed", "step-overdue"} & set(classes("publish_result"))
    assert not {"step-completed", "step-current", "step-overdue"} & set(classes("record_sampling"))
    assert page.get_attribute("#progress", "data-missing") == "unknown_step"

    # The styles apply, and the states differ in more than colour.
    def visual(element_id):
        return page.evaluate(
            """id => {
                const shape = document.querySelector(`#progress g[data-element-id="${id}"] .djs-visual > *`);
                const style = getComputedStyle(shape);
                return {stroke: style.stroke, width: style.strokeWidth, dash: style.strokeDasharray};
            }""",
            element_id,
        )

    current, completed, overdue = visual("publish_result"), visual("registered"), visual("port_move")
    assert current["stroke"] == "rgb(11, 92, 173)" and current["width"] == "4px"
    assert completed["stroke"] == "rgb(30, 123, 52)" and completed["width"] == "2px"
    assert overdue["stroke"] == "rgb(179, 38, 30)" and overdue["dash"] not in ("none", "")
    badges = page.locator("#progress .step-badge")
    assert sorted(badges.all_inner_texts()) == sorted(["\u2713", "\u2713", "\u25b6", "!"])

    # Fitted to the viewport: the whole process is visible.
    viewer_box = page.evaluate(
        "() => document.getElementById('progress').portalViewer.get('canvas').viewbox()"
    )
    assert viewer_box["inner"]["width"] <= viewer_box["width"] + 1
    assert viewer_box["inner"]["height"] <= viewer_box["height"] + 1

    # One tab stop with a label that tells the state; keys zoom.
    progress = page.locator("#progress")
    assert progress.get_attribute("tabindex") == "0"
    label = progress.get_attribute("aria-label")
    assert label.startswith("Process of consignment 106865793030")
    assert "current: Publish the inspection result" in label
    assert page.locator("#progress svg[tabindex='0']").count() == 0
    progress.focus()
    zoom = page.evaluate("() => document.getElementById('progress').portalViewer.get('canvas').zoom()")
    page.keyboard.press("+")
    zoomed = page.evaluate("() => document.getElementById('progress').portalViewer.get('canvas').zoom()")
    assert zoomed > zoom

    assert "404" in page.get_attribute("#broken", "data-error")
    assert page.get_attribute("#broken", "data-rendered") is None
    assert page.locator("#broken [role=alert]").inner_text().startswith("The diagram could not be shown")


def test_viewer_marks_the_changes_between_two_versions(page, site):
    _open(
        page,
        site,
        "compare",
        '<div id="newer" data-bpmn-viewer data-xml-url="/bpmn/specialized_inspection.bpmn"'
        ' data-added="compute_fees Flow_pay_fees_to_capture_payment" data-changed="record_sampling"'
        ' data-removed="nominate_containers"'
        """ data-marker-labels='{"added": "thêm mới", "changed": "thay đổi", "removed": "bị xóa"}'"""
        ' aria-label="Version 2"></div>',
        styles=["vendor/bpmn-viewer.css", "css/diagram.css"],
        scripts=["vendor/bpmn-viewer.js", "js/diagram-viewer.js"],
    )
    page.wait_for_selector('#newer[data-rendered="true"]')

    def classes(element_id):
        return set(page.get_attribute(f'#newer g[data-element-id="{element_id}"]', "class").split())

    assert "diff-added" in classes("compute_fees") and "diff-added" in classes(
        "Flow_pay_fees_to_capture_payment"
    )
    assert "diff-changed" in classes("record_sampling")
    assert "diff-removed" in classes("nominate_containers")
    progress = {"step-completed", "step-current", "step-overdue"}
    assert not progress & (
        classes("compute_fees") | classes("record_sampling") | classes("nominate_containers")
    )

    def stroke(element_id):
        return page.evaluate(
            """id => {
                const shape = document.querySelector(`#newer g[data-element-id="${id}"] .djs-visual > *`);
                const style = getComputedStyle(shape);
                return {stroke: style.stroke, dash: style.strokeDasharray};
            }""",
            element_id,
        )

    added, changed, removed = stroke("compute_fees"), stroke("record_sampling"), stroke("nominate_containers")
    assert len({added["stroke"], changed["stroke"], removed["stroke"]}) == 3
    assert added["dash"] in ("none", "") and changed["dash"] not in ("none", "") != removed["dash"]
    badges = {b.get_attribute("title"): b.inner_text() for b in page.locator("#newer .step-badge").all()}
    assert badges == {"thêm mới": "+", "thay đổi": "\u270e", "bị xóa": "\u2212"}
    label = page.get_attribute("#newer", "aria-label")
    assert "thay đổi: Record the sampling" in label and "bị xóa: Nominate containers for inspection" in label


# ---- the BPMN modeler -----------------------------------------------------------------------------

MODELER_BODY = (
    '<div id="editor" data-bpmn-modeler data-xml-url="/bpmn/specialized_inspection.bpmn"'
    ' data-templates-url="/element-templates.json" data-save-url="/save/specialized_inspection.bpmn"'
    ' data-problems-url="/problems.json" data-revision="4" data-file-revision="file-4"'
    ' data-file-name="specialized_inspection.bpmn"></div>'
)
MODELER_ASSETS = {
    "styles": ["vendor/bpmn-modeler.css", "css/diagram.css"],
    "scripts": ["vendor/bpmn-modeler.js", "js/studio-common.js", "js/modeler.js"],
}
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def _open_modeler(page, site, fragment: str = ""):
    _open(page, site, "modeler", MODELER_BODY, fragment=fragment, **MODELER_ASSETS)
    page.wait_for_selector('#editor[data-rendered="true"]')


def _saved_xml(page):
    return etree.fromstring(
        page.evaluate("async () => (await window.portalModeler.saveXML({format: true})).xml").encode()
    )


def _drop_on(page, element_id: str) -> None:
    """Move the mouse onto the element (a flow or a shape's edge is found by its box) and click there."""
    box = page.locator(f"#editor g[data-element-id='{element_id}']").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=5)
    page.mouse.click(x, y)


def test_modeler_opens_with_properties_panel_and_element_templates(page, site):
    _open_modeler(page, site)
    assert page.get_attribute("#editor", "data-error") is None
    assert page.get_attribute("#editor", "data-template-errors") is None
    assert page.locator("#editor [data-modeler-canvas] g[data-element-id='publish_result']").count() == 1

    # The properties panel shows the Camunda 7 properties of the selected task.
    page.evaluate(
        """() => {
            const m = window.portalModeler;
            m.get('selection').select(m.get('elementRegistry').get('publish_result'));
        }"""
    )
    panel = page.locator("#editor [data-modeler-properties] .bio-properties-panel")
    panel.wait_for(state="visible")
    assert "Publish the inspection result" in panel.locator(".bio-properties-panel-header").inner_text()
    assert panel.locator("[data-group-id='group-CamundaPlatform__UserAssignment']").count() == 1

    # All element templates of the bundle are loaded and valid; one applies to a service task.
    ids = page.evaluate("() => window.portalModeler.get('elementTemplates').getAll().map(t => t.id).sort()")
    assert ids == sorted(t["id"] for t in site.templates)
    assert page.get_attribute("#editor", "data-templates") == str(len(site.templates))
    xml = page.evaluate(
        """async () => {
            const m = window.portalModeler;
            const templates = m.get('elementTemplates');
            const task = m.get('elementRegistry').get('move_containers');
            templates.applyTemplate(task, templates.get('vn.catlai.connector.port.move_containers', 1));
            return (await m.saveXML({format: true})).xml;
        }"""
    )
    task = etree.fromstring(xml.encode()).find(f".//{{{BPMN_NS}}}serviceTask[@id='move_containers']")
    camunda = "{http://camunda.org/schema/1.0/bpmn}"
    assert task.get(f"{camunda}modelerTemplate") == "vn.catlai.connector.port.move_containers"
    assert task.get(f"{camunda}topic") == "port.move_containers"
    inputs = {p.get("name") for p in task.iter(f"{camunda}inputParameter")}
    assert {"declaration_no", "containers", "sampling_place"} <= inputs


def test_modeler_adds_a_timer_boundary_event_through_the_modeling_api(page, site):
    _open_modeler(page, site)
    xml = page.evaluate(
        """async () => {
            const m = window.portalModeler;
            const task = m.get('elementRegistry').get('record_sampling');
            const shape = m.get('elementFactory').createShape({
                type: 'bpmn:BoundaryEvent', eventDefinitionType: 'bpmn:TimerEventDefinition'});
            const event = m.get('modeling').createShape(
                shape, {x: task.x + task.width, y: task.y + task.height}, task, {attach: true});
            m.get('modeling').updateProperties(event, {id: 'record_sampling_sla', name: 'Sampling overdue'});
            return (await m.saveXML({format: true})).xml;
        }"""
    )
    assert page.get_attribute("#editor", "data-dirty") == "true"
    definitions = etree.fromstring(xml.encode())
    events = definitions.findall(f".//{{{BPMN_NS}}}boundaryEvent[@id='record_sampling_sla']")
    assert len(events) == 1
    assert events[0].get("attachedToRef") == "record_sampling"
    assert events[0].get("name") == "Sampling overdue"
    assert events[0].find(f"{{{BPMN_NS}}}timerEventDefinition") is not None
    shapes = definitions.findall(
        ".//{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape[@bpmnElement='record_sampling_sla']"
    )
    assert len(shapes) == 1
    # The rest of the model survives the round trip.
    assert definitions.find(f".//{{{BPMN_NS}}}userTask[@id='publish_result']") is not None


def test_modeler_save_posts_the_xml_and_lists_problems(page, site):
    _open_modeler(page, site)
    site.problems = [
        {
            "element_id": "publish_result",
            "message": "user task has no form",
            "file": "specialized_inspection.bpmn",
            "line": 220,
        },
        {"element_id": None, "message": "decision fees has no catch-all rule", "file": "fees.dmn", "line": 3},
    ]
    # Scroll away so that revealing the element has to move the canvas.
    page.evaluate("() => window.portalModeler.get('canvas').scroll({dx: 5000, dy: 5000})")
    page.click("#editor [data-modeler-save]")
    page.wait_for_selector('#editor[data-saved="true"]')

    assert len(site.posts) == 1
    post = site.posts[0]
    assert post["path"] == "/save/specialized_inspection.bpmn"
    assert post["csrf"] == CSRF_TOKEN
    assert post["content_type"] == "application/json"
    saved = etree.fromstring(post["json"]["xml"].encode())
    assert saved.get("id") == "Definitions_specialized_inspection"

    assert site.posts[0]["json"]["revision"] == 4
    assert site.posts[0]["json"]["file_revision"] == "file-4"  # the file's revision the page was made from

    items = page.locator("#editor [data-modeler-problems] li")
    assert items.count() == 2
    assert items.nth(0).inner_text() == (
        "Publish the inspection result (publish_result) \u2014 specialized_inspection.bpmn:220: "
        "user task has no form"
    )
    assert items.nth(1).locator("button").count() == 0
    assert "fees.dmn:3" in items.nth(1).inner_text()
    assert page.get_attribute("#editor", "data-problems") == "2"
    assert "2 problem" in page.inner_text("#editor [data-modeler-status]")
    marker = page.get_attribute("#editor g[data-element-id='publish_result']", "class")
    assert "lint-error" in marker.split()

    assert not _in_view(page, "publish_result")
    items.nth(0).locator("button").click()
    selected = page.evaluate("() => window.portalModeler.get('selection').get().map(e => e.id)")
    assert selected == ["publish_result"]
    assert _in_view(page, "publish_result")

    # A clean save clears the list and the markers.
    site.problems = []
    page.click("#editor [data-modeler-save]")
    page.wait_for_selector('#editor[data-problems="0"]')
    page.wait_for_selector('#editor[data-saved="true"]')
    assert page.inner_text("#editor [data-modeler-status]") == "Saved"
    assert "lint-error" not in page.get_attribute("#editor g[data-element-id='publish_result']", "class")
    assert len(site.posts) == 2
    assert site.posts[1]["json"]["revision"] == 5  # the revision the first save answered
    assert site.posts[1]["json"]["file_revision"] == "file-5"


def test_modeler_palette_creates_a_port_move_task_from_its_template(page, site):
    _open_modeler(page, site)
    page.locator("#editor .djs-palette [data-action='create']").click()
    menu = page.locator(".djs-popup")
    menu.wait_for()
    page.keyboard.type("port")
    entry = menu.locator(".entry", has_text="Port: move containers to the sampling area")
    assert entry.count() == 1
    entry.click()
    _drop_on(page, "Flow_countersign_sampling_to_preservation_requested")  # inserted into the flow
    type_label(page, "Return the containers", replace=True)  # the label editor opens on the template's name

    created = page.evaluate("() => window.portalModeler.get('selection').get().map(e => e.id)")
    assert len(created) == 1
    panel = page.locator("#editor [data-modeler-properties]")
    # The panel re-renders after the label edit: wait for it (up to 5 s) rather than read it at once.
    panel.locator(".bio-properties-panel-header", has_text="Return the containers").wait_for(timeout=5000)
    assert "Return the containers" in panel.locator(".bio-properties-panel-header").inner_text()
    fields = panel.locator("[data-group-id='group-ElementTemplates__CustomProperties']")
    if fields.locator(".bio-properties-panel-group-entries.open").count() == 0:
        fields.locator(".bio-properties-panel-group-header").click()
    assert fields.get_by_label("Containers").input_value() == (
        "${nominated_containers if container_count >= 5 else containers}"
    )

    task = _saved_xml(page).find(f".//{{{BPMN_NS}}}serviceTask[@id='{created[0]}']")
    assert task.get("name") == "Return the containers"
    assert task.get(f"{CAMUNDA}type") == "external" and task.get(f"{CAMUNDA}topic") == "port.move_containers"
    assert task.get(f"{CAMUNDA}modelerTemplate") == "vn.catlai.connector.port.move_containers"
    inputs = {p.get("name"): p.text for p in task.iter(f"{CAMUNDA}inputParameter")}
    assert inputs == {
        "declaration_no": "${declaration_no}",
        "containers": "${nominated_containers if container_count >= 5 else containers}",
        "sampling_place": "${sampling_place}",
    }
    assert [p.get("name") for p in task.iter(f"{CAMUNDA}outputParameter")] == ["port_move_ref"]
    assert task.findtext(f"{{{BPMN_NS}}}incoming") == "Flow_countersign_sampling_to_preservation_requested"

    # Creating and filling in the task was one step: two undos (the name, then the task) remove it all.
    page.evaluate("() => { const s = window.portalModeler.get('commandStack'); s.undo(); s.undo(); }")
    assert _saved_xml(page).find(f".//{{{BPMN_NS}}}serviceTask[@id='{created[0]}']") is None


def test_modeler_template_chooser_applies_a_template_to_the_selected_task(page, site):
    _open_modeler(page, site)
    page.locator("#editor g.djs-element[data-element-id='capture_payment']").click()
    panel = page.locator("#editor [data-modeler-properties]")
    panel.locator("[data-group-id='group-ElementTemplates__Template']").get_by_role(
        "button", name="Select"
    ).click()
    chooser = page.locator(".djs-popup.element-template-chooser")
    chooser.wait_for()
    assert len(chooser.locator(".entry").all_inner_texts()) == len(site.templates)
    chooser.locator(".entry", has_text="Payment: capture fee").click()
    assert panel.locator("[data-group-id='group-ElementTemplates__CustomProperties']").count() == 1
    task = _saved_xml(page).find(f".//{{{BPMN_NS}}}serviceTask[@id='capture_payment']")
    assert task.get(f"{CAMUNDA}modelerTemplate") == "vn.catlai.connector.payment.capture"
    assert task.get(f"{CAMUNDA}topic") == "payment.capture"


def test_modeler_shows_the_current_problems_on_open_and_selects_the_addressed_element(page, site):
    _current_problems(
        site,
        [
            {
                "element_id": "record_sampling",
                "element_name": "Record the sampling",
                "message": "user task has no performer (candidateGroups or lane)",
                "file": "specialized_inspection.bpmn",
                "line": 180,
            }
        ],
    )
    _open_modeler(page, site, fragment="#record_sampling")
    assert site.posts == []  # nothing was saved
    items = page.locator("#editor [data-modeler-problems] li")
    assert items.all_inner_texts() == [
        "Record the sampling (record_sampling) \u2014 specialized_inspection.bpmn:180: "
        "user task has no performer (candidateGroups or lane)"
    ]
    assert "1 problem" in page.inner_text("#editor [data-modeler-status]")
    assert "lint-error" in page.get_attribute("#editor g[data-element-id='record_sampling']", "class").split()
    selected = page.evaluate("() => window.portalModeler.get('selection').get().map(e => e.id)")
    assert selected == ["record_sampling"]
    assert page.get_attribute("#editor", "data-revealed") == "record_sampling"
    assert "Record the sampling" in page.inner_text("#editor .bio-properties-panel-header")


def test_modeler_save_refused_by_a_newer_revision_offers_a_download_and_a_reload(page, site):
    _open_modeler(page, site)
    page.evaluate(
        """() => {
            const m = window.portalModeler;
            m.get('modeling').updateLabel(m.get('elementRegistry').get('publish_result'), 'Publish it');
        }"""
    )
    site.conflict = True
    page.click("#editor [data-modeler-save]")
    page.wait_for_selector('#editor[data-saved="false"]')
    assert site.posts[0]["json"]["revision"] == 4
    assert page.get_attribute("#editor", "data-conflict") == "true"
    assert page.get_attribute("#editor", "data-dirty") == "true"  # the analyst's changes are still here
    notice = page.locator("#editor [data-modeler-conflict]")
    assert notice.is_visible() and notice.get_attribute("role") == "alert"
    assert "Someone saved the model since you opened it." in notice.inner_text()
    assert "someone saved the model since you opened it" in page.inner_text("#editor [data-modeler-status]")
    download = notice.locator("[data-conflict-download]")
    assert download.get_attribute("download") == "specialized_inspection.bpmn"
    with page.expect_download() as saving:
        download.click()
    assert "Publish it" in Path(saving.value.path()).read_text()

    site.conflict = False
    with page.expect_navigation():
        notice.locator("[data-conflict-reload]").click()  # drops the changes without a second question
    page.wait_for_selector('#editor[data-rendered="true"]')
    assert page.get_attribute("#editor", "data-conflict") is None
    assert not page.locator("#editor [data-modeler-conflict]").is_visible()


# ---- the DMN editor -------------------------------------------------------------------------------


def _open_dmn(page, site, fragment: str = ""):
    _open(
        page,
        site,
        "dmn",
        '<div id="dmn" data-dmn-modeler data-xml-url="/bpmn/lead_agency.dmn"'
        ' data-save-url="/save/lead_agency.dmn" data-problems-url="/problems.json" data-revision="4"'
        ' data-file-revision="file-4" data-file-name="lead_agency.dmn"></div>',
        styles=["vendor/dmn-modeler.css", "css/diagram.css"],
        scripts=["vendor/dmn-modeler.js", "js/studio-common.js", "js/dmn-editor.js"],
        fragment=fragment,
    )
    page.wait_for_selector('#dmn[data-rendered="true"]')


def test_dmn_editor_opens_the_routing_table_and_saves(page, site):
    _open_dmn(page, site)
    assert page.get_attribute("#dmn", "data-view") == "lead_agency"

    source = etree.parse(str(BUNDLE / "lead_agency.dmn"))
    rules = source.findall(f".//{{{DMN_NS}}}rule")
    table = page.locator("#dmn .tjs-table")
    table.wait_for(state="visible")
    assert table.locator("tbody tr").count() == len(rules)
    assert page.locator(f"#dmn td[data-row-id='{rules[0].get('id')}']").count() > 0
    header = page.inner_text("#dmn .tjs-table thead")
    assert "HS chapter" in header and "Lead agency" in header
    tabs = page.locator("#dmn [data-dmn-views] [role=tab]")
    assert tabs.all_inner_texts() == ["Decision diagram", "Lead agency by HS code"]
    assert page.get_attribute("#dmn [data-view-id='lead_agency']", "aria-selected") == "true"

    last_rule = rules[-1].get("id")
    site.problems = [{"element_id": last_rule, "message": "catch-all rule", "file": "lead_agency.dmn"}]
    tabs.nth(0).click()  # leave the table, so that the problem link has to reopen it
    page.wait_for_selector("#dmn[data-view='Definitions_lead_agency']")
    page.click("#dmn [data-modeler-save]")
    page.wait_for_selector('#dmn[data-saved="true"]')
    assert len(site.posts) == 1
    assert site.posts[0]["csrf"] == CSRF_TOKEN
    assert site.posts[0]["json"]["revision"] == 4
    assert site.posts[0]["json"]["file_revision"] == "file-4"
    saved = etree.fromstring(site.posts[0]["json"]["xml"].encode())
    assert saved.find(f"{{{DMN_NS}}}decision").get("id") == "lead_agency"
    assert len(saved.findall(f".//{{{DMN_NS}}}rule")) == len(rules)

    page.click("#dmn [data-modeler-problems] button")
    page.wait_for_selector(f"#dmn[data-revealed='{last_rule}']")
    assert page.get_attribute("#dmn", "data-view") == "lead_agency"
    flagged = page.locator(f"#dmn td[data-row-id='{last_rule}'].lint-error")
    assert flagged.count() > 0


def test_dmn_editor_shows_the_current_problems_and_opens_the_addressed_rule(page, site):
    rules = etree.parse(str(BUNDLE / "lead_agency.dmn")).findall(f".//{{{DMN_NS}}}rule")
    flagged = rules[1].get("id")
    _current_problems(
        site,
        [
            {
                "element_id": flagged,
                "element_name": "Chapter 03",
                "message": "overlaps",
                "file": "lead_agency.dmn",
            },
            {
                "element_id": "record_sampling",
                "message": "no performer",
                "file": "specialized_inspection.bpmn",
            },
        ],
    )
    _open_dmn(page, site, fragment=f"#{flagged}")
    assert site.posts == []
    items = page.locator("#dmn [data-modeler-problems] li")
    assert items.nth(0).inner_text() == f"Chapter 03 ({flagged}) \u2014 lead_agency.dmn: overlaps"
    assert items.nth(0).locator("button").count() == 1
    assert items.nth(1).locator("button").count() == 0  # another file's element: listed, not a link
    assert page.get_attribute("#dmn", "data-revealed") == flagged
    assert page.locator(f"#dmn td[data-row-id='{flagged}'].lint-error").count() > 0

    site.conflict = True
    page.click("#dmn [data-modeler-save]")
    page.wait_for_selector('#dmn[data-saved="false"]')
    assert page.get_attribute("#dmn", "data-conflict") == "true"
    assert page.locator("#dmn [data-modeler-conflict] [data-conflict-reload]").is_visible()


# ---- charts ---------------------------------------------------------------------------------------


def test_chart_renders_into_the_canvas(page, site):
    config = {
        "type": "bar",
        "data": {
            "labels": ["RAHO6", "NAFIQAD", "QUATEST3"],
            "datasets": [{"label": "Overdue consignments", "data": [3, 1, 5], "backgroundColor": "#b3261e"}],
        },
        "options": {"animation": False},
    }
    attribute = json.dumps(config).replace("&", "&amp;").replace("'", "&#39;")
    _open(
        page,
        site,
        "chart",
        f"<div style='width:600px;height:300px'><canvas id='overdue' data-chart='{attribute}'></canvas></div>"
        "<canvas id='bad' data-chart='{not json'></canvas>",
        scripts=["vendor/chart.umd.js", "js/charts.js"],
    )
    page.wait_for_selector('#overdue[data-rendered="true"]')
    page.wait_for_selector("#bad[data-error]")
    chart = page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('overdue'));
            return {type: chart.config.type, labels: chart.data.labels, data: chart.data.datasets[0].data,
                    version: Chart.version};
        }"""
    )
    assert chart["type"] == "bar"
    assert chart["labels"] == ["RAHO6", "NAFIQAD", "QUATEST3"]
    assert chart["data"] == [3, 1, 5]
    # Bars were painted: the canvas holds pixels of the dataset's colour.
    red_pixels = page.evaluate(
        """() => {
            const canvas = document.getElementById('overdue');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                const [r, g, b, a] = pixels.slice(i, i + 4);
                if (r === 179 && g === 38 && b === 30 && a === 255) count++;
            }
            return count;
        }"""
    )
    assert red_pixels > 500
    assert page.get_attribute("#overdue", "role") == "img"
    assert page.get_attribute("#bad", "data-rendered") is None
