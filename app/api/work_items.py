"""API: the caller's inbox, one work item with its form, and claim / release / complete."""

from __future__ import annotations

from flask import jsonify, request

from app import queries
from app.engine.commands import ClaimWorkItem, CompleteWorkItem, ReleaseWorkItem
from app.engine.errors import NotFound, PortalError
from app.models import Consignment, ProcessInstance

from . import bp
from .auth import current_actor, require_token
from .context import portal
from .errors import json_body


@bp.get("/work-items")
@require_token()
def list_work_items():
    limit = min(max(request.args.get("limit", 50, type=int), 1), 200)
    offset = max(request.args.get("offset", 0, type=int), 0)
    state = request.args.get("state", "open")
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
    item = portal().execute(CompleteWorkItem(work_item_id, body.get("data", {}), revision), current_actor())
    return jsonify(queries.work_item_json(item))
