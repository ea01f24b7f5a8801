"""Validation messages in the user's language: the machine-readable ``code`` of each error (set by
``validation.validate_form`` and ``uploads.check_uploads``) is turned into a sentence; other reasons go
through the catalog as they are, and reasons with values in them (the identifier checks of a registration)
through the pattern of their message."""

from __future__ import annotations

import re
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
    "const": N_("Tick this box to confirm."),
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
    if translated == reason:
        translated = _patterned(reason, gettext)
    return translated[:1].upper() + translated[1:] if translated != reason else reason


def _patterned(reason: str, gettext: Callable[[str], str]) -> str:
    """Translate a reason with values in it ("check digit should be 6, not 7") through its pattern."""
    for message, pattern in _PATTERNS:
        match = pattern.fullmatch(reason)
        if match:
            return gettext(message) % match.groupdict()
    return reason


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
    N_("the record to countersign has not been signed"),
    N_("does not match the signed record it countersigns"),
    N_("must be ticked"),
    N_("is empty"),
    N_("must be written without spaces, hyphens or dots, e.g. CSQU3054383"),
    N_("owner code (first 3 characters) must be capital letters A-Z"),
    N_("serial number (characters 5-10) must be 6 digits"),
    N_("check digit (11th character) must be a digit"),
    N_("declaration number must contain only digits 0-9"),
    N_("HS code must contain only digits 0-9"),
    N_("chapter 77 is reserved in the Harmonized System and not used"),
    N_("must be a 3-digit airline prefix and an 8-digit serial number, e.g. 618-44172030"),
    N_("must be at most 500 characters"),
)

# Reasons of app.consignments.identifiers / registration that carry values; each %(name)s matches the value.
PATTERNED_REASONS = (
    N_("check digit should be %(expected)s, not %(got)s"),
    N_("check digit (last digit) should be %(expected)s, not %(got)s"),
    N_("declaration number must be exactly %(length)s digits, got %(got)s"),
    N_("HS code must be exactly %(length)s digits, got %(got)s"),
    N_(
        "must be 11 characters (4-letter owner code and category, 6-digit serial number, check digit), "
        "got %(got)s"
    ),
    N_("category identifier (4th character) must be U, J or Z, got %(got)s"),
    N_("chapter (first 2 digits) must be 01-97, got %(got)s"),
    N_("%(number)s is listed twice"),
)


def _pattern(message: str) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", message)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(regex)


_PATTERNS = [(message, _pattern(message)) for message in PATTERNED_REASONS]
