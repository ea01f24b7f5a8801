"""The append-only, hash-chained audit trail: every command appends here in its own transaction.

A command's events are collected while it runs and sealed when it ends (``seal``): each event gets the next
id, the hash of the one before it and its own hash over its fields — and, for a signed decision, over the
signature and the signer's certificate. The ``audit_head`` row then moves to the newest event, so a deleted
last event shows too. Rows are never updated or deleted. ``verify_chain`` re-checks everything while
streaming the rows, so it runs in constant memory over millions of events.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785
from sqlalchemy import String, bindparam, cast, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import AuditEvent, AuditHead, Consignment, SigningCertificate

GENESIS = "0" * 64
CHAIN_VERSION = 2


class AuditChainRace(Exception):
    """Another transaction appended to the chain first; the executor re-runs the command."""


@dataclass(frozen=True)
class EventSignature:
    """The signature a decision carries into its audit event."""

    value: str  # base64 of the detached signature
    payload: bytes  # the exact signed bytes (RFC 8785 canonical JSON)
    certificate_id: int
    certificate_fingerprint: str  # SHA-256 of the certificate's DER, hex


@dataclass(frozen=True)
class PendingEvent:
    at: datetime
    actor: str
    organization: str | None
    action: str
    consignment_id: int | None
    task_id: str | None
    data_hash: str
    signature: EventSignature | None = None


def canonical_hash(value: Any) -> str:
    """SHA-256 of the RFC 8785 canonical JSON of ``value``."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def flat_canonical(value: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of a dict with ASCII keys and str / int / bool / None values (or such dicts).

    For that shape the standard library's C encoder gives the same bytes as the RFC (sorted keys, no
    spaces, minimal escapes with lowercase ``\\u00xx``, raw UTF-8) about ten times faster; a test checks
    the equivalence on random values."""
    return _ENCODER.encode(value).encode("utf-8")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(event: AuditEvent) -> str:
    """The hash that seals a version-1 event (sealed before signatures existed) to the one before it."""
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


def seal_hash(
    *,
    id: int,  # noqa: A002 - the column's name
    prev: str,
    at: datetime,
    actor: str,
    organization: str | None,
    action: str,
    consignment_id: int | None,
    task_id: str | None,
    data_hash: str,
    signature: str | None,
    certificate: str | None,
) -> str:
    """The hash that seals a version-2 event: its id, its fields, its signature and certificate."""
    body: dict[str, Any] = {
        "v": CHAIN_VERSION,
        "id": id,
        "prev": prev,
        "at": (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat(),
        "actor": actor,
        "organization": organization,
        "action": action,
        "consignment_id": consignment_id,
        "task_id": task_id,
        "data_hash": data_hash,
    }
    if signature is not None or certificate is not None:
        body["signature"] = signature
        body["certificate"] = certificate
    return hashlib.sha256(_ENCODER.encode(body).encode("utf-8")).hexdigest()


def pending(
    *,
    at: datetime,
    actor: str,
    organization: str | None,
    action: str,
    data: Any,
    consignment_id: int | None = None,
    task_id: str | None = None,
    signature: EventSignature | None = None,
) -> PendingEvent:
    """Describe one event to append; a signed event's data hash is the hash of the signed payload."""
    data_hash = (
        hashlib.sha256(signature.payload).hexdigest()
        if signature is not None
        else canonical_hash(_jsonable(data))
    )
    return PendingEvent(at, actor, organization, action, consignment_id, task_id, data_hash, signature)


def seal(session: Session, events: list[PendingEvent]) -> list[dict[str, Any]]:
    """Append ``events`` after the chain's head and move the head, in the caller's transaction; return the
    rows written.

    The rows go in as one Core INSERT (executemany): they are append-only, so the ORM's unit of work would
    only add bookkeeping.

    :raises AuditChainRace: when another transaction appended first (re-run the command).
    """
    if not events:
        return []
    session.flush()  # the command's own rows first: an integrity error there is not a chain race
    head = session.execute(_HEAD).first()
    if head is None:
        raise RuntimeError("the audit trail has no head row; upgrade the database (portal init-db)")
    last_id, prev = head
    rows = []
    for event in events:
        last_id += 1
        signature = event.signature
        row = {
            "id": last_id,
            "chain_version": CHAIN_VERSION,
            "at": event.at,
            "actor": event.actor,
            "organization": event.organization,
            "action": event.action,
            "consignment_id": event.consignment_id,
            "task_id": event.task_id,
            "data_hash": event.data_hash,
            "prev_hash": prev,
            "signature": signature.value if signature else None,
            "signed_payload": signature.payload if signature else None,
            "certificate_id": signature.certificate_id if signature else None,
        }
        row["hash"] = prev = seal_hash(
            id=last_id,
            prev=prev,
            at=event.at,
            actor=event.actor,
            organization=event.organization,
            action=event.action,
            consignment_id=event.consignment_id,
            task_id=event.task_id,
            data_hash=event.data_hash,
            signature=row["signature"],
            certificate=signature.certificate_fingerprint if signature else None,
        )
        rows.append(row)
    connection = session.connection()
    try:
        connection.execute(_APPEND, rows)
    except IntegrityError as exc:
        raise AuditChainRace(str(exc.orig)) from exc
    moved = connection.execute(
        _MOVE_HEAD, {"old_id": head[0], "old_hash": head[1], "new_id": last_id, "new_hash": prev}
    )
    if moved.rowcount != 1:
        raise AuditChainRace("the audit head moved")
    return rows


# Locked until the command commits: on PostgreSQL the next command's seal waits here and then reads the
# head this one moved, instead of colliding on the next event id and re-running the whole command (16
# threads appending at once: half the commands failed after five runs each). SQLite's write lock already
# serializes commands; the dialect leaves FOR UPDATE out.
_HEAD = select(AuditHead.last_id, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
_APPEND = insert(AuditEvent.__table__)
_MOVE_HEAD = (
    update(AuditHead.__table__)
    .where(
        AuditHead.__table__.c.id == 1,
        AuditHead.__table__.c.last_id == bindparam("old_id"),
        AuditHead.__table__.c.hash == bindparam("old_hash"),
    )
    .values(last_id=bindparam("new_id"), hash=bindparam("new_hash"))
)


# -- verification ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredEvent:
    """One audit row as read back for verification (plus the consignment's declaration number)."""

    id: int
    chain_version: int
    at: datetime
    actor: str
    organization: str | None
    action: str
    consignment_id: int | None
    declaration_no: str | None
    task_id: str | None
    data_hash: str
    prev_hash: str
    hash: str
    signature: str | None
    signed_payload: bytes | None
    certificate_id: int | None
    stored_at: str | None = None  # SQLite only: the time as text, which must be in its one canonical form


def _canonical_sqlite_time(text: str) -> bool:
    """Tell whether ``text`` has the one form SQLAlchemy writes (``2026-12-07 01:00:00.000000``); the
    parser also accepts other separators, lengths and zone suffixes (``…00.0+0000``) that would read as the
    same time."""
    return _CANONICAL_SQLITE_TIME.fullmatch(text) is not None


_CANONICAL_SQLITE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")


@dataclass(frozen=True)
class BrokenLink:
    event_id: int | None
    action: str | None
    at: str | None
    reason: str

    def describe(self) -> str:
        where = f"audit event {self.event_id}" if self.event_id is not None else "the audit trail"
        what = f" ({self.action} at {self.at})" if self.action else ""
        return f"broken at {where}{what}: {self.reason}"


@dataclass
class ChainReport:
    events: int = 0
    signed: int = 0
    broken: BrokenLink | None = None


SignatureCheck = Callable[[StoredEvent, bytes | None], str | None]


def verify_chain(
    session: Session, check_signature: SignatureCheck | None = None, batch: int = 5000
) -> ChainReport:
    """Re-check every link, seal and (with ``check_signature``) signature; stop at the first broken one.

    ``check_signature(event, certificate_der)`` returns None when the signature holds, else the reason.
    """
    report = ChainReport()
    head = session.execute(select(AuditHead.last_id, AuditHead.hash).where(AuditHead.id == 1)).first()
    prev, last_id, seen_v2 = GENESIS, 0, False
    certificates = _CertificateCache(session)
    # Events appended while this runs lie beyond the head read above: they are left for the next run.
    upto = head[0] if head is not None else None
    for event in _stream(session, batch, upto):
        if isinstance(event, Exception):  # a tampered value the driver cannot even decode
            report.broken = BrokenLink(
                None, None, None, f"an event after event {last_id} cannot be read: {event}"
            )
            return report
        reason = None
        if event.stored_at is not None and not _canonical_sqlite_time(event.stored_at):
            reason = f"its time is not stored as written ({event.stored_at!r})"
        elif event.prev_hash != prev:
            reason = "its link does not match the event before it (an event was removed, added or moved)"
        elif event.chain_version == 1:
            legacy = AuditEvent(
                prev_hash=event.prev_hash,
                at=event.at,
                actor=event.actor,
                organization=event.organization,
                action=event.action,
                consignment_id=event.consignment_id,
                task_id=event.task_id,
                data_hash=event.data_hash,
            )
            if seen_v2:
                reason = "an event sealed the old way follows newer events"
            elif event.id <= last_id or chain_hash(legacy) != event.hash:
                reason = "its content does not match its seal"
        elif event.chain_version == CHAIN_VERSION:
            seen_v2 = True
            der = certificates.der(event.certificate_id) if event.certificate_id is not None else None
            if event.id != last_id + 1:
                reason = f"its id should be {last_id + 1} (an event was removed, added or moved)"
            elif event.certificate_id is not None and der is None:
                reason = "its signer's certificate is missing"
            elif _v2_hash(event, der) != event.hash:
                reason = "its content does not match its seal"
            elif event.signature is not None or event.signed_payload is not None:
                report.signed += 1
                if event.signature is None or event.signed_payload is None or der is None:
                    reason = "its signature is incomplete"
                elif check_signature is not None:
                    reason = check_signature(event, der)
        else:
            reason = f"unknown seal version {event.chain_version}"
        if reason is not None:
            report.broken = BrokenLink(event.id, event.action, event.at.isoformat(), reason)
            return report
        prev, last_id = event.hash, event.id
        report.events += 1
    if head is None:
        report.broken = BrokenLink(None, None, None, "the chain's head row is missing")
    elif (head[0], head[1]) != (last_id, prev):
        report.broken = BrokenLink(
            last_id or None,
            None,
            None,
            f"the chain ends at event {last_id} but its head names event {head[0]} "
            "(events were removed from the end, or the head was changed)",
        )
    else:
        newest = session.scalar(select(func.max(AuditEvent.id)))
        now_head = session.scalar(select(AuditHead.last_id).where(AuditHead.id == 1))
        if newest is not None and now_head is not None and newest > now_head:
            report.broken = BrokenLink(
                newest, None, None, f"event {newest} lies beyond the chain's head (added without sealing)"
            )
    return report


def _v2_hash(event: StoredEvent, der: bytes | None) -> str:
    return seal_hash(
        id=event.id,
        prev=event.prev_hash,
        at=event.at,
        actor=event.actor,
        organization=event.organization,
        action=event.action,
        consignment_id=event.consignment_id,
        task_id=event.task_id,
        data_hash=event.data_hash,
        signature=event.signature,
        certificate=hashlib.sha256(der).hexdigest() if der is not None else None,
    )


def _stream(session: Session, batch: int, upto: int | None) -> Iterator[StoredEvent | Exception]:
    a, c = AuditEvent.__table__.c, Consignment.__table__.c
    query = (
        select(
            a.id,
            a.chain_version,
            a.at,
            a.actor,
            a.organization,
            a.action,
            a.consignment_id,
            c.declaration_no,
            a.task_id,
            a.data_hash,
            a.prev_hash,
            a.hash,
            a.signature,
            a.signed_payload,
            a.certificate_id,
            *([cast(a.at, String)] if session.get_bind().dialect.name == "sqlite" else []),
        )
        .select_from(AuditEvent.__table__.outerjoin(Consignment.__table__, a.consignment_id == c.id))
        .order_by(a.id)
        .execution_options(yield_per=batch)
    )
    if upto is not None:
        query = query.where(a.id <= upto)
    try:
        rows = iter(session.execute(query))
    except Exception as exc:  # the first batch is fetched at once
        yield exc
        return
    while True:
        try:
            row = next(rows)
            yield StoredEvent(*row)
        except StopIteration:
            return
        except Exception as exc:
            yield exc
            return


class _CertificateCache:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[int, bytes | None] = {}

    def der(self, certificate_id: int) -> bytes | None:
        if certificate_id not in self.cache:
            self.cache[certificate_id] = self.session.scalar(
                select(SigningCertificate.der).where(SigningCertificate.id == certificate_id)
            )
        return self.cache[certificate_id]


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
