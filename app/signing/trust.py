"""What the portal trusts: root certificates (trust anchors), known issuing CAs, and loaded CRLs.

By default the demo PKI's own root and issuing CAs; production sets ``PORTAL_PKI_TRUST_ANCHORS`` and
``PORTAL_PKI_INTERMEDIATES`` to PEM files of the real CAs (several files separated by the OS path
separator). CRLs are loaded by an administrator into the database, so every portal process sees them."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
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


TRUST_RECHECK_SECONDS = 2.0
_trust_cache: dict[tuple[str, str, str], tuple[float, TrustStore]] = {}


def load_trust(settings: Settings) -> TrustStore:
    """The trust store for these settings, re-read when one of its files changed (a process looks at the
    files' modification times at most every ``TRUST_RECHECK_SECONDS``, as it does for CRLs)."""
    key = (settings.pki_trust_anchors, settings.pki_intermediates, str(settings.pki_dir))
    cached = _trust_cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < TRUST_RECHECK_SECONDS:
        return cached[1]
    anchors = _paths(settings.pki_trust_anchors, Path(settings.pki_dir) / "root-ca.pem")
    intermediates = _paths(settings.pki_intermediates, Path(settings.pki_dir) / "issuing-cas.pem")
    store = _load(tuple((p, _mtime(p)) for p in anchors), tuple((p, _mtime(p)) for p in intermediates))
    _trust_cache[key] = (now, store)
    return store


def forget_trust() -> None:
    """Look at the trust files again on the next ``load_trust`` (after ``portal pki init`` wrote them)."""
    _trust_cache.clear()


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
@dataclass(frozen=True)
class IndexedCrl:
    """One loaded CRL with its entries indexed by serial number (built once when the CRL is parsed)."""

    crl: x509.CertificateRevocationList
    revoked: dict[int, datetime]  # serial number -> revocation date (UTC)

    @classmethod
    def of(cls, crl: x509.CertificateRevocationList) -> IndexedCrl:
        return cls(crl, {entry.serial_number: entry.revocation_date_utc for entry in crl})

    @property
    def next_update(self) -> datetime | None:
        return self.crl.next_update_utc

    def revoked_on(self, serial: int) -> datetime | None:
        return self.revoked.get(serial)

    def expired_at(self, at: datetime) -> bool:
        """The CRL is past its ``nextUpdate`` at ``at``: its issuer promised a newer one by then."""
        next_update = self.crl.next_update_utc
        return next_update is not None and at > next_update


@dataclass(frozen=True)
class LoadedCrls:
    """The newest loaded CRL of each issuer (by the issuer's RFC 4514 name), and the newest CRL row's id:
    the generation, which changes whenever a CRL is loaded."""

    generation: int | None
    by_issuer: dict[str, IndexedCrl]
    # What ``verify.check_certificate`` worked out against these CRLs, by certificate SHA-256: (trust store,
    # path, validity), or (trust store, reason, None) for a certificate refused whatever the time.
    validities: dict[bytes, tuple] = field(default_factory=dict, compare=False, repr=False)

    def for_issuer(self, issuer: x509.Name) -> IndexedCrl | None:
        return self.by_issuer.get(issuer_key(issuer))


def issuer_key(name: x509.Name) -> str:
    """How a CRL's issuer is stored (``revocation_lists.issuer``) and looked up."""
    return name.rfc4514_string()[:500]


def current_crl(session: Session, issuer: x509.Name) -> x509.CertificateRevocationList | None:
    """The newest CRL loaded for ``issuer``, or None."""
    loaded = current_crls(session).for_issuer(issuer)
    return loaded.crl if loaded is not None else None


CRL_RECHECK_SECONDS = 2.0
_crl_cache: dict[str, tuple[float, LoadedCrls]] = {}


def current_crls(session: Session) -> LoadedCrls:
    """The newest loaded CRL of each issuer, parsed and indexed once per process.

    A process looks for newly loaded CRLs at most every ``CRL_RECHECK_SECONDS`` (one ``max(id)`` query),
    and at once after it loaded one itself: a revocation reaches every portal process within seconds."""
    url = str(session.get_bind().url)
    cached = _crl_cache.get(url)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CRL_RECHECK_SECONDS:
        return cached[1]
    table = RevocationList.__table__  # Core, so the check does not flush the command's pending changes
    newest = session.execute(_NEWEST_CRL).scalar()
    if cached is not None and cached[1].generation == newest:
        _crl_cache[url] = (now, cached[1])
        return cached[1]
    by_issuer: dict[str, IndexedCrl] = {}
    for issuer, der in session.execute(
        select(table.c.issuer, table.c.der).order_by(table.c.this_update, table.c.id)
    ):
        by_issuer[issuer] = IndexedCrl.of(x509.load_der_x509_crl(der))  # the newest per issuer wins
    loaded = LoadedCrls(newest, by_issuer)
    _crl_cache[url] = (now, loaded)
    return loaded


_NEWEST_CRL = select(func.max(RevocationList.__table__.c.id))


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
    return load_crl(session, settings, data, str(path), now)


def load_crl(
    session: Session, settings: Settings, data: bytes, source: str, now: datetime | None = None
) -> RevocationList:
    """Check a CRL (PEM or DER bytes, read from ``source``) against its CA and store it; an identical CRL
    already loaded is returned as it is."""
    path = source
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
