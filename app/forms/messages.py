"""Validation messages in the user's language: the machine-readable ``code`` of each error (set by
``validation.validate_form``) is turned into a sentence; other reasons go through the catalog as they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.i18n import N_

_BY_CODE = {
    "required": N_("This field is required."),
    "enum": N_("Choose one of the options."),
    "minimum": N_("Must be at least %(limit)s."),
    "maximum": N_("Must be at most %(limit)s."),
    "minLength": N_("Must be at least %(limit)s characters."),
    "maxLength": N_("Must be at most %(limit)s characters."),
    "minItems": N_("Choose at least %(limit)s."),
    "maxItems": N_("Choose at most %(limit)s."),
    "pattern": N_("Has the wrong format."),
    "additionalProperties": N_("Is not a field of this form."),
    "not_a_number": N_("Enter a whole number."),
    "not_a_time": N_("Enter a date and time."),
    "too_many_files": N_("Attach at most %(limit)s files."),
    "file_empty": N_("%(name)s is empty."),
    "file_too_large": N_("%(name)s is larger than %(limit)s MB."),
    "file_type": N_("%(name)s is not an accepted file type (%(limit)s)."),
}
_BY_TYPE = {
    "integer": N_("Enter a whole number."),
    "number": N_("Enter a number."),
    "boolean": N_("Choose yes or no."),
}
_FORMAT = {"date-time": N_("Enter a date and time."), "date": N_("Enter a date.")}


def localized_reason(error: dict[str, Any], gettext: Callable[[str], str]) -> str:
    """One sentence for one ``{"field", "reason", "code"?, "limit"?}`` error."""
    code = error.get("code")
    if code == "type":
        message = _BY_TYPE.get(str(error.get("limit")))
        if message:
            return gettext(message)
    if code == "format":
        message = _FORMAT.get(str(error.get("limit")))
        if message:
            return gettext(message)
    if code in _BY_CODE:
        return gettext(_BY_CODE[code]) % {"limit": error.get("limit", ""), "name": error.get("name", "")}
    template = getattr(error.get("reason"), "template", None)  # app.signing.errors.Reason: values in it
    if template is not None:
        translated = gettext(template) % error["reason"].params
        return translated[:1].upper() + translated[1:]
    reason = str(error.get("reason", ""))
    translated = gettext(reason)
    return translated[:1].upper() + translated[1:] if translated != reason else reason


# Reasons the engine and the registration check give in English, listed here so the catalog carries
# their Vietnamese text for the pages (the API keeps the English reason).
DOMAIN_REASONS = (
    N_("is required"),
    N_("unknown field"),
    N_("is required: describe the goods"),
    N_("needs at least one 8-digit HS code"),
    N_("give the container numbers, or an air waybill (awb) for air cargo"),
    N_("this step takes no attachments"),
    N_("no such work item in your inbox"),
    N_("this step is no longer open"),
    N_("work item is claimed by someone else"),
    N_("say what changed in a change note"),
    N_("type your signing PIN"),
    N_("wrong signing PIN"),
    N_("you have no remote-signing certificate; an administrator issues one (portal pki issue)"),
)
