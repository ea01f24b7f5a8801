"""The process analyst's studio over HTTP: the working copy is validated on every save (problems name
file, line, element id and name), an editor can read the current problems without saving, a save made on
a file changed since the editor read it is refused instead of overwriting another analyst's work (while
editors of different files save in turn), a form definition previews
as it will render (the page and the live-preview fragment), a valid copy is deployed as a new version with
a change note, new consignments follow it while running ones stay on theirs, and a trial runs the copy on
sample consignments before deployment."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.models import AuditEvent, ModelVersion, ProcessInstance
from app.models.studio import ModelDraft
from app.settings import PROJECT_ROOT
from tests.concurrency import at_once
from tests.procedure import consignment, trader_registers, worker_settles
from tests.web.client import page, texts

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
both_databases = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

BPMN = "specialized_inspection.bpmn"
DMN = "lead_agency.dmn"
WITH_PERFORMER = 'camunda:candidateGroups="agency:${lead_agency}" camunda:formKey="sampling_record"'
UNASSIGNED = '<bpmn:userTask id="check_labels" name="Check the labels" camunda:formKey="sampling_record">'


def _version_of(portal, number: str) -> int:
    with portal.db.session() as db:
        instance = db.get(ProcessInstance, consignment(portal, number).instance_id)
        return db.get(ModelVersion, instance.model_version_id).version


def _save(analyst, name: str, text: str, revision: int | None = None, file_revision: str | None = None):
    token = analyst.csrf("/studio/")
    body = {"xml": text} if revision is None else {"xml": text, "revision": revision}
    if file_revision is not None:
        body["file_revision"] = file_revision
    return analyst.http.post(
        f"{analyst.base_url}/studio/files/{name}",
        json=body,
        headers={"X-CSRFToken": token},
        timeout=30,
    )


def _draft_files(portal) -> tuple[int, dict[str, str]]:
    with portal.db.session() as db:
        draft = db.scalar(select(ModelDraft))
        return draft.revision, dict(draft.files)


def _without_performer(xml: str) -> str:
    """The diagram with the sampling step's candidateGroups removed (its lane names no performer)."""
    assert WITH_PERFORMER in xml
    return xml.replace(WITH_PERFORMER, 'camunda:formKey="sampling_record"', 1)


@sqlite_only
def test_only_analysts_open_the_studio(person):
    assert person("officer.02ci").get("/studio/").status_code == 403
    assert person("trader.t01").get("/studio/files/" + BPMN).status_code == 403
    assert person("analyst").get("/studio/").status_code == 200


@sqlite_only
def test_analyst_saves_a_broken_diagram_sees_where_fixes_it_and_deploys(person, portal):
    analyst = person("analyst")
    original = analyst.get("/studio/files/" + BPMN).text
    broken = _without_performer(original)
    response = _save(analyst, BPMN, broken)
    assert response.status_code == 200
    problems = response.json()["problems"]
    mine = [p for p in problems if p["element_id"] == "record_sampling"]
    assert mine and mine[0]["file"] == BPMN and mine[0]["element_name"] == "Record the sampling"
    assert mine[0]["line"] == broken[: broken.index('id="record_sampling"')].count("\n") + 1
    assert any("performer" in p["message"] for p in mine)

    overview = analyst.get("/studio/")
    listed = texts(overview, "//ul[@class='problems']/li[@data-element-id='record_sampling']")
    assert listed and "Record the sampling" in listed[0] and f"{BPMN}:{mine[0]['line']}" in listed[0]
    link = page(overview).xpath("//li[@data-element-id='record_sampling']//a/@href")
    assert link == [f"/studio/bpmn/{BPMN}#record_sampling"]
    assert page(overview).xpath("//form[contains(@action,'/studio/deploy')]//button/@disabled")
    refused = analyst.post("/studio/deploy", {"note": "try"}, token_from="/studio/")
    assert refused.status_code == 302
    with portal.db.session() as db:
        assert db.scalar(select(ModelVersion.version).order_by(ModelVersion.version.desc())) == 1

    old = trader_registers(portal, "C01")  # runs on version 1
    fixed = original.replace(WITH_PERFORMER, WITH_PERFORMER + ' camunda:dueDate="${working_hours(8)}"', 1)
    assert _save(analyst, BPMN, fixed).json()["problems"] == []
    no_note = analyst.post("/studio/deploy", {"note": " "}, token_from="/studio/")
    assert no_note.status_code == 302
    deployed = analyst.post(
        "/studio/deploy", {"note": "Sampling due within 8 working hours"}, token_from="/studio/"
    )
    assert deployed.status_code == 302
    versions = analyst.get("/studio/versions")
    assert texts(versions, "//tr[@data-version='2']/td[4]") == ["Sampling due within 8 working hours"]
    assert texts(versions, "//tr[@data-version='2']/td[3]") == ["analyst"]

    new = trader_registers(portal, "C05")
    with portal.db.session() as db:
        assert _version_of(portal, old) == 1 and _version_of(portal, new) == 2


@sqlite_only
def test_form_editor_previews_and_reports_bad_json_with_its_line(person):
    analyst = person("analyst")
    editor = analyst.get("/studio/forms/fee_payment")
    assert editor.status_code == 200
    assert "payment_method" in "".join(page(editor).xpath("//div[@data-form-preview]//input/@name"))
    text = page(editor).xpath("//textarea[@name='definition']/text()")[0]
    bad = text.replace('"type": "object"', '"type": "object",,', 1)
    response = analyst.post(
        "/studio/forms/fee_payment",
        {"definition": bad, "action": "save"},
        token_from="/studio/forms/fee_payment",
    )
    assert response.status_code == 200
    assert any("line" in e for e in texts(response, "//div[@class='error-summary']"))
    renamed = text.replace('"Phương thức thanh toán"', '"Cách nộp phí"', 1)  # the analyst reads Vietnamese
    assert renamed != text
    preview = analyst.post(
        "/studio/forms/fee_payment",
        {"definition": renamed, "action": "preview"},
        token_from="/studio/forms/fee_payment",
    )
    assert any("Cách nộp phí" in t for t in texts(preview, "//div[@data-form-preview]//legend"))


@sqlite_only
def test_the_live_preview_renders_the_definition_being_typed_without_saving_it(person, portal):
    analyst = person("analyst")
    editor = analyst.get("/studio/forms/fee_payment")
    assert page(editor).xpath("//form[@data-form-editor]/@data-preview-url") == [
        "/studio/forms/fee_payment/preview"
    ]
    text = page(editor).xpath("//textarea[@name='definition']/text()")[0]
    before = _draft_files(portal)

    renamed = text.replace('"Phương thức thanh toán"', '"Cách nộp phí"', 1)
    fragment = analyst.post(
        "/studio/forms/fee_payment/preview", {"definition": renamed}, token_from="/studio/forms/fee_payment"
    )
    assert fragment.status_code == 200
    assert any("Cách nộp phí" in t for t in texts(fragment, "//div[@data-form-preview]//legend"))
    assert "payment_method" in "".join(page(fragment).xpath("//div[@data-form-preview]//input/@name"))
    assert not page(fragment).xpath("//html/head")  # a fragment, not a page

    broken = analyst.post(
        "/studio/forms/fee_payment/preview",
        {"definition": text.replace('"type": "object"', '"type": "object",,', 1)},
        token_from="/studio/forms/fee_payment",
    )
    assert broken.status_code == 422
    assert any(r.startswith("line ") for r in texts(broken, "//*[@data-preview-error]"))
    assert _draft_files(portal) == before  # previews never touch the working copy

    unsigned = analyst.http.post(
        f"{analyst.base_url}/studio/forms/fee_payment/preview", data={"definition": renamed}, timeout=20
    )
    assert unsigned.status_code == 400  # no CSRF token


@sqlite_only
def test_an_editor_reads_the_current_problems_and_the_revision_it_works_on(person, portal):
    analyst = person("analyst")
    original = analyst.get("/studio/files/" + BPMN)
    revision = int(original.headers["X-Draft-Revision"])
    editor = analyst.get("/studio/bpmn/" + BPMN)
    container = page(editor).xpath("//div[@data-bpmn-modeler]")[0]
    assert int(container.get("data-revision")) == revision
    assert container.get("data-problems-url") == "/studio/problems.json"
    assert analyst.get("/studio/problems.json").json() == {"revision": revision, "problems": []}

    saved = _save(analyst, BPMN, _without_performer(original.text), revision)
    assert saved.status_code == 200 and saved.json()["revision"] == revision + 1
    current = analyst.get("/studio/problems.json").json()
    assert current["revision"] == revision + 1
    assert [(p["element_id"], p["element_name"]) for p in current["problems"]] == [
        ("record_sampling", "Record the sampling")
    ]
    dmn = page(analyst.get("/studio/dmn/lead_agency.dmn")).xpath("//div[@data-dmn-modeler]")[0]
    assert int(dmn.get("data-revision")) == revision + 1


def _opened(analyst, name: str) -> tuple[str, int, str]:
    """What an editor reads when it opens a file: the text, the copy's revision and the file's revision."""
    response = analyst.get("/studio/files/" + name)
    assert response.status_code == 200
    return response.text, int(response.headers["X-Draft-Revision"]), response.headers["X-Draft-File-Revision"]


@both_databases
def test_editors_of_different_files_save_in_turn_without_conflict(person, portal):
    analyst = person("analyst")
    # One tab has the diagram open, another the decision table, a third the fee form (without JavaScript).
    diagram, copy_revision, diagram_revision = _opened(analyst, BPMN)
    table, _, table_revision = _opened(analyst, DMN)
    editor = page(analyst.get("/studio/dmn/" + DMN)).xpath("//div[@data-dmn-modeler]")[0]
    assert editor.get("data-file-revision") == table_revision
    form_page = analyst.get("/studio/forms/fee_payment")
    form_text = page(form_page).xpath("//textarea/text()")[0]
    form_revision = page(form_page).xpath("//input[@name='file_revision']/@value")[0]

    renamed = diagram.replace('name="Record the sampling"', 'name="Record the samples"', 1)
    assert _save(analyst, BPMN, renamed, copy_revision, diagram_revision).status_code == 200
    retitled = table.replace('name="Lead agency by HS code"', 'name="Lead agency by the HS code"', 1)
    saved = _save(analyst, DMN, retitled, copy_revision, table_revision)  # the copy moved on, the table not
    assert saved.status_code == 200, saved.text
    assert saved.json()["revision"] == copy_revision + 2
    relabelled = form_text.replace('"Phương thức thanh toán"', '"Cách nộp phí"', 1)
    form_saved = analyst.post(
        "/studio/forms/fee_payment",
        {"definition": relabelled, "action": "save", "file_revision": form_revision},
        token_from="/studio/forms/fee_payment",
    )
    assert form_saved.status_code == 200 and not texts(form_saved, "//div[@class='error-summary']")

    revision, files = _draft_files(portal)
    assert revision == copy_revision + 3
    assert 'name="Record the samples"' in files[BPMN]
    assert 'name="Lead agency by the HS code"' in files[DMN]
    assert "Cách nộp phí" in files["forms/fee_payment.json"]


@both_databases
def test_two_saves_of_the_same_file_from_one_revision_the_second_is_refused(person, portal):
    analyst, admin = person("analyst"), person("admin")
    original, opened, file_opened = _opened(analyst, BPMN)
    assert _opened(admin, BPMN)[1:] == (opened, file_opened)  # both open it

    mine = original.replace('name="Record the sampling"', 'name="Record the samples"', 1)
    assert _save(analyst, BPMN, mine, opened, file_opened).status_code == 200
    theirs = original.replace('name="Record the sampling"', 'name="Take the samples"', 1)
    refused = _save(admin, BPMN, theirs, opened, file_opened)
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "conflict" and body["field"] == "file_revision"
    assert body["message"] == "đã có người lưu tệp này sau khi bạn mở nó; hãy tải lại"
    # A page that sends only the copy's revision gets the whole-copy check.
    assert _save(admin, BPMN, theirs, opened).status_code == 409
    revision, files = _draft_files(portal)
    assert revision == opened + 1 and files[BPMN] == mine

    # After reloading, the other analyst saves on the newest revision of the file.
    reloaded, _, file_now = _opened(admin, BPMN)
    assert reloaded == mine and file_now != file_opened
    again = reloaded.replace('name="Record the samples"', 'name="Take the samples"', 1)
    assert _save(admin, BPMN, again, file_revision=file_now).status_code == 200
    assert _draft_files(portal)[1][BPMN] == again

    # The form editor without JavaScript posts the form's revision it opened: refused once it changed.
    form_page = analyst.get("/studio/forms/fee_payment")
    stale = page(form_page).xpath("//input[@name='file_revision']/@value")[0]
    text = page(form_page).xpath("//textarea/text()")[0]
    theirs_form = text.replace('"Phương thức thanh toán"', '"Cách nộp phí"', 1)
    assert _save(admin, "forms/fee_payment.json", theirs_form, file_revision=stale).status_code == 200
    mine_form = text.replace('"Phương thức thanh toán"', '"Hình thức nộp"', 1)
    refused_form = analyst.post(
        "/studio/forms/fee_payment",
        {"definition": mine_form, "action": "save", "file_revision": stale},
        token_from="/studio/forms/fee_payment",
    )
    assert refused_form.status_code == 409
    assert texts(refused_form, "//div[@class='error-summary']") == [
        "đã có người lưu tệp này sau khi bạn mở nó; hãy tải lại"
    ]
    # The page keeps the analyst's text and the revision it opened, so saving again is refused too.
    assert page(refused_form).xpath("//input[@name='file_revision']/@value") == [stale]
    assert _draft_files(portal)[1]["forms/fee_payment.json"] == theirs_form


@both_databases
def test_two_analysts_saving_different_files_at_once_lose_nothing(person, portal):
    analyst, admin = person("analyst"), person("admin")
    diagram, _, diagram_revision = _opened(analyst, BPMN)
    table, _, table_revision = _opened(admin, DMN)
    changes = [
        (
            analyst,
            BPMN,
            diagram.replace('name="Record the sampling"', 'name="Record the samples"', 1),
            diagram_revision,
        ),
        (
            admin,
            DMN,
            table.replace('name="Lead agency by HS code"', 'name="Lead agency by the HS code"', 1),
            table_revision,
        ),
    ]
    for who, *_ in changes:
        who.csrf("/studio/")
    saves = at_once(*(lambda c=c: _save(c[0], c[1], c[2], file_revision=c[3]) for c in changes))
    answers = [getattr(reply, "status_code", reply) for reply in saves]
    assert answers == [200, 200]
    revision, files = _draft_files(portal)
    assert files[BPMN] == changes[0][2] and files[DMN] == changes[1][2]


@both_databases
def test_deploy_refuses_a_copy_that_changed_since_it_was_reviewed(person, portal):
    analyst, admin = person("analyst"), person("admin")
    reviewed = page(analyst.get("/studio/")).xpath("//form[contains(@action,'/studio/deploy')]")[0]
    stale = reviewed.xpath(".//input[@name='revision']/@value")[0]
    table, _, table_revision = _opened(admin, DMN)
    retitled = table.replace('name="Lead agency by HS code"', 'name="Lead agency by the HS code"', 1)
    assert _save(admin, DMN, retitled, file_revision=table_revision).status_code == 200

    refused = analyst.post("/studio/deploy", {"note": "Renamed", "revision": stale}, token_from="/studio/")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/studio/")
    shown = texts(analyst.get("/studio/"), "//*[contains(@class,'flash')]")
    assert any("mô hình đã thay đổi sau khi bạn kiểm tra; hãy xem lại" in t for t in shown), shown
    with portal.db.session() as db:
        assert db.scalar(select(ModelVersion.version).order_by(ModelVersion.version.desc())) == 1

    current = page(analyst.get("/studio/")).xpath(
        "//form[contains(@action,'/studio/deploy')]//input[@name='revision']/@value"
    )[0]
    deployed = analyst.post("/studio/deploy", {"note": "Renamed", "revision": current}, token_from="/studio/")
    assert deployed.status_code == 302 and deployed.headers["Location"].endswith("/studio/versions")
    with portal.db.session() as db:
        assert db.scalar(select(ModelVersion.version).order_by(ModelVersion.version.desc())) == 2


@sqlite_only
def test_trial_runs_the_working_copy_on_sample_consignments(person):
    analyst = person("analyst")
    result = analyst.post("/studio/trial", {"count": "3"}, token_from="/studio/trial")
    assert result.status_code == 200
    rows = page(result).xpath("//table[@data-table='trial']//tbody/tr")
    assert len(rows) == 3
    outcomes = texts(result, "//table[@data-table='trial']//tbody/tr/td[2]")
    assert all(o.startswith("cleared") for o in outcomes), outcomes
    paths = texts(result, "//table[@data-table='trial']//tbody/tr/td[4]")
    assert all("Record the sampling" in p and "Clear the goods" in p for p in paths), paths
    # The samples are the reference consignments of shared/domain/consignments.json, in order.
    shown = [row.get("data-declaration") for row in rows]
    reference = json.loads((PROJECT_ROOT.parent / "shared" / "domain" / "consignments.json").read_text())
    assert shown == [c["declaration_no"] for c in reference[:3]]


@sqlite_only
def test_analyst_compares_two_versions_and_moves_running_consignments(portal, person, worker):
    from app.engine.commands import DeployBundle
    from app.engine.executor import Actor
    from app.tasks import KNOWN_TOPICS
    from tests.model_versions import REMOVED, RENAMED, version_2

    at_nomination = trader_registers(portal, "C03")  # five containers: waits at the step v2 removes
    at_sampling = trader_registers(portal, "C10")  # air cargo: waits at sampling, which v2 renames
    for number in (at_nomination, at_sampling):
        worker_settles(worker, portal, number)
    portal.execute(
        DeployBundle(version_2(), note="v2", known_topics=KNOWN_TOPICS), Actor("analyst", "PORTAL", "analyst")
    )
    analyst = person("analyst")

    compare = analyst.get("/studio/compare?old=1&new=2")
    assert compare.status_code == 200
    statuses = dict(
        zip(
            page(compare).xpath("//table[@data-table='elements']//tr/@data-element-id"),
            page(compare).xpath("//table[@data-table='elements']//tr/@data-status"),
            strict=True,
        )
    )
    assert (
        statuses[REMOVED] == "removed"
        and statuses[RENAMED[0]] == "changed"
        and statuses["payment_sla"] == "added"
    )
    viewers = page(compare).xpath("//div[@data-bpmn-viewer]")
    assert REMOVED in viewers[0].get("data-removed").split() and "payment_sla" in viewers[1].get("data-added")
    assert RENAMED[0] in viewers[0].get("data-changed").split() == viewers[1].get("data-changed").split()
    assert not any(v.get(a) for v in viewers for a in ("data-completed", "data-current", "data-overdue"))
    assert texts(compare, "//p[@data-legend='changes']/span") == ["+ thêm mới", "✎ thay đổi", "− bị xóa"]
    assert page(compare).xpath("//h3[@data-form='sampling_record']")

    preview = analyst.get("/studio/migrate?from=1&to=2")
    movable = page(preview).xpath("//table[@data-table='movable']//tr/@data-declaration")
    blocked = page(preview).xpath("//table[@data-table='not-movable']//tr/@data-declaration")
    assert movable == [at_sampling] and blocked == [at_nomination]
    assert REMOVED in " ".join(texts(preview, "//table[@data-table='not-movable']//td[3]"))

    moved = analyst.post(
        "/studio/migrate",
        [("from", "1"), ("to", "2"), ("consignment", at_sampling)],
        token_from="/studio/migrate",
    )
    assert moved.status_code == 200
    assert page(moved).xpath("//div[@data-moved]/@data-moved") == ["1"]
    assert _version_of(portal, at_sampling) == 2 and _version_of(portal, at_nomination) == 1
    with portal.db.session() as db:
        actions = db.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "consignment_migrated")
        ).all()
    assert actions == ["analyst"]
