"""Validate form data against a form's JSON Schema and report each problem with its field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from app.engine.errors import ValidationFailed

from .json_safety import unsafe_values

_checker = FormatChecker()


@_checker.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("needs a timezone, e.g. 2026-12-07T09:30:00+07:00")
    return True


@_checker.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        datetime.strptime(value, "%Y-%m-%d")
    return True


def validate_form(schema: dict[str, Any], data: object) -> dict[str, Any]:
    """Return the data if it satisfies the form's schema.

    :raises ValidationFailed: one entry per failing field, in the order of the form.
    """
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": "data", "reason": "must be a JSON object of form fields"}])
    unsafe = unsafe_values(data)
    if unsafe:
        raise ValidationFailed(unsafe)
    validator = Draft202012Validator(schema, format_checker=_checker)
    order = {name: i for i, name in enumerate(schema.get("properties", {}))}
    errors = []
    for error in validator.iter_errors(data):
        code = str(error.validator)
        if code == "required":
            field = error.message.split("'")[1] if "'" in error.message else "data"
            reason = "is required"
        elif code == "additionalProperties":
            extra = sorted(set(data) - set(schema.get("properties", {})))
            field = extra[0] if extra else "data"
            reason = "is not a field of this form"
        else:
            field = ".".join(str(p) for p in error.absolute_path) or "data"
            reason = _reason(error)
        # ``code`` and ``limit`` let the web pages say the same thing in the user's language.
        entry = {"field": field, "reason": reason, "code": code}
        if code in _LIMITS:
            entry["limit"] = error.validator_value
        errors.append(entry)
    if errors:
        errors.sort(key=lambda e: order.get(e["field"].split(".")[0], len(order)))
        raise ValidationFailed(errors)
    return data


_LIMITS = {"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "format", "type"}


def _reason(error) -> str:
    if error.validator == "const" and error.validator_value is True:
        return "must be ticked"
    if error.validator == "enum":
        return "must be one of " + ", ".join(repr(v) for v in error.validator_value)
    if error.validator == "format":
        cause = f": {error.cause}" if error.cause else ""
        return f"is not a valid {error.validator_value}{cause}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    return error.message
