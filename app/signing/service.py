"""What the rest of the portal calls to sign and to check signatures.

* ``sign_decision`` — inside ``CompleteWorkItem``: a step the model marks ``signature=required`` is signed
  either remotely (``PinSigning``: the portal opens the user's key with the PIN) or by the client
  (``ClientSigning``: a detached signature over the bytes of ``signing_payload`` plus the certificate);
* ``sign_remotely`` / ``verify_client_signature`` — the two paths on their own (the web form and the API);
* ``seal_system_decision`` — the portal's seal signs decisions no person makes (the clearance);
* ``StoredSignatureCheck`` — re-checks a stored signature for ``portal audit verify`` and the export.

Every refusal raises ``SignatureRejected`` naming the field (pin, signature, certificate, signed_at); the
command's transaction then rolls back, so nothing is completed."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.audit import EventSignature, StoredEvent
from app.models import Consignment, SigningCertificate, WorkItem
from app.settings import Settings

from . import keys, pki
from .errors import PkiError, SignatureRejected
from .payload import decision_payload, parse_signing_time, signing_time
from .trust import current_crl, load_trust
from .verify import build_path, check_certificate, check_path_at, check_signature, check_signer_usage


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

    :raises SignatureRejected: no remote-signing certificate, wrong PIN, expired or revoked certificate.
    """
    c = SigningCertificate.__table__.c  # a plain row: this runs on every signed completion
    row = session.execute(
        select(c.id, c.fingerprint, c.der, c.encrypted_key)
        .where(
            c.user_id == user.user_id,
            c.purpose == "personal",
            c.retired_at.is_(None),
            c.encrypted_key.is_not(None),
        )
        .order_by(c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise SignatureRejected(
            "you have no remote-signing certificate; an administrator issues one (portal pki issue)",
            field="pin",
        )
    if not isinstance(pin, str) or not pin:
        raise SignatureRejected("type your signing PIN", field="pin")
    try:
        key = keys.unwrap_with_pin(
            row.encrypted_key, pin, _pepper(settings.pki_passphrase), user.username.encode()
        )
    except keys.WrongPin:
        raise SignatureRejected("wrong signing PIN", field="pin") from None
    cert = _certificate(row.der)
    check_certificate(cert, [], _trust(settings), session, at, settings)
    signature = keys.sign(key, payload)
    check_signature(cert, signature, payload)
    return signature, row


def verify_client_signature(
    session: Session,
    settings: Settings,
    user: Signer,
    signing: ClientSigning,
    build_payload,
    now: datetime,
) -> tuple[bytes, bytes, SigningCertificate]:
    """Check a client's detached signature; return (payload, signature, registered certificate).

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
    check_certificate(cert, chain[1:], _trust(settings), session, signed_at, settings)
    row = session.scalar(
        select(SigningCertificate).where(SigningCertificate.fingerprint == pki.fingerprint(cert))
    )
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


def seal_system_decision(
    ctx, consignment: Consignment, task_id: str, step_id: str, step_name: str, data: dict[str, Any]
) -> EventSignature:
    """Sign a decision the portal takes on its own (the clearance) with the portal organization's seal."""
    settings, session = ctx.settings, ctx.session
    organization = settings.pki_system_organization
    cert, key = _seal(str(settings.pki_dir), organization, settings.pki_passphrase, _seal_mtime(settings))
    fingerprint = pki.fingerprint(cert)
    c = SigningCertificate.__table__.c
    row = session.execute(select(c.id, c.fingerprint).where(c.fingerprint == fingerprint)).first()
    if row is None:
        row = pki._register(session, cert, organization, None, "seal", None, ctx.now)
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
    check_certificate(cert, [], _trust(settings), session, ctx.now, settings)
    signature = keys.sign(key, payload)
    return EventSignature(base64.b64encode(signature).decode("ascii"), payload, row.id, row.fingerprint)


def _seal_mtime(settings: Settings) -> float:
    try:
        return (pki.folder(settings).org_file(settings.pki_system_organization, "seal.pem")).stat().st_mtime
    except OSError:
        raise PkiError(
            f"the {settings.pki_system_organization} seal is missing; run 'portal pki init'"
        ) from None


@functools.lru_cache(maxsize=16)
def _seal(pki_dir: str, organization: str, passphrase: str, _mtime: float):
    return pki.seal_key(Settings(pki_dir=pki_dir, pki_passphrase=passphrase), organization)


@functools.lru_cache(maxsize=8)
def _pepper(passphrase: str) -> bytes:
    return keys.pepper(passphrase)


@functools.lru_cache(maxsize=1024)
def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


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
        self.window = timedelta(seconds=settings.signing_window_seconds)
        self._paths: dict[bytes, tuple[list[x509.Certificate] | None, str | None]] = {}
        self._crls: dict[bytes, x509.CertificateRevocationList | None] = {}
        self._windows: dict[bytes, tuple[datetime, datetime]] = {}

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
        start, end = self._window(der, path)
        if not start <= signed_at < end:  # only then find out exactly why
            try:
                check_path_at(path, signed_at, self.session, self.settings, self._crl)
            except SignatureRejected as exc:
                return f"its certificate {exc.message}"
        return None

    def _window(self, der: bytes, path: list[x509.Certificate]) -> tuple[datetime, datetime]:
        """When signatures with this certificate are good: every certificate of the path valid and none
        revoked yet (computed once per certificate)."""
        if der not in self._windows:
            start = max(c.not_valid_before_utc for c in path)
            end = min(c.not_valid_after_utc for c in path) + timedelta(microseconds=1)
            for cert, issuer in zip(path, path[1:], strict=False):
                crl = self._crl(issuer.subject)
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number) if crl else None
                if entry is not None:
                    end = min(end, entry.revocation_date_utc)
            if self.settings.pki_require_crl and any(self._crl(c.subject) is None for c in path[1:]):
                end = start  # always ask check_path_at, which names the missing CRL
            self._windows[der] = (start, end)
        return self._windows[der]

    def _crl(self, issuer: x509.Name) -> x509.CertificateRevocationList | None:
        key = issuer.public_bytes()
        if key not in self._crls:
            self._crls[key] = current_crl(self.session, issuer)
        return self._crls[key]

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
