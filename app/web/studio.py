"""The process analyst's studio: the working copy of the model bundle edited in bpmn-js / dmn-js / a form
editor with live preview, validated on every save, deployed as a new version with a change note; the list
of versions. Views are thin: every change is a command in ``app.engine.commands.studio``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app import reports
from app.engine.commands.migration import model_version
from app.engine.commands.studio import STUDIO_ROLES, DeployDraft, DiscardDraft, OpenDraft, SaveDraftFile
from app.engine.drafts import bundle_of, file_revision, form_schema, problems_of
from app.engine.errors import PortalError
from app.engine.migration_runs import preview_migration, run_migration
from app.engine.versions_diff import diff_snapshots, snapshot_of_version
from app.forms.rendering import field_views, form_title
from app.models import ModelVersion
from app.settings import PROJECT_ROOT
from app.tasks import KNOWN_TOPICS
from app.trial import run_trial, trial_samples

from .auth import current_actor
from .context import portal

bp = Blueprint("studio", __name__, url_prefix="/studio")

TEMPLATES_DIR = PROJECT_ROOT / "bpmn" / "element-templates"


@bp.before_request
@login_required
def _analysts_only():
    if current_user.role not in STUDIO_ROLES:
        abort(403)


def _draft():
    return portal().execute(OpenDraft(), current_actor())


@bp.get("/")
def index():
    draft = _draft()
    problems = problems_of(bundle_of(draft), KNOWN_TOPICS)
    names = sorted(draft.files)
    return render_template(
        "studio/index.html",
        draft=draft,
        problems=problems,
        bpmn=[n for n in names if n.endswith(".bpmn")],
        dmn=[n for n in names if n.endswith(".dmn")],
        forms=[n for n in names if n.startswith("forms/")],
    )


@bp.get("/files/<path:name>")
def file(name: str):
    draft = _draft()
    if name not in draft.files:
        abort(404)
    kind = "application/json" if name.endswith(".json") else "application/xml"
    return Response(
        draft.files[name],
        mimetype=kind,
        headers={
            "Cache-Control": "no-store",
            "X-Draft-Revision": str(draft.revision),
            "X-Draft-File-Revision": file_revision(draft.files[name]),
        },
    )


@bp.get("/problems.json")
def problems():
    """The working copy's problems now, for an editor that has just opened (no save needed)."""
    draft = _draft()
    found = problems_of(bundle_of(draft), KNOWN_TOPICS)
    return (
        jsonify({"revision": draft.revision, "problems": [p.as_dict() for p in found]}),
        200,
        {"Cache-Control": "no-store"},
    )


@bp.post("/files/<path:name>")
def save_file(name: str):
    body = request.get_json(silent=True)
    text = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return jsonify({"error": "bad_request", "field": "xml", "reason": 'send {"xml": "..."}'}), 400
    revision = body.get("revision") if isinstance(body.get("revision"), int) else None
    file_rev = body.get("file_revision") or request.headers.get("X-Draft-File-Revision")
    if file_rev is not None and not isinstance(file_rev, str):
        return jsonify({"error": "bad_request", "field": "file_revision", "reason": "send it as text"}), 400
    command = SaveDraftFile(name, text, expected_revision=revision, expected_file_revision=file_rev)
    try:
        result = portal().execute(command, current_actor())
    except PortalError as exc:
        body = exc.as_dict()
        body["message"] = body["reason"] = _(exc.message)
        return jsonify(body), exc.status
    return jsonify(result)


@bp.get("/element-templates.json")
def element_templates():
    templates = []
    for path in sorted(TEMPLATES_DIR.glob("*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        templates.extend(loaded if isinstance(loaded, list) else [loaded])
    return jsonify(templates)


@bp.get("/bpmn/<path:name>")
def bpmn_editor(name: str):
    draft = _draft()
    if name not in draft.files or not name.endswith(".bpmn"):
        abort(404)
    return render_template(
        "studio/bpmn.html", name=name, draft=draft, file_revision=file_revision(draft.files[name])
    )


@bp.get("/dmn/<path:name>")
def dmn_editor(name: str):
    draft = _draft()
    if name not in draft.files or not name.endswith(".dmn"):
        abort(404)
    return render_template(
        "studio/dmn.html", name=name, draft=draft, file_revision=file_revision(draft.files[name])
    )


def _form_preview(key: str, text: str) -> dict:
    """What the preview shows for a form definition: its title and fields, or why it cannot be read."""
    schema, error = form_schema(text)
    locale = str(get_locale())
    return {
        "error": error,
        "preview": field_views(schema, locale) if schema else [],
        "title": form_title(schema, locale)[0] if schema else key,
    }


@bp.route("/forms/<key>", methods=["GET", "POST"])
def form_editor(key: str):
    name = f"forms/{key}.json"
    draft = _draft()
    if request.method == "GET" and name not in draft.files:
        abort(404)
    text = request.form.get("definition", "") if request.method == "POST" else draft.files[name]
    # The file's revision the page works on: the one it was opened with until a save of it goes through.
    opened = request.form.get("file_revision") if request.method == "POST" else None
    opened = opened or file_revision(draft.files.get(name))
    shown = _form_preview(key, text)
    problems = []
    status = 200
    if request.method == "POST" and request.form.get("action") == "save":
        command = SaveDraftFile(
            name,
            text,
            expected_revision=request.form.get("revision", type=int),
            expected_file_revision=request.form.get("file_revision") or None,
        )
        try:
            result = portal().execute(command, current_actor())
        except PortalError as exc:
            shown["error"], status = _(exc.message), exc.status
        else:
            problems = [
                p for p in result["problems"] if p["file"] == name or not p["file"].startswith("forms/")
            ]
            flash(_("Form saved."), "success")
            draft, opened = _draft(), result["file_revision"]
    return (
        render_template(
            "studio/form.html",
            key=key,
            text=text,
            problems=problems,
            draft=draft,
            file_revision=opened,
            **shown,
        ),
        status,
    )


@bp.post("/forms/<key>/preview")
def form_preview(key: str):
    """The preview alone, rendered by the same macros, for the editor's live preview as the analyst types
    (422 with the reason when the definition cannot be read)."""
    shown = _form_preview(key, request.form.get("definition", ""))
    return render_template("studio/_form_preview.html", key=key, **shown), 422 if shown["error"] else 200


@bp.post("/deploy")
def deploy():
    try:
        version = portal().execute(
            DeployDraft(
                request.form.get("note", ""), expected_revision=request.form.get("revision", type=int)
            ),
            current_actor(),
        )
    except PortalError as exc:
        flash(_("Not deployed: %(reason)s", reason=_(exc.message)), "error")
        return redirect(url_for("studio.index"))
    flash(
        _(
            "Deployed as version %(n)s. New consignments follow it; running ones stay on theirs.",
            n=version.version,
        ),
        "success",
    )
    return redirect(url_for("studio.versions"))


@bp.post("/discard")
def discard():
    try:
        draft = portal().execute(DiscardDraft(request.form.get("version", type=int)), current_actor())
    except PortalError as exc:
        flash(_(exc.message), "error")
    else:
        flash(_("The working copy starts again from version %(n)s.", n=draft.base_version), "success")
    return redirect(url_for("studio.index"))


@bp.get("/versions")
def versions():
    with portal().db.read_session() as db:
        rows = list(db.scalars(select(ModelVersion).order_by(ModelVersion.version.desc())))
        listed = [
            {
                "version": v.version,
                "note": v.note,
                "by": v.deployed_by,
                "at": v.deployed_at,
                "checksum": v.checksum,
            }
            for v in rows
        ]
    return render_template("studio/versions.html", versions=listed)


@bp.get("/versions/<int:number>/files/<path:name>")
def version_file(number: int, name: str):
    with portal().db.read_session() as db:
        version = db.scalar(select(ModelVersion).where(ModelVersion.version == number))
        if version is None or name not in version.files:
            abort(404)
        text = version.files[name]
    kind = "application/json" if name.endswith(".json") else "application/xml"
    return Response(text, mimetype=kind)


@bp.route("/trial", methods=["GET", "POST"])
def trial():
    """Run the working copy on the sample consignments before deploying it."""
    run, problems = None, []
    if request.method == "POST":
        draft = _draft()
        problems = problems_of(bundle_of(draft), KNOWN_TOPICS)
        if not problems:
            with portal().db.read_session() as db:
                medians = {s.step_id: s.median for s in reports.step_times(db, reports.EVERYTHING)}
            samples = trial_samples(request.form.get("count", 10, type=int) or 10, portal().settings)
            run = run_trial(bundle_of(draft), samples, medians, start=_next_working_morning())
    return render_template(
        "studio/trial.html", run=run, problems=problems, hours_per_day=portal().calendar.hours_per_day
    )


def _next_working_morning():
    calendar = portal().calendar
    day = portal().clock.now().astimezone(calendar.tz).date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, calendar.office_start, calendar.tz)


def _versions_list():
    with portal().db.read_session() as db:
        return list(db.scalars(select(ModelVersion.version).order_by(ModelVersion.version.desc())))


@bp.get("/compare")
def compare():
    """A readable diff of two versions and their diagrams side by side, changes coloured."""
    numbers = _versions_list()
    old = request.args.get("old", type=int) or (numbers[1] if len(numbers) > 1 else None)
    new = request.args.get("new", type=int) or (numbers[0] if numbers else None)
    difference, bpmn_name = None, None
    if old and new:
        with portal().db.read_session() as db:
            try:
                versions = [model_version(db, n) for n in (old, new)]
            except PortalError as exc:
                abort(404, description=exc.message)
            snapshots = [
                snapshot_of_version(f"version {v.version}", v.spec_json, v.forms, v.files) for v in versions
            ]
            bpmn_name = next((n for n in sorted(versions[1].files) if n.endswith(".bpmn")), None)
        difference = diff_snapshots(*snapshots)
    marks = {"added": [], "changed": [], "removed": []}
    for element in difference.elements if difference else ():
        marks.setdefault(element.status, []).append(element.element_id)
    return render_template(
        "studio/compare.html",
        numbers=numbers,
        old=old,
        new=new,
        diff=difference,
        bpmn_name=bpmn_name,
        marks=marks,
    )


@bp.route("/migrate", methods=["GET", "POST"])
def migrate():
    """Preview which running consignments can move to another version; move the chosen ones."""
    numbers = _versions_list()
    source = request.values.get("from", type=int) or (numbers[1] if len(numbers) > 1 else None)
    target = request.values.get("to", type=int) or (numbers[0] if numbers else None)
    preview, report, error = None, None, None
    if source and target:
        try:
            if request.method == "POST":
                chosen = request.form.getlist("consignment")
                if not chosen:
                    error = _("Choose the consignments to move.")
                    preview = preview_migration(portal(), source, target)
                else:
                    report = run_migration(portal(), source, target, chosen, actor=current_actor())
                    preview = report.preview
            else:
                preview = preview_migration(portal(), source, target)
        except PortalError as exc:
            error = _(exc.message)
    return render_template(
        "studio/migrate.html",
        numbers=numbers,
        source=source,
        target=target,
        preview=preview,
        report=report,
        error=error,
    )
