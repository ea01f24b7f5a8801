"""Check a signer's certificate and signature: the path to a trusted root, each certificate's validity at
the signing time, key usage, revocation (loaded CRLs), and the signature over the exact payload bytes.

Path building stays simple on purpose: the signer's certificate, then issuers found by name among the
certificates the signer sent and the configured issuing CAs, each verified with its issuer's key, until a
trust anchor is reached (at most four levels)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from sqlalchemy.orm import Session

from app.settings import Settings

from . import keys
from .errors import SignatureRejected
from .trust import TrustStore, current_crls

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


CrlLookup = Callable[[x509.Name], "x509.CertificateRevocationList | None"]


def check_path_at(
    path: list[x509.Certificate],
    at: datetime,
    session: Session,
    settings: Settings,
    crls: CrlLookup | None = None,
) -> None:
    """Every certificate of the path is valid at ``at`` and none was revoked before ``at``.

    ``crls`` finds the CRL of an issuer (default: the newest one loaded in the database).

    :raises SignatureRejected: field ``certificate``.
    """
    if crls is None:
        loaded = current_crls(session)  # one query for the whole path
        crls = lambda name: loaded.get(name.rfc4514_string()[:500])  # noqa: E731
    crl_for = crls
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
    for cert, issuer in zip(path, path[1:], strict=False):
        crl = crl_for(issuer.subject)
        if crl is None:
            if settings.pki_require_crl:
                raise SignatureRejected(
                    f"no CRL is loaded for {issuer.subject.rfc4514_string()}; cannot check revocation",
                    field="certificate",
                )
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None and entry.revocation_date_utc <= at:
            whose = "" if cert is path[0] else f"its issuing CA {cert.subject.rfc4514_string()} "
            raise SignatureRejected(
                f"{whose}was revoked on {entry.revocation_date_utc.isoformat()}", field="certificate"
            )


def check_certificate(
    cert: x509.Certificate,
    extra: list[x509.Certificate],
    trust: TrustStore,
    session: Session,
    at: datetime,
    settings: Settings,
) -> list[x509.Certificate]:
    """Usage, path, validity and revocation of a signer's certificate at ``at``; return the path."""
    check_signer_usage(cert)
    path = build_path(cert, extra, trust)
    check_path_at(path, at, session, settings)
    return path


def check_signature(cert: x509.Certificate, signature: bytes, payload: bytes) -> None:
    """:raises SignatureRejected: field ``signature`` when it does not verify over ``payload``."""
    if not keys.signature_holds(cert.public_key(), signature, payload):
        raise SignatureRejected(
            "does not verify: it was made with another key than the certificate's, or over other bytes "
            "than this submission's signing payload",
            field="signature",
        )
