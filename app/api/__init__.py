"""The JSON API (``/api/v1``): bearer-token clients register consignments, work their tasks, and the
port calls back. Views parse input, run a command or a scoped query, and render JSON."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import callbacks, consignments, errors, openapi, operations, work_items  # noqa: E402,F401
