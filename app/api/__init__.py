"""The JSON API (``/api/v1``): bearer-token clients register consignments, work their tasks, and the
port calls back. Views parse input, run a command or a scoped query, and render JSON."""

from flask import Blueprint, current_app, request

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _limit_body_size() -> None:
    # The app-wide limit allows task forms with attachments; JSON bodies get the smaller API limit.
    request.max_content_length = current_app.extensions["portal"].settings.max_request_bytes


from . import callbacks, consignments, errors, openapi, operations, work_items  # noqa: E402,F401
