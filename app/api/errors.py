"""Map domain errors and malformed requests to JSON error bodies that name the field and the reason."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from app.engine.errors import PortalError

from . import bp


@bp.app_errorhandler(PortalError)
def _portal_error(exc: PortalError):
    return jsonify(exc.as_dict()), exc.status


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if not request.path.startswith("/api/"):
        return exc
    body = {"error": (exc.name or "error").lower().replace(" ", "_"), "message": exc.description}
    if exc.code == 413:
        body.update(field="body", reason="request body too large")
    return jsonify(body), exc.code


def json_body() -> object:
    """Return the parsed JSON body or raise a 400 that says what is wrong with it."""
    if not request.is_json:
        raise PortalError("send a JSON body with Content-Type: application/json", field="body")
    data = request.get_json(silent=True)
    if data is None:
        raise PortalError("the body is not valid JSON", field="body")
    return data
