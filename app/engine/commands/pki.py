"""The PKI administrator's actions as commands: issue or register a user's signing certificate, revoke
one, load a CRL. Each runs in the executor's transaction and appends an audit event (sealed into the
chain like every other command's), so who changed what the portal trusts, and when, is on the record.

The events carry no consignment; their data names the user, the certificate (SHA-256, serial, subject,
validity) or the CRL (issuer, number, validity, SHA-256 of its DER). Nothing secret goes in: no PIN, no
key. The CRL and certificate files themselves (``pki.revoke`` writes the demo CA's new CRL) are written
inside the command; if its transaction then fails, the file is rewritten the next time and loading it
again is idempotent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from sqlalchemy import select

from app.models import RevocationList, SigningCertificate, User
from app.signing import pki
from app.signing.errors import PkiError
from app.signing.trust import load_crl

from ..executor import CommandContext


@dataclass(frozen=True)
class IssuedCertificate:
    """What the administrator is told about a certificate (the row's plain values, no session needed)."""

    id: int
    fingerprint: str
    subject: str
    serial: str
    not_after: datetime
    der: bytes


@dataclass(frozen=True)
class LoadedCrl:
    issuer: str
    number: int | None
    next_update: datetime | None
    revoked: int
    expired: bool  # already past its nextUpdate by the portal's clock when loaded


@dataclass
class IssueCertificate:
    """Issue ``username`` a signing certificate from its organization's CA: with ``pin`` the portal makes
    and keeps the key wrapped with the PIN (remote signing); with ``csr_pem`` the user keeps the key."""

    username: str
    pin: str | None = None
    csr_pem: bytes | None = None
    days: int = 730
    not_before: datetime | None = None
    not_after: datetime | None = None

    def execute(self, ctx: CommandContext) -> IssuedCertificate:
        user_id = _user_id(ctx, self.username)
        retired = [
            fp
            for (fp,) in ctx.session.execute(
                select(SigningCertificate.fingerprint).where(
                    SigningCertificate.user_id == user_id, SigningCertificate.retired_at.is_(None)
                )
            )
        ]
        row = pki.issue_user_certificate(
            ctx.session,
            ctx.settings,
            self.username,
            pin=self.pin,
            csr_pem=self.csr_pem,
            days=self.days,
            now=ctx.now,
            not_before=self.not_before,
            not_after=self.not_after,
        )
        ctx.record(
            None,
            "certificate_issued",
            {
                **_certificate_data(self.username, row),
                "remote_signing": row.encrypted_key is not None,
                "retired": retired,
            },
        )
        return _issued(row)


@dataclass
class RegisterCertificate:
    """Register a certificate a trusted (real) CA issued to ``username``; the user keeps the key."""

    username: str
    pem: bytes

    def execute(self, ctx: CommandContext) -> IssuedCertificate:
        _user_id(ctx, self.username)
        row = pki.register_certificate(ctx.session, ctx.settings, self.username, self.pem, now=ctx.now)
        ctx.record(None, "certificate_registered", _certificate_data(self.username, row))
        return _issued(row)


@dataclass
class RevokeCertificate:
    """Revoke ``username``'s current signing certificate (demo CAs): add it to its CA's CRL, write the
    new CRL and load it."""

    username: str

    def execute(self, ctx: CommandContext) -> tuple[IssuedCertificate, str]:
        row = ctx.session.scalar(
            select(SigningCertificate)
            .join(User, User.id == SigningCertificate.user_id)
            .where(User.username == self.username, SigningCertificate.retired_at.is_(None))
            .order_by(SigningCertificate.id.desc())
        )
        if row is None:
            raise PkiError(f"{self.username!r} has no current signing certificate", field="username")
        path = pki.revoke(ctx.session, ctx.settings, row, now=ctx.now)
        crl = _newest_crl(ctx, row.issuer)
        ctx.record(
            None,
            "certificate_revoked",
            {**_certificate_data(self.username, row), "revoked_at": _iso(ctx.now), "crl": _crl_data(crl)},
        )
        return _issued(row), str(path)


@dataclass
class LoadCrl:
    """Check a CRL (PEM or DER) against the trusted CA that signed it and use it from now on."""

    data: bytes
    source: str

    def execute(self, ctx: CommandContext) -> LoadedCrl:
        row = load_crl(ctx.session, ctx.settings, self.data, self.source, ctx.now)
        crl = x509.load_der_x509_crl(row.der)
        ctx.record(None, "crl_loaded", {**_crl_data(row), "source": self.source[:300]})
        next_update = crl.next_update_utc
        return LoadedCrl(
            row.issuer,
            row.number,
            next_update,
            len(list(crl)),
            next_update is not None and ctx.now > next_update,
        )


def _user_id(ctx: CommandContext, username: str) -> int:
    user_id = ctx.session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise PkiError(f"no user {username!r}", field="username")
    return user_id


def _newest_crl(ctx: CommandContext, issuer: str) -> RevocationList | None:
    return ctx.session.scalar(
        select(RevocationList)
        .where(RevocationList.issuer == issuer)
        .order_by(RevocationList.this_update.desc(), RevocationList.id.desc())
        .limit(1)
    )


def _certificate_data(username: str, row: SigningCertificate) -> dict[str, Any]:
    return {
        "user": username,
        "organization": row.organization,
        "certificate": row.fingerprint,
        "serial": row.serial,
        "subject": row.subject,
        "issuer": row.issuer,
        "not_before": _iso(row.not_before),
        "not_after": _iso(row.not_after),
    }


def _crl_data(row: RevocationList | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "issuer": row.issuer,
        "number": row.number,
        "this_update": _iso(row.this_update),
        "next_update": _iso(row.next_update) if row.next_update else None,
        "sha256": hashlib.sha256(row.der).hexdigest(),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _issued(row: SigningCertificate) -> IssuedCertificate:
    return IssuedCertificate(row.id, row.fingerprint, row.subject, row.serial, row.not_after, row.der)
