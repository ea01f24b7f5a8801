"""API: callbacks from outside systems (the port reports containers positioned in the sampling area).

A port operator's token reaches only the consignments at its terminal (``app.access``); a repeated report
is acknowledged without a second delivery (``duplicate: true``)."""

from __future__ import annotations

from flask import jsonify

from app.access import PORT_ROLES
from app.engine.commands import CorrelateMessage
from app.engine.commands.messages import DUPLICATE
from app.engine.errors import ValidationFailed

from . import bp
from .auth import current_actor, require_token
from .context import portal
from .errors import json_body


@bp.post("/port/container-positioned")
@require_token(*PORT_ROLES)
def container_positioned():
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationFailed([{"field": "body", "reason": "must be a JSON object"}])
    errors = []
    if not isinstance(body.get("declaration_no"), str):
        errors.append({"field": "declaration_no", "reason": "is required"})
    positions = body.get("positions")
    if not isinstance(positions, list) or not all(isinstance(p, dict) for p in positions):
        errors.append({"field": "positions", "reason": "must be a list of {container_no, position}"})
    if errors:
        raise ValidationFailed(errors)
    payload = {"move_ref": body.get("move_ref"), "positions": positions}
    command = CorrelateMessage(body["declaration_no"], "ContainerPositioned", payload)
    delivered = portal().execute(command, current_actor())
    return jsonify({"accepted": True, "delivered": delivered, "duplicate": command.outcome == DUPLICATE}), 202
