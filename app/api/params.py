"""Query-string parameters of the API, checked: a bad one is a 422 that names it and says why, never a
silent default."""

from __future__ import annotations

from flask import request

from app.engine.errors import ValidationFailed

PAGE_LIMIT = (1, 200)
MAX_OFFSET = 1_000_000_000  # beyond any list here, and inside a 64-bit integer for the database
WORK_ITEM_STATES = ("open", "claimed", "completed", "cancelled")  # "open" lists the claimed ones too
CONSIGNMENT_STATUSES = (
    "registered",
    "in_progress",
    "cleared",
    "non_compliance_handled",
    "rejected",
    "completed",
)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed([{"field": name, "reason": "must be an integer"}]) from None
    if not low <= value <= high:
        raise ValidationFailed([{"field": name, "reason": f"must be between {low} and {high}"}])
    return value


def choice_arg(name: str, default: str | None, choices: tuple[str, ...]) -> str | None:
    value = request.args.get(name, default)
    if value is not None and value not in choices:
        raise ValidationFailed([{"field": name, "reason": f"must be one of {', '.join(choices)}"}])
    return value


def page() -> tuple[int, int]:
    """``limit`` (1-200, default 50) and ``offset`` (0 on, default 0)."""
    return int_arg("limit", 50, *PAGE_LIMIT), int_arg("offset", 0, 0, MAX_OFFSET)
