"""The exact bytes a signer signs: the RFC 8785 canonical JSON of one decision.

    {"v": 1, "purpose": "...", "consignment": "<declaration no>",
     "task": {"id": "<task uuid>", "step": "<BPMN id>", "name": "<step name>"},
     "data": {<the submitted form fields>},
     "attachments": [{"filename": ..., "sha256": ..., "size": ...}],
     "signer": {"user": "<username>", "organization": "<organization code>"},
     "signed_at": "2026-12-07T02:00:00Z"}

The same function builds the payload the API hands out for signing, the one the portal signs with a PIN,
and the one it rebuilds to check a client's signature, so a signature covers exactly what is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import rfc8785

PAYLOAD_VERSION = 1
PURPOSE = "Cat Lai specialized inspection: signed decision"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def signing_time(moment: datetime) -> str:
    """The signing time as it appears in the payload: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_signing_time(text: object) -> datetime | None:
    """Read a signing time written by ``signing_time``; None when it is not exactly in that form."""
    if not isinstance(text, str) or len(text) != 20 or not text.isascii():
        return None
    if (text[4], text[7], text[10], text[13], text[16], text[19]) != ("-", "-", "T", ":", ":", "Z"):
        return None
    try:
        return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)
    except ValueError:
        return None


def decision_payload(
    *,
    declaration_no: str,
    task_id: str,
    step_id: str,
    step_name: str,
    data: dict[str, Any],
    attachments: list[dict[str, Any]],
    signer: str,
    organization: str | None,
    signed_at: str,
) -> bytes:
    """Return the canonical bytes of one decision."""
    body = {
        "v": PAYLOAD_VERSION,
        "purpose": PURPOSE,
        "consignment": declaration_no,
        "task": {"id": task_id, "step": step_id, "name": step_name},
        "data": data,
        "attachments": [
            {"filename": a["filename"], "sha256": a["sha256"], "size": a["size"]} for a in attachments
        ],
        "signer": {"user": signer, "organization": organization},
        "signed_at": signed_at,
    }
    return canonical_json(body)


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of ``value``.

    Values without floats — what a decision holds: str, int, bool, None, lists and dicts — take the
    standard library's C encoder, which gives RFC 8785's bytes for them (sorted keys, no spaces, minimal
    escapes with lowercase ``\\u00xx``, raw UTF-8) several times faster; anything else (floats, integers
    beyond 2**53, keys whose UTF-16 order may differ from code point order, other types, unpaired
    surrogates) goes to ``rfc8785`` itself. A property test checks the equivalence."""
    if _plain(value):
        try:
            return _ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:  # an unpaired surrogate: let rfc8785 refuse it
            pass
    return rfc8785.dumps(value)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_INT_LIMIT = 2**53 - 1


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_INT_LIMIT <= value <= _INT_LIMIT
    if kind is dict:
        for key, item in value.items():
            # keys below U+D800 sort the same by code point (Python) and by UTF-16 unit (RFC 8785)
            if type(key) is not str or not (key.isascii() or max(key) < "\ud800") or not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return False
