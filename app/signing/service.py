"""What the rest of the portal calls to sign and to check signatures.

* ``sign_decision`` — inside ``CompleteWorkItem``: a step the model marks ``signature=required`` is signed
  either remotely (``PinSigning``: the portal opens the user's key with the PIN) or by the client
  (``ClientSigning``: a detached signature over the bytes of ``signing_payload`` plus the certificate);
* ``sign_remotely`` / ``verify_client_signature`` — the two paths on their own (the web form and the API);
* ``seal_system_decision`` — the portal's seal signs decisions no person makes (the clearance);
* ``StoredSignatureCheck`` — re-checks a stored signature for ``portal audit verify`` and the export.

Every refusal raises ``SignatureRejected`` naming the field (pin, signature, certificate, signed_at); the
command's transaction then rolls back, so nothing is completed — only a wrong PIN is counted, in a small
transaction of its own (``pin_guard``).

What runs on every signed completion is kept cheap without checking less: statements are prebuilt, a
certificate's path and validity window are worked out once per set of loaded CRLs (``verify``), trust
files and the seal's file are looked at every 2 s, and a fresh PIN signature is not verified again (the
key the PIN opens is checked once per certificate row to be the certificate's own key)."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.engine.audit import EventSignature, StoredEvent
from app.models import Consignment, SigningCertificate, SigningPinGuard, WorkItem
from app.settings import Settings

from . import keys, pin_guard, pki
from .errors import PkiError, SignatureRejected
from .payload import decision_payload, parse_signing_time, signing_time
from .trust import current_crls, load_trust
from .verify import (
    Validity,
    build_path,
    check_certificate,
    check_path_at,
    check_signature,
    check_signer_usage,
    path_validity,
)


@dataclass(frozen=True)
class PinSigning:
    """Remote signing: the user types the signing PIN; the portal signs with the key it holds."""

    pin: str


@dataclass(frozen=True)
class ClientSigning:
    """Client signing: a detached signature (base64) over the signing payload, the signer's certificate
    (PEM, optionally followed by its issuing CAs) and the ``signed_at`` the payload carried."""

    signature: str
    certificate: str
    signed_at: str


Signing = PinSigning | ClientSigning


class Signer(Protocol):
    """Who signs: anything with ``username``, ``organization`` and ``user_id`` (an ``Actor``)."""

    username: str
    organization: str | None
    user_id: int | None


def signing_payload(
    item: WorkItem,
    consignment: Consignment,
    signer: Signer,
    data: dict[str, Any],
    attachments: list[dict[str, Any]],
    signed_at: str,
) -> bytes:
    """The bytes a signer signs to complete ``item`` with ``data``."""
    return decision_payload(
        declaration_no=consignment.declaration_no,
        task_id=item.task_id,
        step_id=item.step_id,
        step_name=item.step_name,
        data=data,
        attachments=attachments,
        signer=signer.username,
        organization=signer.organization,
        signed_at=signed_at,
    )


def sign_decision(
    ctx,
    item: WorkItem,
    consignment: Consignment,
    data: dict[str, Any],
    attachments: list[dict[str, Any]],
    signing: Signing | None,
) -> EventSignature:
    """Sign or check the signature of one decision in the completing command's transaction."""
    session, settings, actor, now = ctx.session, ctx.settings, ctx.actor, ctx.now
    if signing is None:
        raise SignatureRejected(
            "this step must be signed: send your signing PIN, or signature + certificate + signed_at "
            "(see GET/POST /api/v1/work-items/<id>/signing-payload)",
            field="pin",
        )
    if isinstance(signing, PinSigning):
        payload = signing_payload(item, consignment, actor, data, attachments, signing_time(now))
        signature, row = sign_remotely(session, settings, actor, signing.pin, payload, now)
    else:
        payload, signature, row = verify_client_signature(
            session,
            settings,
            actor,
            signing,
            lambda signed_at: signing_payload(item, consignment, actor, data, attachments, signed_at),
            now,
        )
    return EventSignature(base64.b64encode(signature).decode("ascii"), payload, row.id, row.fingerprint)


def sign_remotely(
    session: Session, settings: Settings, user: Signer, pin: str, payload: bytes, at: datetime
) -> tuple[bytes, Any]:
    """Open the user's key with the PIN, check the certificate at ``at``, sign ``payload``; return the
    signature and the certificate's row (``id``, ``fingerprint``, ``der``).

    No verification of the fresh signature follows: the key the PIN opens (AES-GCM, so exactly the key that
    was wrapped) is checked once per certificate row to be the certificate's own key, so a signature it
    makes verifies with the certificate by construction.

    :raises SignatureRejected: no remote-signing certificate, wrong PIN (counted: ``pin_guard``), signing
    locked after too many wrong PINs, expired or revoked certificate.
    """
    row = session.execute(_PERSONAL_KEY, {"user_id": user.user_id}).first()
    if row is None:
        raise SignatureRejected(
            "you have no remote-signing certificate; an administrator issues one (portal pki issue)",
            field="pin",
        )
    if not isinstance(pin, str) or not pin:
        raise SignatureRejected("type your signing PIN", field="pin")
    pin_guard.refuse_if_locked(row.locked_until, at)
    try:
        key = keys.unwrap_with_pin(
            row.encrypted_key, pin, _pepper(settings.pki_passphrase), user.username.encode()
        )
    except keys.WrongPin:
        message = pin_guard.count_wrong_pin(session, user.user_id, row.failures or 0, at)
        raise SignatureRejected(message, field="pin") from None
    if row.failures:
        pin_guard.reset(session, user.user_id)
    cert, fingerprint = _certificate(row.der)
    check_certificate(cert, [], _trust(settings), session, at, settings, fingerprint)
    if (row.id, row.encrypted_key) not in _keys_of_certificates:
        if _public_der(key.public_key()) != _public_der(cert.public_key()):
            raise SignatureRejected(
                "the key the portal holds for you does not belong to your certificate; ask an "
                "administrator to issue a new one (portal pki issue)",
                field="pin",
            )
        _keys_of_certificates.add((row.id, row.encrypted_key))
    return keys.sign(key, payload), row


_C = SigningCertificate.__table__.c
_G = SigningPinGuard.__table__.c
# Prebuilt (its cache key is computed once): this runs on every signed completion. A plain row, with the
# user's PIN guard, read in the command's transaction.
_PERSONAL_KEY = (
    select(_C.id, _C.fingerprint, _C.der, _C.encrypted_key, _G.failures, _G.locked_until)
    .select_from(SigningCertificate.__table__.outerjoin(SigningPinGuard.__table__, _G.user_id == _C.user_id))
    .where(
        _C.user_id == bindparam("user_id"),
        _C.purpose == "personal",
        _C.retired_at.is_(None),
        _C.encrypted_key.is_not(None),
    )
    .order_by(_C.id.desc())
    .limit(1)
)
# (certificate row id, wrapped key) pairs whose key was seen to be the certificate's key
_keys_of_certificates: set[tuple[int, bytes]] = set()


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def verify_client_signature(
    session: Session,
    settings: Settings,
    user: Signer,
    signing: ClientSigning,
    build_payload,
    now: datetime,
) -> tuple[bytes, bytes, Any]:
    """Check a client's detached signature; return (payload, signature, registered certificate's row:
    ``id``, ``fingerprint``, ``user_id``, ``purpose``, ``retired_at``).

    ``build_payload(signed_at)`` rebuilds the bytes the client should have signed.
    """
    signed_at = parse_signing_time(signing.signed_at)
    if signed_at is None:
        raise SignatureRejected(
            "send back the signed_at the signing payload gave you (e.g. 2026-12-07T02:00:00Z)",
            field="signed_at",
        )
    window = timedelta(seconds=settings.signing_window_seconds)
    if abs(now - signed_at) > window:
        raise SignatureRejected(
            f"is more than {int(window.total_seconds() // 60)} minutes from the portal's clock "
            f"({signing_time(now)}); fetch a fresh signing payload",
            field="signed_at",
        )
    try:
        chain = x509.load_pem_x509_certificates(str(signing.certificate).encode("utf-8"))
    except ValueError:
        raise SignatureRejected("is not a PEM X.509 certificate", field="certificate") from None
    try:
        signature = base64.b64decode(str(signing.signature), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected("is not base64", field="signature") from None
    cert = chain[0]
    fingerprint = cert.fingerprint(SHA256())
    check_certificate(cert, chain[1:], _trust(settings), session, signed_at, settings, fingerprint)
    row = session.execute(_REGISTERED, {"fingerprint": fingerprint.hex()}).first()
    if row is None or row.user_id != user.user_id or row.purpose != "personal":
        raise SignatureRejected(
            f"is not registered as {user.username}'s signing certificate (portal pki register)",
            field="certificate",
        )
    if row.retired_at is not None:
        raise SignatureRejected(
            "was replaced by a newer certificate; sign with that one", field="certificate"
        )
    payload = build_payload(signing.signed_at)
    check_signature(cert, signature, payload)
    return payload, signature, row


_REGISTERED = select(_C.id, _C.fingerprint, _C.user_id, _C.purpose, _C.retired_at).where(
    _C.fingerprint == bindparam("fingerprint")
)


def seal_system_decision(
    ctx, consignment: Consignment, task_id: str, step_id: str, step_name: str, data: dict[str, Any]
) -> EventSignature:
    """Sign a decision the portal takes on its own (the clearance) with the portal organization's seal."""
    settings, session = ctx.settings, ctx.session
    organization = settings.pki_system_organization
    seal = _seal(settings)
    known = (str(session.get_bind().url), seal.fingerprint)
    row_id = _seal_rows.get(known)
    if row_id is None:
        # Certificate rows are never deleted, so a committed row's id stays right (as for the CRL cache).
        row = session.execute(_SEAL_ROW, {"fingerprint": seal.fingerprint}).first()
        if row is not None:
            _seal_rows[known] = row_id = row.id
        else:
            row_id = pki._register(session, seal.cert, organization, None, "seal", None, ctx.now).id
            ctx.after_commit.append(lambda: _seal_rows.__setitem__(known, row_id))
    payload = decision_payload(
        declaration_no=consignment.declaration_no,
        task_id=task_id,
        step_id=step_id,
        step_name=step_name,
        data=data,
        attachments=[],
        signer=ctx.actor.username,
        organization=organization,
        signed_at=signing_time(ctx.now),
    )
    check_certificate(seal.cert, [], _trust(settings), session, ctx.now, settings, seal.fingerprint_bytes)
    signature = keys.sign(seal.key, payload)
    return EventSignature(base64.b64encode(signature).decode("ascii"), payload, row_id, seal.fingerprint)


_SEAL_ROW = select(_C.id).where(_C.fingerprint == bindparam("fingerprint"))
_seal_rows: dict[tuple[str, str], int] = {}  # (database URL, seal fingerprint) -> certificate row id


@dataclass(frozen=True)
class _Seal:
    cert: x509.Certificate
    key: Any
    fingerprint: str  # hex, as stored
    fingerprint_bytes: bytes


SEAL_RECHECK_SECONDS = 2.0
_seal_checked: dict[tuple[str, str, str], tuple[float, _Seal]] = {}


def _seal(settings: Settings) -> _Seal:
    """The portal's seal, re-read when its file changed (looked at at most every ``SEAL_RECHECK_SECONDS``)."""
    key = (str(settings.pki_dir), settings.pki_system_organization, settings.pki_passphrase)
    cached = _seal_checked.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < SEAL_RECHECK_SECONDS:
        return cached[1]
    seal = _load_seal(*key, _seal_mtime(settings))
    _seal_checked[key] = (now, seal)
    return seal


def _seal_mtime(settings: Settings) -> float:
    try:
        return (pki.folder(settings).org_file(settings.pki_system_organization, "seal.pem")).stat().st_mtime
    except OSError:
        raise PkiError(
            f"the {settings.pki_system_organization} seal is missing; run 'portal pki init'"
        ) from None


@functools.lru_cache(maxsize=16)
def _load_seal(pki_dir: str, organization: str, passphrase: str, _mtime: float) -> _Seal:
    cert, key = pki.seal_key(Settings(pki_dir=pki_dir, pki_passphrase=passphrase), organization)
    fingerprint = cert.fingerprint(SHA256())
    return _Seal(cert, key, fingerprint.hex(), fingerprint)


@functools.lru_cache(maxsize=8)
def _pepper(passphrase: str) -> bytes:
    return keys.pepper(passphrase)


@functools.lru_cache(maxsize=1024)
def _certificate(der: bytes) -> tuple[x509.Certificate, bytes]:
    """A registered certificate, parsed, and its SHA-256."""
    cert = x509.load_der_x509_certificate(der)
    return cert, cert.fingerprint(SHA256())


def _trust(settings: Settings):
    return load_trust(settings)


# -- stored signatures ----------------------------------------------------------------------------------
class StoredSignatureCheck:
    """Re-check stored signatures (``portal audit verify``): payload against the event, signature against
    the certificate, certificate path, validity at the signing time and revocation. Certificates are parsed
    and their paths built once each."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session, self.settings = session, settings
        self.trust = load_trust(settings)
        self.crls = current_crls(session)  # one snapshot of the loaded CRLs for the whole run
        self.window = timedelta(seconds=settings.signing_window_seconds)
        self._paths: dict[bytes, tuple[list[x509.Certificate] | None, str | None]] = {}
        self._validities: dict[bytes, Validity] = {}

    def __call__(self, event: StoredEvent, der: bytes) -> str | None:
        payload = event.signed_payload or b""
        if hashlib.sha256(payload).hexdigest() != event.data_hash:
            return "its signed payload does not match its data hash"
        try:
            body = json.loads(payload)
            signer, task = body["signer"]["user"], body["task"]["id"]
            consignment, signed_at = body["consignment"], parse_signing_time(body["signed_at"])
        except (ValueError, KeyError, TypeError):
            return "its signed payload is not a decision payload"
        if signer != event.actor:
            return f"signed by {signer!r} but recorded as done by {event.actor!r}"
        if task != event.task_id or consignment != event.declaration_no:
            return "its signed payload names another task or consignment"
        if signed_at is None or abs(event.at - signed_at) > self.window:
            return "its signing time does not match the event's time"
        try:
            signature = base64.b64decode(event.signature or "", validate=True)
        except (binascii.Error, ValueError):
            return "its signature is not base64"
        path, problem = self._path(der)
        if path is None:
            return f"its certificate {problem}"
        if not keys.signature_holds(path[0].public_key(), signature, payload):
            return "its signature does not verify against its certificate"
        validity = self._validities.get(der)
        if validity is None:  # when signatures with this certificate are good, worked out once
            validity = self._validities[der] = path_validity(path, self.crls)
        if not validity.holds_at(signed_at, self.settings.pki_require_crl):  # only then find out why
            try:
                check_path_at(path, signed_at, self.crls, self.settings)
            except SignatureRejected as exc:
                return f"its certificate {exc.message}"
        return None

    def _path(self, der: bytes) -> tuple[list[x509.Certificate] | None, str | None]:
        if der not in self._paths:
            try:
                cert = x509.load_der_x509_certificate(der)
                check_signer_usage(cert)
                self._paths[der] = (build_path(cert, [], self.trust), None)
            except SignatureRejected as exc:
                self._paths[der] = (None, exc.message)
            except ValueError as exc:
                self._paths[der] = (None, f"cannot be read: {exc}")
        return self._paths[der]
