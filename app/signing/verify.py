"""Check a signer's certificate and signature: the path to a trusted root, each certificate's validity at
the signing time, key usage, revocation (loaded CRLs), and the signature over the exact payload bytes.

Path building stays simple on purpose: the signer's certificate, then issuers found by name among the
certificates the signer sent and the configured issuing CAs, each verified with its issuer's key, until a
trust anchor is reached (at most four levels).

**CRLs past their nextUpdate.** A CRL whose ``nextUpdate`` has passed at the checked moment is not
current: its CA promised a newer one, and revocations since then are unknown. With
``PORTAL_PKI_REQUIRE_CRL=true`` such a certificate is refused (field ``certificate``: "the CRL of … expired
on …"), exactly as one whose CA has no CRL loaded. Without it the expired CRL still counts — a revocation it
lists is still a revocation — and the portal logs a warning once per CRL and process.

**The live path works each certificate out once.** ``check_certificate`` keeps, per certificate, trust
store and set of loaded CRLs, the usage check, the path and its ``Validity`` window (``path_validity``);
a check then only compares the moment with the window, and runs the full ``check_path_at`` only to name
the reason when the moment falls outside. A property test checks that the window decides every moment as
``check_path_at`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from sqlalchemy.orm import Session

from app.settings import Settings

from . import keys
from .errors import SignatureRejected
from .trust import IndexedCrl, LoadedCrls, TrustStore, current_crls

log = logging.getLogger(__name__)

MAX_PATH = 4


def build_path(
    cert: x509.Certificate, extra: list[x509.Certificate], trust: TrustStore
) -> list[x509.Certificate]:
    """Return [signer, issuing CA, ..., trust anchor].

    :raises SignatureRejected: field ``certificate`` when no path reaches a trust anchor.
    """
    if not extra:  # the common case: a registered certificate, issued by a configured CA
        memo = trust.paths
        key = cert.fingerprint(SHA256())
        if key not in memo:
            try:
                memo[key] = _build_path(cert, [], trust)
            except SignatureRejected as exc:
                memo[key] = exc
        if isinstance(memo[key], SignatureRejected):
            raise memo[key]
        return list(memo[key])
    return _build_path(cert, extra, trust)


def _build_path(
    cert: x509.Certificate, extra: list[x509.Certificate], trust: TrustStore
) -> list[x509.Certificate]:
    by_subject: dict[bytes, list[x509.Certificate]] = {}
    for candidate in extra:
        by_subject.setdefault(candidate.subject.public_bytes(), []).append(candidate)
    path = [cert]
    while not trust.is_anchor(path[-1]):
        if len(path) > MAX_PATH:
            break
        current = path[-1]
        candidates = [*trust.issuers_of(current.issuer), *by_subject.get(current.issuer.public_bytes(), [])]
        issuer = next((c for c in candidates if _issued(current, c)), None)
        if issuer is None:
            break
        if issuer is not current and len(path) > 1 and not _is_ca(issuer):
            break
        path.append(issuer)
        if issuer == current:  # self-signed but not one of our anchors
            break
    if not trust.is_anchor(path[-1]):
        raise SignatureRejected(
            f"not issued by a trusted CA (issuer: {cert.issuer.rfc4514_string()})", field="certificate"
        )
    for ca in path[1:]:
        if not _is_ca(ca):
            raise SignatureRejected(
                f"{ca.subject.rfc4514_string()} is not a CA certificate", field="certificate"
            )
    return path


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):  # TypeError: an unsupported key type
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_signer_usage(cert: x509.Certificate) -> None:
    """The signer's certificate is an end-entity certificate allowed to sign (digitalSignature or
    nonRepudiation).

    :raises SignatureRejected: field ``certificate``.
    """
    if _is_ca(cert):
        raise SignatureRejected("a CA certificate cannot sign decisions", field="certificate")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise SignatureRejected(
            "has no key usage extension; a signing certificate needs digitalSignature or nonRepudiation",
            field="certificate",
        ) from None
    if not (usage.digital_signature or usage.content_commitment):
        raise SignatureRejected(
            "its key usage does not allow signing (needs digitalSignature or nonRepudiation)",
            field="certificate",
        )


@dataclass(frozen=True)
class Validity:
    """When signatures with one certificate path are good, as far as the certificates and the loaded CRLs
    tell: from the latest ``notBefore`` of the path to its earliest ``notAfter`` or revocation date, with
    the CRLs current until the earliest of their ``nextUpdate``."""

    start: datetime
    end: datetime  # exclusive: the earliest notAfter + 1 µs, or the earliest revocation date
    crls_current_until: datetime | None  # the earliest nextUpdate of the CRLs used (None: none has one)
    crl_missing: bool  # a CA of the path has no CRL loaded

    def holds_at(self, at: datetime, require_crl: bool) -> bool:
        """The path is good at ``at`` with nothing to say; False: ``check_path_at`` tells exactly why."""
        if not self.start <= at < self.end:
            return False
        return not (require_crl and (self.crl_missing or self.crls_expired_at(at)))

    def crls_expired_at(self, at: datetime) -> bool:
        return self.crls_current_until is not None and at > self.crls_current_until


def path_validity(path: list[x509.Certificate], crls: LoadedCrls) -> Validity:
    """Work out once what ``check_path_at`` would decide for any moment."""
    start = max(c.not_valid_before_utc for c in path)
    end = min(c.not_valid_after_utc for c in path) + timedelta(microseconds=1)
    current_until: datetime | None = None
    missing = False
    for cert, issuer in zip(path, path[1:], strict=False):
        crl = crls.for_issuer(issuer.subject)
        if crl is None:
            missing = True
            continue
        revoked_on = crl.revoked_on(cert.serial_number)
        if revoked_on is not None:
            end = min(end, revoked_on)
        if crl.next_update is not None:
            current_until = crl.next_update if current_until is None else min(current_until, crl.next_update)
    return Validity(start, end, current_until, missing)


def check_path_at(
    path: list[x509.Certificate], at: datetime, crls: LoadedCrls, settings: Settings
) -> list[IndexedCrl]:
    """Every certificate of the path is valid at ``at`` and none was revoked before ``at``; return the
    CRLs used that were past their ``nextUpdate`` at ``at``.

    A CRL past its ``nextUpdate`` is not current: with ``PORTAL_PKI_REQUIRE_CRL=true`` the certificate is
    refused as if no CRL were loaded; otherwise its entries still count (a revocation it lists stays a
    revocation) and the caller logs a warning.

    :raises SignatureRejected: field ``certificate``.
    """
    for position, cert in enumerate(path):
        whose = "" if position == 0 else f"its issuing CA {cert.subject.rfc4514_string()} "
        if at < cert.not_valid_before_utc:
            raise SignatureRejected(
                f"{whose}is not valid before {cert.not_valid_before_utc.isoformat()}", field="certificate"
            )
        if at > cert.not_valid_after_utc:
            raise SignatureRejected(
                f"{whose}expired on {cert.not_valid_after_utc.isoformat()}", field="certificate"
            )
    expired: list[IndexedCrl] = []
    for cert, issuer in zip(path, path[1:], strict=False):
        crl = crls.for_issuer(issuer.subject)
        if crl is None:
            if settings.pki_require_crl:
                raise SignatureRejected(
                    f"no CRL is loaded for {issuer.subject.rfc4514_string()}; cannot check revocation",
                    field="certificate",
                )
            continue
        revoked_on = crl.revoked_on(cert.serial_number)
        if revoked_on is not None and revoked_on <= at:
            whose = "" if cert is path[0] else f"its issuing CA {cert.subject.rfc4514_string()} "
            raise SignatureRejected(f"{whose}was revoked on {revoked_on.isoformat()}", field="certificate")
        if crl.expired_at(at):
            if settings.pki_require_crl:
                raise SignatureRejected(
                    f"the CRL of {issuer.subject.rfc4514_string()} expired on "
                    f"{crl.next_update.isoformat()} (its nextUpdate); cannot check revocation until a "
                    "current one is loaded (portal pki crl load)",
                    field="certificate",
                )
            expired.append(crl)
    return expired


def check_certificate(
    cert: x509.Certificate,
    extra: list[x509.Certificate],
    trust: TrustStore,
    session: Session,
    at: datetime,
    settings: Settings,
    fingerprint: bytes | None = None,
) -> list[x509.Certificate]:
    """Usage, path, validity and revocation of a signer's certificate at ``at``; return the path.

    For a certificate without extra chain certificates (a registered one, issued by a configured CA) the
    usage check, the path and its validity window are worked out once per certificate, trust store and
    set of loaded CRLs; each call then compares ``at`` with the window, and only when it falls outside
    does ``check_path_at`` run to name the reason. ``fingerprint`` is the certificate's SHA-256 when the
    caller already has it."""
    crls = current_crls(session)
    if extra:
        check_signer_usage(cert)
        path = build_path(cert, extra, trust)
        validity = path_validity(path, crls)
    else:
        key = fingerprint or cert.fingerprint(SHA256())
        entry = crls.validities.get(key)
        if entry is None or entry[0] is not trust:
            try:
                check_signer_usage(cert)
                found = build_path(cert, [], trust)
                entry = (trust, found, path_validity(found, crls))
            except SignatureRejected as exc:
                entry = (trust, exc.message, None)
            crls.validities[key] = entry
        if entry[2] is None:
            raise SignatureRejected(entry[1], field="certificate")
        path, validity = entry[1], entry[2]
    if not validity.holds_at(at, settings.pki_require_crl):
        expired = check_path_at(path, at, crls, settings)  # raises with the exact reason
    elif validity.crls_expired_at(at):
        expired = [c for c in map(crls.for_issuer, (ca.subject for ca in path[1:])) if c and c.expired_at(at)]
    else:
        return list(path)
    for crl in expired:
        _warn_expired(crl, crls.generation)
    return list(path)


_warned: set[tuple[bytes, int | None]] = set()


def _warn_expired(crl: IndexedCrl, generation: int | None) -> None:
    """Say once per process and CRL that revocation is checked against a CRL past its nextUpdate."""
    key = (crl.crl.fingerprint(SHA256()), generation)
    if key not in _warned:
        _warned.add(key)
        log.warning(
            "the CRL of %s expired on %s (its nextUpdate): revocation is checked against it, but it may "
            "miss recent revocations; load a current one (portal pki crl load), or set "
            "PORTAL_PKI_REQUIRE_CRL=true to refuse signatures until then",
            crl.crl.issuer.rfc4514_string(),
            crl.next_update.isoformat() if crl.next_update else "?",
        )


def check_signature(cert: x509.Certificate, signature: bytes, payload: bytes) -> None:
    """:raises SignatureRejected: field ``signature`` when it does not verify over ``payload``."""
    if not keys.signature_holds(cert.public_key(), signature, payload):
        raise SignatureRejected(
            "does not verify: it was made with another key than the certificate's, or over other bytes "
            "than this submission's signing payload",
            field="signature",
        )
