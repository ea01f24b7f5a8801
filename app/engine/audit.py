"""The append-only, hash-chained audit trail: every command appends here in its own transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent

GENESIS = "0" * 64


def canonical_hash(value: Any) -> str:
    """SHA-256 of the RFC 8785 canonical JSON of ``value``."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def chain_hash(event: AuditEvent) -> str:
    """The hash that seals one event together with the one before it."""
    return canonical_hash(
        {
            "prev": event.prev_hash,
            "at": event.at.isoformat(),
            "actor": event.actor,
            "organization": event.organization,
            "action": event.action,
            "consignment_id": event.consignment_id,
            "task_id": event.task_id,
            "data_hash": event.data_hash,
        }
    )


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    organization: str | None,
    action: str,
    data: Any,
    consignment_id: int | None = None,
    task_id: str | None = None,
) -> AuditEvent:
    """Append one event after the current last one (the unique ``prev_hash`` rejects a forked chain)."""
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    event = AuditEvent(
        at=at,
        actor=actor,
        organization=organization,
        action=action,
        consignment_id=consignment_id,
        task_id=task_id,
        data_hash=canonical_hash(_jsonable(data)),
        prev_hash=prev,
    )
    event.hash = chain_hash(event)
    session.add(event)
    return event


def verify_chain(session: Session) -> AuditEvent | None:
    """Return the first event whose link or seal is broken, or None when the chain is intact."""
    prev = GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != prev or chain_hash(event) != event.hash:
            return event
        prev = event.hash
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 - 1:
        return str(value)  # RFC 8785 cannot represent it as a number
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
