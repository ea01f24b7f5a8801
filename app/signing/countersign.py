"""Countersigned records: a form field marked ``"x-countersigns": "<step>"`` holds the SHA-256 of the newest
signed decision of that step of the same consignment — the audit event's ``data_hash``, which is the SHA-256
of the exact bytes that were signed.

The portal fills the field in when it is left out and refuses any other value, so the signature on the
countersigning step covers exactly the record it confirms, and a third party sees the link in the evidence
bundle (PROCEDURE.md step 4: the sampling record is signed by the agency and countersigned by the trader)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.errors import ValidationFailed
from app.models import AuditEvent, WorkItem


@dataclass(frozen=True)
class SignedRecord:
    """A signed decision another party countersigns."""

    step: str
    form_key: str | None
    sha256: str
    event_id: int
    signer: str
    organization: str | None
    signed_at: str
    data: dict[str, Any]


def countersigned_steps(schema: dict[str, Any]) -> dict[str, str]:
    """``{field: step}`` for the fields of the form that reference a signed record."""
    return {
        name: str(spec["x-countersigns"])
        for name, spec in (schema.get("properties") or {}).items()
        if isinstance(spec, dict) and spec.get("x-countersigns")
    }


def signed_record(session: Session, consignment_id: int, step: str) -> SignedRecord | None:
    """The newest signed completion of ``step`` for the consignment, or ``None`` when there is none."""
    row = session.execute(
        select(AuditEvent, WorkItem.form_key)
        .join(WorkItem, WorkItem.task_id == AuditEvent.task_id)
        .where(
            AuditEvent.consignment_id == consignment_id,
            AuditEvent.action == "task_completed",
            AuditEvent.signed_payload.is_not(None),
            WorkItem.consignment_id == consignment_id,
            WorkItem.step_id == step,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    event, form_key = row
    body = json.loads(event.signed_payload or b"{}")
    signer = body.get("signer") or {}
    return SignedRecord(
        step=step,
        form_key=form_key,
        sha256=event.data_hash,
        event_id=event.id,
        signer=str(signer.get("user") or event.actor),
        organization=signer.get("organization") or event.organization,
        signed_at=str(body.get("signed_at", "")),
        data=body.get("data") or {},
    )


def records(session: Session, consignment_id: int, schema: dict[str, Any]) -> dict[str, SignedRecord]:
    """``{field: record}`` for each countersigning field of the form whose record has been signed."""
    found = {}
    for name, step in countersigned_steps(schema).items():
        record = signed_record(session, consignment_id, step)
        if record is not None:
            found[name] = record
    return found


def fill_references(session: Session, consignment_id: int, schema: dict[str, Any], data: Any) -> Any:
    """``data`` with each countersigning field set to its record's SHA-256.

    :raises ValidationFailed: the record has not been signed, or the given value names another record.
    """
    fields = countersigned_steps(schema)
    if not fields or not isinstance(data, dict):
        return data
    filled = dict(data)
    for name, step in fields.items():
        record = signed_record(session, consignment_id, step)
        if record is None:
            raise ValidationFailed(
                [{"field": name, "reason": "the record to countersign has not been signed"}]
            )
        given = filled.get(name)
        if given in (None, ""):
            filled[name] = record.sha256
        elif given != record.sha256:
            raise ValidationFailed(
                [{"field": name, "reason": "does not match the signed record it countersigns"}]
            )
    return filled
