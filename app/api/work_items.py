"""API: the caller's inbox, one work item with its form, and claim / release / complete; the exact bytes to
sign for a step that needs a signature (``signing-payload``)."""

from __future__ import annotations

import base64
import hashlib
import json

from flask import jsonify, request

from app import queries
from app.engine.commands import ClaimWorkItem, CompleteWorkItem, ReleaseWorkItem
from app.engine.errors import NotFound, PortalError
from app.forms.validation import validate_form
from app.models import Consignment, ProcessInstance
from app.signing.countersign import fill_references
from app.signing.countersign import records as countersign_records
from app.signing.errors import SignatureRejected
from app.signing.payload import signing_time
from app.signing.service import ClientSigning, PinSigning, Signing, signing_payload

from . import bp, params
from .auth import current_actor, require_token
from .context import portal
from .errors import json_body


@bp.get("/work-items")
@require_token()
def list_work_items():
    limit, offset = params.page()
    state = params.choice_arg("state", "open", params.WORK_ITEM_STATES)
    with portal().db.session() as session:
        rows = queries.inbox(session, current_actor(), state=state, limit=limit, offset=offset)
        return jsonify(
            {
                "items": [queries.work_item_json(item, number) for item, number in rows],
                "limit": limit,
                "offset": offset,
            }
        )


@bp.get("/work-items/<int:work_item_id>")
@require_token()
def get_work_item(work_item_id: int):
    with portal().db.session() as session:
        item = queries.work_item_for(session, current_actor(), work_item_id)
        if item is None:
            raise NotFound("no such work item in your inbox", field="work_item_id")
        consignment = session.get(Consignment, item.consignment_id)
        instance = session.get(ProcessInstance, item.instance_id)
        body = queries.work_item_json(item, consignment.declaration_no)
        forms = portal().runtime.forms(session, instance.model_version_id)
        body["form"] = forms.get(item.form_key) if item.form_key else None
        body["revision"] = instance.revision
        # A countersigning step: the signed record each reference field confirms (the portal fills it in).
        body["countersigns"] = {
            name: {
                "step": r.step,
                "sha256": r.sha256,
                "audit_event": r.event_id,
                "signer": r.signer,
                "organization": r.organization,
                "signed_at": r.signed_at,
                "data": r.data,
            }
            for name, r in countersign_records(session, consignment.id, body["form"] or {}).items()
        }
        return jsonify(body)


@bp.post("/work-items/<int:work_item_id>/claim")
@require_token()
def claim_work_item(work_item_id: int):
    item = portal().execute(ClaimWorkItem(work_item_id), current_actor())
    return jsonify(queries.work_item_json(item))


@bp.post("/work-items/<int:work_item_id>/release")
@require_token()
def release_work_item(work_item_id: int):
    item = portal().execute(ReleaseWorkItem(work_item_id), current_actor())
    return jsonify(queries.work_item_json(item))


@bp.post("/work-items/<int:work_item_id>/complete")
@require_token()
def complete_work_item(work_item_id: int):
    body = json_body()
    if not isinstance(body, dict):
        raise PortalError("the body must be a JSON object", field="body")
    revision = body.get("expected_revision")
    if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)):
        raise PortalError("must be an integer", field="expected_revision")
    command = CompleteWorkItem(work_item_id, body.get("data", {}), revision, signing=_signing(body))
    item = portal().execute(command, current_actor())
    return jsonify(queries.work_item_json(item))


def _signing(body: dict) -> Signing | None:
    """``pin`` (the portal signs with the user's key) or ``signature`` + ``certificate`` + ``signed_at``."""
    for name in ("pin", "signature", "certificate", "signed_at"):
        if name in body and not isinstance(body[name], str):
            raise PortalError("must be a string", field=name)
    if "pin" in body:
        return PinSigning(body["pin"])
    if any(name in body for name in ("signature", "certificate", "signed_at")):
        for name in ("signature", "certificate", "signed_at"):
            if not body.get(name):
                raise SignatureRejected("is required with a client signature", field=name)
        return ClientSigning(body["signature"], body["certificate"], body["signed_at"])
    return None


@bp.route("/work-items/<int:work_item_id>/signing-payload", methods=["GET", "POST"])
@require_token()
def work_item_signing_payload(work_item_id: int):
    """The exact bytes to sign to complete this step with the given form data, and the ``signed_at`` to
    send back with the signature (POST ``{"data": {...}}``, or GET ``?data=<JSON>``)."""
    if request.method == "POST":
        body = json_body()
        data = body.get("data", {}) if isinstance(body, dict) else body
    else:
        try:
            data = json.loads(request.args.get("data", "{}"))
        except ValueError:
            raise PortalError("is not valid JSON", field="data") from None
    actor = current_actor()
    with portal().db.session() as session:
        item = queries.work_item_for(session, actor, work_item_id)
        if item is None or item.state not in ("open", "claimed"):
            raise NotFound("no such open work item in your inbox", field="work_item_id")
        if not item.signature_required:
            raise PortalError("this step is not signed; complete it without one", field="work_item_id")
        consignment = session.get(Consignment, item.consignment_id)
        instance = session.get(ProcessInstance, item.instance_id)
        forms = portal().runtime.forms(session, instance.model_version_id)
        if item.form_key in forms:
            schema = forms[item.form_key]
            data = validate_form(schema, fill_references(session, consignment.id, schema, data))
        signed_at = signing_time(portal().clock.now())
        payload = signing_payload(item, consignment, actor, data, [], signed_at)
    return jsonify(
        {
            "payload": json.loads(payload),
            "payload_base64": base64.b64encode(payload).decode("ascii"),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "signed_at": signed_at,
            "algorithm": "ECDSA P-256 with SHA-256 (DER), RSA PKCS#1 v1.5 with SHA-256, or Ed25519",
            "complete_with": ["data", "signature", "certificate", "signed_at"],
        }
    )
