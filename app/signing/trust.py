"""What the portal trusts: root certificates (trust anchors), known issuing CAs, and loaded CRLs.

By default the demo PKI's own root and issuing CAs; production sets ``PORTAL_PKI_TRUST_ANCHORS`` and
``PORTAL_PKI_INTERMEDIATES`` to PEM files of the real CAs (several files separated by the OS path
separator). CRLs are loaded by an administrator into the database, so every portal process sees them."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.hashes import SHA256
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import RevocationList
from app.settings import Settings

from .errors import PkiError

_SHA256 = SHA256()


@dataclass(frozen=True)
class TrustStore:
    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]

    @functools.cached_property
    def anchor_fingerprints(self) -> frozenset[bytes]:
        return frozenset(c.fingerprint(_SHA256) for c in self.anchors)

    @functools.cached_property
    def by_subject(self) -> dict[bytes, list[x509.Certificate]]:
        index: dict[bytes, list[x509.Certificate]] = {}
        for cert in (*self.anchors, *self.intermediates):
            index.setdefault(cert.subject.public_bytes(), []).append(cert)
        return index

    @functools.cached_property
    def paths(self) -> dict[bytes, object]:
        """Certificate paths already built against this store, by the signer certificate's SHA-256."""
        return {}

    def issuers_of(self, name: x509.Name) -> list[x509.Certificate]:
        return self.by_subject.get(name.public_bytes(), [])

    def is_anchor(self, cert: x509.Certificate) -> bool:
        return cert.fingerprint(_SHA256) in self.anchor_fingerprints


def _paths(value: str, default: Path) -> tuple[Path, ...]:
    return tuple(Path(p) for p in value.split(os.pathsep) if p) if value else (default,)


def load_trust(settings: Settings) -> TrustStore:
    """The trust store for these settings (re-read when a file changes)."""
    anchors = _paths(settings.pki_trust_anchors, Path(settings.pki_dir) / "root-ca.pem")
    intermediates = _paths(settings.pki_intermediates, Path(settings.pki_dir) / "issuing-cas.pem")
    return _load(tuple((p, _mtime(p)) for p in anchors), tuple((p, _mtime(p)) for p in intermediates))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


@functools.lru_cache(maxsize=8)
def _load(
    anchors: tuple[tuple[Path, float], ...], intermediates: tuple[tuple[Path, float], ...]
) -> TrustStore:
    return TrustStore(_read_all(anchors, required=True), _read_all(intermediates, required=False))


def _read_all(files: tuple[tuple[Path, float], ...], required: bool) -> tuple[x509.Certificate, ...]:
    certs: list[x509.Certificate] = []
    for path, mtime in files:
        if mtime < 0:
            if required:
                raise PkiError(
                    f"trust anchors {path} are missing: run 'portal pki init' or set PORTAL_PKI_TRUST_ANCHORS"
                )
            continue
        try:
            certs.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except ValueError as exc:
            raise PkiError(f"{path} is not a PEM certificate bundle: {exc}") from None
    return tuple(certs)


# -- revocation lists -----------------------------------------------------------------------------------
def current_crl(session: Session, issuer: x509.Name) -> x509.CertificateRevocationList | None:
    """The newest CRL loaded for ``issuer``, or None."""
    return current_crls(session).get(issuer.rfc4514_string()[:500])


CRL_RECHECK_SECONDS = 2.0
_crl_cache: dict[str, tuple[float, int | None, dict[str, x509.CertificateRevocationList]]] = {}


def current_crls(session: Session) -> dict[str, x509.CertificateRevocationList]:
    """The newest loaded CRL of each issuer, parsed once per process.

    A process looks for newly loaded CRLs at most every ``CRL_RECHECK_SECONDS`` (one ``max(id)`` query),
    and at once after it loaded one itself: a revocation reaches every portal process within seconds."""
    url = str(session.get_bind().url)
    cached = _crl_cache.get(url)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CRL_RECHECK_SECONDS:
        return cached[2]
    table = RevocationList.__table__  # Core, so the check does not flush the command's pending changes
    newest = session.execute(select(func.max(table.c.id))).scalar()
    if cached is not None and cached[1] == newest:
        _crl_cache[url] = (now, newest, cached[2])
        return cached[2]
    by_issuer: dict[str, x509.CertificateRevocationList] = {}
    for issuer, der in session.execute(
        select(table.c.issuer, table.c.der).order_by(table.c.this_update, table.c.id)
    ):
        by_issuer[issuer] = x509.load_der_x509_crl(der)  # the newest per issuer wins
    _crl_cache[url] = (now, newest, by_issuer)
    return by_issuer


def load_crl_file(
    session: Session, settings: Settings, path: Path, now: datetime | None = None
) -> RevocationList:
    """Check a CRL file (PEM or DER) against the CA that issued it and store it for every process.

    :raises PkiError: missing or unreadable file, unknown issuer, bad signature.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PkiError(f"cannot read {path}: {exc.strerror or exc}", field="file") from None
    try:
        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise PkiError(f"{path} is not a CRL: {exc}", field="file") from None
    trust = load_trust(settings)
    issuers = [ca for ca in trust.issuers_of(crl.issuer) if crl.is_signature_valid(ca.public_key())]
    if not issuers:
        raise PkiError(
            f"{path}: no trusted CA named {crl.issuer.rfc4514_string()} signed this CRL", field="file"
        )
    der = crl.public_bytes(serialization.Encoding.DER)
    existing = session.scalar(select(RevocationList).where(RevocationList.der == der))
    if existing is not None:
        return existing
    number = _number(crl)
    row = RevocationList(
        issuer=crl.issuer.rfc4514_string()[:500],
        number=number,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        der=der,
        loaded_at=now or datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    _crl_cache.pop(str(session.get_bind().url), None)  # this process sees it at once
    return row


def _number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None
