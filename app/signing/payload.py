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
    return rfc8785.dumps(body)
