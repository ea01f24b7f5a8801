"""The task form: rendered from the step's form definition, validated on the server with field-level
messages in the user's language, attachments checked and stored with their SHA-256."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required

from app import queries
from app.engine.commands import CompleteWorkItem
from app.engine.errors import PortalError, StaleRevision, ValidationFailed
from app.forms.context import context_entries, context_rows
from app.forms.messages import localized_reason
from app.forms.rendering import field_views, form_title, parse_submission
from app.forms.uploads import attachment_rules, check_uploads
from app.forms.validation import validate_form
from app.models import Consignment, ModelVersion, ProcessInstance
from app.signing import countersign
from app.signing.errors import SignatureRejected
from app.signing.payload import parse_signing_time
from app.signing.service import PinSigning

from .auth import current_actor
from .context import portal
from .labels import step_label
from .reasons import reason
from .sla import SlaClock

bp = Blueprint("tasks", __name__)


def _load(db, work_item_id: int):
    item = queries.visible_work_item(db, current_actor(), work_item_id)
    if item is None:
        abort(404)
    consignment = db.get(Consignment, item.consignment_id)
    instance = db.get(ProcessInstance, consignment.instance_id)
    forms = db.get(ModelVersion, instance.model_version_id).forms
    schema = forms.get(item.form_key) if item.form_key else None
    return item, consignment, instance, schema or {"type": "object", "properties": {}}


def _variables(consignment: Consignment) -> dict[str, Any]:
    return {"containers": consignment.containers, "sampling_place": consignment.sampling_place}


def _render(item, consignment, instance, schema, *, values=None, errors=None, status=200):
    locale = str(get_locale())
    messages = {e["field"].split(".")[0].split("[")[0]: localized_reason(e, _) for e in errors or []}
    with portal().db.read_session() as db:
        files = queries.attachments(db, consignment.id)
        signed = countersign.records(db, consignment.id, schema)
        forms = db.get(ModelVersion, instance.model_version_id).forms if signed else {}
        decided = queries.decision_outputs(db, consignment.id, [e.decision for e in context_entries(schema)])
    if values is None and signed:  # a countersigning form shows the reference of the record it confirms
        values = {name: record.sha256 for name, record in signed.items()}
    views = field_views(schema, locale, values=values, variables=_variables(consignment), errors=messages)
    title, description = form_title(schema, locale)
    summary = [
        {"field": e["field"], "label": _label(views, e["field"]), "message": localized_reason(e, _)}
        for e in errors or []
    ]
    return (
        render_template(
            "task.html",
            item=item,
            consignment=consignment,
            revision=instance.revision,
            fields=views,
            title=title or step_label(item.step_id, item.step_name),
            description=description,
            context=context_rows(schema, decided, locale),
            errors=summary,
            attachment_rules=attachment_rules(schema),
            attachment_error=messages.get("attachments"),
            pin_error=messages.get("signing_pin"),
            files=files,
            countersigned=[_record_view(record, forms, locale) for record in signed.values()],
            sla=SlaClock.current(portal()),
            editable=item.state in ("open", "claimed") and item.role == current_actor().role,
        ),
        status,
    )


def _record_view(record: countersign.SignedRecord, forms: dict[str, Any], locale: str) -> dict[str, Any]:
    """The signed record a countersigning step confirms, with the labels of the form it was made with."""
    schema = forms.get(record.form_key or "") or {"properties": {k: {} for k in record.data}}
    title, _description = form_title(schema, locale)
    rows = [
        (view.label, _shown(view))
        for view in field_views(schema, locale, values=record.data)
        if view.name in record.data
    ]
    signed_at = parse_signing_time(record.signed_at)
    return {"record": record, "title": title or record.step, "rows": rows, "signed_at": signed_at}


def _shown(view) -> str:
    if view.widget == "checkbox":
        return _("yes") if view.value else _("no")
    if isinstance(view.value, list):
        return ", ".join(str(v) for v in view.value)
    return str(view.value).replace("T", " ") if view.widget == "datetime" else str(view.value)


@bp.get("/work-items/<int:work_item_id>")
@login_required
def show(work_item_id: int):
    with portal().db.read_session() as db:
        item, consignment, instance, schema = _load(db, work_item_id)
    return _render(item, consignment, instance, schema)


@bp.post("/work-items/<int:work_item_id>")
@login_required
def submit(work_item_id: int):
    with portal().db.read_session() as db:
        item, consignment, instance, schema = _load(db, work_item_id)
    data, shown, errors = parse_submission(schema, request.form)
    settings = current_app.extensions["portal"].settings
    uploads = []
    try:
        uploads = check_uploads(
            schema,
            [
                (f.filename or "", f.read(settings.max_upload_bytes + 1))
                for f in request.files.getlist("attachments")
            ],
            max_bytes=settings.max_upload_bytes,
            max_files=settings.max_uploads_per_form,
        )
    except ValidationFailed as exc:
        errors += exc.errors
    converted = {e["field"] for e in errors}
    try:
        with portal().db.read_session() as db:
            data = countersign.fill_references(db, consignment.id, schema, data)
        validate_form(schema, data)
    except ValidationFailed as exc:
        errors += [e for e in exc.errors if e["field"] not in converted]
    if errors:
        return _render(item, consignment, instance, schema, values=shown, errors=errors, status=422)
    expected = request.form.get("revision", type=int)
    signing = PinSigning(request.form.get("signing_pin", "")) if item.signature_required else None
    command = CompleteWorkItem(
        work_item_id, data, expected_revision=expected, attachments=tuple(uploads), signing=signing
    )
    try:
        portal().execute(command, current_actor())
    except StaleRevision:
        with portal().db.read_session() as db:
            item, consignment, instance, schema = _load(db, work_item_id)
        error = {
            "field": "revision",
            "reason": _(
                "The consignment changed while you were filling in the form. Check it and submit again."
            ),
        }
        return _render(item, consignment, instance, schema, values=shown, errors=[error], status=409)
    except ValidationFailed as exc:
        return _render(item, consignment, instance, schema, values=shown, errors=exc.errors, status=422)
    except SignatureRejected as exc:  # shown at the PIN field, the only signing input of the web form
        error = {"field": "signing_pin", "reason": exc.message}
        return _render(item, consignment, instance, schema, values=shown, errors=[error], status=exc.status)
    except PortalError as exc:  # a reason naming a state or role is translated with its words
        error = {"field": exc.field or "form", "reason": reason(exc) if exc.params else exc.message}
        with portal().db.read_session() as db:  # the step as it is now (completed meanwhile, say)
            item, consignment, instance, schema = _load(db, work_item_id)
        return _render(item, consignment, instance, schema, values=shown, errors=[error], status=exc.status)
    flash(_("Step completed: %(step)s", step=step_label(item.step_id, item.step_name)), "success")
    return redirect(url_for("consignments.show", declaration_no=consignment.declaration_no))


# Fields an error may name that are not inputs of the form: the step itself, or the page's revision.
_WHOLE_FORM = ("form", "work_item_id", "revision", "expected_revision")


def _label(views, field: str) -> str:
    name = field.split(".")[0].split("[")[0]
    for view in views:
        if view.name == name:
            return view.label
    if name == "signing_pin":
        return _("Signing PIN")
    if name in _WHOLE_FORM:
        return _("Form")
    return _("Attachments") if name == "attachments" else name
