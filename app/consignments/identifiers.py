"""Identifier formats of a consignment: containers, declarations, HS codes, air waybills, branches.

Each `*_problem` function takes the raw value a trader typed (or any JSON value) and returns `None` when it
is valid, or a short English reason naming the failing part, which the API reports as
`{"field": ..., "reason": ...}`. The checks are strict about the canonical form (no spaces, capital
letters); callers that want to accept sloppier input normalise it first (`normalize_container_number`,
`normalize_customs_branch`). Formats follow /work/shared/domain/PROCEDURE.md, "Data formats".

Digits are ASCII 0-9 only: `str.isdigit` and the regex class `\\d` would accept other Unicode digits.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping

# --- Containers (ISO 6346) -------------------------------------------------------------------------------

# Letter values start at A=10 and skip multiples of 11 (11, 22, 33), so Z=38.
_ISO6346_LETTER_VALUES: dict[str, int] = {}
_next_value = 10
for _letter in string.ascii_uppercase:
    if _next_value % 11 == 0:
        _next_value += 1
    _ISO6346_LETTER_VALUES[_letter] = _next_value
    _next_value += 1
del _letter, _next_value

CONTAINER_CATEGORIES = "UJZ"  # U freight container, J detachable equipment, Z trailer or chassis
_UPPER = frozenset(string.ascii_uppercase)
_DIGITS = frozenset(string.digits)


def iso6346_check_digit(owner_and_serial: str) -> int:
    """Return the ISO 6346 check digit of the first 10 characters (owner code, category, serial)."""
    head = owner_and_serial[:10]
    if len(head) != 10 or not (set(head[:4]) <= _UPPER and set(head[4:]) <= _DIGITS):
        raise ValueError(f"need 4 capital letters and 6 digits, got {owner_and_serial!r}")
    total = sum(
        (_ISO6346_LETTER_VALUES[char] if char in _UPPER else int(char)) << position
        for position, char in enumerate(head)
    )
    return total % 11 % 10


def normalize_container_number(s: str) -> str:
    """Return `s` in canonical form: capital letters, without spaces, hyphens or dots."""
    return re.sub(r"[\s\-.]", "", s).upper()


def container_number_problem(s: object) -> str | None:
    """Return why `s` is not a valid ISO 6346 container number, or None if it is valid."""
    if not isinstance(s, str):
        return "must be a string"
    if not s:
        return "is empty"
    if re.search(r"[\s\-.]", s):
        return "must be written without spaces, hyphens or dots, e.g. CSQU3054383"
    if len(s) != 11:
        return (
            f"must be 11 characters (4-letter owner code and category, 6-digit serial number, check digit), "
            f"got {len(s)}"
        )
    if not set(s[:3]) <= _UPPER:
        return "owner code (first 3 characters) must be capital letters A-Z"
    if s[3] not in CONTAINER_CATEGORIES:
        return f"category identifier (4th character) must be U, J or Z, got {s[3]!r}"
    if not set(s[4:10]) <= _DIGITS:
        return "serial number (characters 5-10) must be 6 digits"
    if s[10] not in _DIGITS:
        return "check digit (11th character) must be a digit"
    expected = iso6346_check_digit(s)
    if int(s[10]) != expected:
        return f"check digit should be {expected}, not {s[10]}"
    return None


# --- Customs declarations (VNACCS) -----------------------------------------------------------------------


def _digits_problem(s: object, length: int, what: str) -> str | None:
    """Return why `s` is not exactly `length` ASCII digits, or None."""
    if not isinstance(s, str):
        return "must be a string of digits"
    if not s:
        return "is empty"
    if not set(s) <= _DIGITS:
        return f"{what} must contain only digits 0-9"
    if len(s) != length:
        return f"{what} must be exactly {length} digits, got {len(s)}"
    return None


def declaration_number_problem(s: object) -> str | None:
    """Return why `s` is not a 12-digit VNACCS declaration number, or None if it is valid."""
    # Imports are observed to start with "10", which PROCEDURE.md marks unconfirmed: not enforced. The
    # 12th digit counts amendments; there is no known check digit.
    return _digits_problem(s, 12, "declaration number")


# Unconfirmed list (PROCEDURE.md): keep it configurable, pass `allowed` from settings when it is known.
DECLARATION_TYPES: tuple[str, ...] = ("A11", "A12", "A21", "A31", "A41", "E31")


def declaration_type_problem(s: object, allowed: Iterable[str] = DECLARATION_TYPES) -> str | None:
    """Return why `s` is not an accepted declaration type code, or None if it is accepted."""
    allowed = tuple(allowed)
    if not isinstance(s, str):
        return "must be a string"
    if not s:
        return "is empty"
    if s not in allowed:
        return f"declaration type {s!r} is not accepted; use one of {', '.join(allowed)}"
    return None


# --- HS codes --------------------------------------------------------------------------------------------

_RESERVED_HS_CHAPTERS = {"77": "chapter 77 is reserved in the Harmonized System and not used"}


def hs_code_problem(s: object) -> str | None:
    """Return why `s` is not an 8-digit Vietnamese HS code, or None if it is valid."""
    problem = _digits_problem(s, 8, "HS code")
    if problem is not None or not isinstance(s, str):
        return problem
    chapter = s[:2]
    if not "01" <= chapter <= "97":
        return f"chapter (first 2 digits) must be 01-97, got {chapter}"
    return _RESERVED_HS_CHAPTERS.get(chapter)


# --- Air waybills ----------------------------------------------------------------------------------------

_AIR_WAYBILL = re.compile(r"([0-9]{3})-?([0-9]{8})")


def air_waybill_problem(s: object) -> str | None:
    """Return why `s` is not a valid air waybill number (NNN-NNNNNNNN, mod-7 check), or None."""
    if not isinstance(s, str):
        return "must be a string"
    if not s:
        return "is empty"
    match = _AIR_WAYBILL.fullmatch(s)
    if match is None:
        return "must be a 3-digit airline prefix and an 8-digit serial number, e.g. 618-44172030"
    serial = match.group(2)
    expected = int(serial[:7]) % 7
    if int(serial[7]) != expected:
        return f"check digit (last digit) should be {expected}, not {serial[7]}"
    return None


# --- Customs branches ------------------------------------------------------------------------------------

KNOWN_CUSTOMS_BRANCHES: dict[str, str] = {
    "02CI": "Saigon Port Zone I (Cat Lai)",
    "02AB": "Tan Son Nhat",
    "02CX": "Tan Cang",
    "02CV": "Hiep Phuoc",
}

# A branch code is two digits (province) and two letters or digits, at the start of the text.
_BRANCH_CODE = re.compile(r"\s*([0-9]{2}[A-Za-z0-9]{2})(?![A-Za-z0-9])")


def normalize_customs_branch(s: str) -> str | None:
    """Return the 4-character branch code leading `s` (e.g. "02AB (team 02B1 TCS)" -> "02AB"), or None."""
    if not isinstance(s, str):
        return None
    match = _BRANCH_CODE.match(s)
    return match.group(1).upper() if match else None


def customs_branch_problem(s: object, known: Mapping[str, str] = KNOWN_CUSTOMS_BRANCHES) -> str | None:
    """Return why `s` does not name a known customs branch, or None if it does."""
    if not isinstance(s, str):
        return "must be a string"
    if not s.strip():
        return "is empty"
    code = normalize_customs_branch(s)
    listing = ", ".join(f"{key} {name}" for key, name in known.items())
    if code is None:
        return f"must start with a 4-character customs branch code; known: {listing}"
    if code not in known:
        return f"unknown customs branch code {code}; known: {listing}"
    return None
