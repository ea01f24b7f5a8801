"""The demo PKI under the instance folder (``settings.pki_dir``), and the certificates the portal registers.

``portal pki init`` makes a root CA and one issuing CA per organization, plus an organization seal (a
certificate whose key the portal holds) for every agency, customs branch and the portal itself; all private
keys are encrypted with the PKI passphrase. ``portal pki issue USER`` gives a signing user an X.509
certificate (digitalSignature + nonRepudiation) from the organization's CA: either the portal makes the key
and keeps it wrapped with the user's PIN (remote signing), or the user sends a CSR and keeps the key.
``portal pki revoke`` revokes a demo certificate and loads the new CRL; ``portal pki crl load`` loads any
CA's CRL. In production the CAs are real ones: register their users' certificates (``portal pki register``)
and point the trust settings at their root and issuing certificates. The command line runs issue,
register, revoke and CRL load as commands (``app.engine.commands.pki``), so each leaves an audit event.

Layout::

    root-ca.pem  root-ca.key.pem  issuing-cas.pem (all issuing CAs, for verifiers)
    orgs/<CODE>/ca.pem ca.key.pem seal.pem seal.key.pem crl.pem revoked.json
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Organization, SigningCertificate, User
from app.settings import Settings

from . import keys
from .errors import PkiError

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336)
DEMO_VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)  # demo material is valid across the simulated clock
SEAL_KINDS = ("agency", "customs", "portal")
DEMO_SIGNING_ROLES = ("agency_officer", "branch_head", "customs_officer", "trader", "manager")
DEMO_PIN = "123456"


@dataclass
class PkiFolder:
    """Paths inside the PKI folder."""

    root: Path

    @property
    def root_cert(self) -> Path:
        return self.root / "root-ca.pem"

    @property
    def root_key(self) -> Path:
        return self.root / "root-ca.key.pem"

    @property
    def issuing_bundle(self) -> Path:
        return self.root / "issuing-cas.pem"

    def org(self, code: str) -> Path:
        return self.root / "orgs" / code

    def org_file(self, code: str, name: str) -> Path:
        return self.org(code) / name


@dataclass
class InitReport:
    created_root: bool = False
    created_cas: list[str] = field(default_factory=list)
    created_seals: list[str] = field(default_factory=list)


def folder(settings: Settings) -> PkiFolder:
    return PkiFolder(Path(settings.pki_dir))


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    if secret:
        os.chmod(tmp, 0o600)
    tmp.replace(path)


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise PkiError(f"{path} is missing: run 'portal pki init'") from None
    except ValueError as exc:
        raise PkiError(f"{path} is not a PEM certificate: {exc}") from None


def _load_key(path: Path, passphrase: str):
    try:
        return keys.load_encrypted_pem(path.read_bytes(), passphrase)
    except FileNotFoundError:
        raise PkiError(f"{path} is missing: run 'portal pki init'") from None
    except (ValueError, TypeError):
        raise PkiError(f"cannot open {path}: wrong PKI passphrase (PORTAL_PKI_PASSPHRASE)?") from None


def _name(common_name: str, organization: str | None = None, unit: str | None = None, uid: str | None = None):
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(organization)))
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _fit(unit)))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, _fit(common_name)))
    if uid:
        parts.append(x509.NameAttribute(NameOID.USER_ID, uid))
    return x509.Name(parts)


def _fit(text: str, limit: int = 64) -> str:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes (X.520's upper bound) without splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore").strip() or "-"


def _ca_cert(subject, public_key, issuer_cert, issuer_key, now: datetime, years: int, path_length):
    start = min(now - timedelta(days=1), DEMO_VALID_FROM)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def signing_certificate(
    subject: x509.Name,
    public_key,
    ca_cert: x509.Certificate,
    ca_key,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """An end-entity certificate for signing decisions: digitalSignature + nonRepudiation."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


# -- init -------------------------------------------------------------------------------------------------
def init_pki(session: Session, settings: Settings, now: datetime | None = None) -> InitReport:
    """Create what is missing of the demo PKI and register the organization seals (idempotent)."""
    now = now or datetime.now(UTC)
    pki, passphrase, report = folder(settings), settings.pki_passphrase, InitReport()
    if not pki.root_cert.exists():
        root_key = keys.new_signing_key()
        name = _name("Cat Lai Portal Demo Root CA", "Cat Lai specialized inspection portal (demo)")
        root = _ca_cert(name, root_key.public_key(), None, root_key, now, 20, None)
        _write(pki.root_key, keys.encrypted_pem(root_key, passphrase), secret=True)
        _write(pki.root_cert, root.public_bytes(serialization.Encoding.PEM))
        report.created_root = True
    root, root_key = _load_cert(pki.root_cert), None
    for org in session.scalars(select(Organization).order_by(Organization.code)):
        if not pki.org_file(org.code, "ca.pem").exists():
            root_key = root_key or _load_key(pki.root_key, passphrase)
            ca_key = keys.new_signing_key()
            name = _name(f"{org.code} Issuing CA (demo)", org.name, org.code)
            ca = _ca_cert(name, ca_key.public_key(), root, root_key, now, 10, 0)
            _write(pki.org_file(org.code, "ca.key.pem"), keys.encrypted_pem(ca_key, passphrase), secret=True)
            _write(pki.org_file(org.code, "ca.pem"), ca.public_bytes(serialization.Encoding.PEM))
            _write_crl(pki, org.code, passphrase, now)
            report.created_cas.append(org.code)
        if org.kind in SEAL_KINDS and not pki.org_file(org.code, "seal.pem").exists():
            _issue_seal(pki, org, passphrase, now)
            report.created_seals.append(org.code)
        if org.kind in SEAL_KINDS:
            _register(
                session, _load_cert(pki.org_file(org.code, "seal.pem")), org.code, None, "seal", None, now
            )
    _write_issuing_bundle(pki)
    from .trust import forget_trust, load_crl_file  # the CRLs of the CAs just made, for revocation checks

    forget_trust()  # the files just written are read at once, not after the trust store's next look

    for crl_path in sorted((pki.root / "orgs").glob("*/crl.pem")):
        load_crl_file(session, settings, crl_path, now)
    return report


def _issue_seal(pki: PkiFolder, org: Organization, passphrase: str, now: datetime) -> None:
    ca = _load_cert(pki.org_file(org.code, "ca.pem"))
    ca_key = _load_key(pki.org_file(org.code, "ca.key.pem"), passphrase)
    key = keys.new_signing_key()
    name = _name(f"{org.name} (seal)", org.name, org.code)
    start = min(now - timedelta(days=1), DEMO_VALID_FROM)
    cert = signing_certificate(name, key.public_key(), ca, ca_key, start, now + timedelta(days=365 * 5))
    _write(pki.org_file(org.code, "seal.key.pem"), keys.encrypted_pem(key, passphrase), secret=True)
    _write(pki.org_file(org.code, "seal.pem"), cert.public_bytes(serialization.Encoding.PEM))


def _write_issuing_bundle(pki: PkiFolder) -> None:
    pems = [p.read_bytes() for p in sorted((pki.root / "orgs").glob("*/ca.pem"))]
    _write(pki.issuing_bundle, b"".join(pems))


def seal_key(settings: Settings, organization: str):
    """The organization seal's certificate and private key (for system decisions and signed notices)."""
    pki = folder(settings)
    cert = _load_cert(pki.org_file(organization, "seal.pem"))
    return cert, _load_key(pki.org_file(organization, "seal.key.pem"), settings.pki_passphrase)


# -- user certificates ------------------------------------------------------------------------------------
def issue_user_certificate(
    session: Session,
    settings: Settings,
    username: str,
    *,
    pin: str | None = None,
    csr_pem: bytes | None = None,
    days: int = 730,
    now: datetime | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> SigningCertificate:
    """Issue a signing certificate to ``username`` from its organization's CA and register it.

    With ``pin`` the portal makes the key and keeps it wrapped with the PIN (remote signing); with
    ``csr_pem`` the user keeps the key and signs on its own side (API clients). The user's earlier
    certificates are retired (no longer used for new signatures; old signatures stay verifiable)."""
    now = now or datetime.now(UTC)
    user = _user(session, username)
    org = user.organization
    pki = folder(settings)
    ca = _load_cert(pki.org_file(org.code, "ca.pem"))
    ca_key = _load_key(pki.org_file(org.code, "ca.key.pem"), settings.pki_passphrase)
    wrapped = None
    if csr_pem is not None:
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise PkiError(f"the CSR is not a PEM certificate request: {exc}", field="csr") from None
        if not csr.is_signature_valid:
            raise PkiError("the CSR's signature does not verify", field="csr")
        public_key = csr.public_key()
    else:
        check_pin(pin)
        key = keys.new_signing_key()
        public_key = key.public_key()
        wrapped = keys.wrap_with_pin(key, pin, keys.pepper(settings.pki_passphrase), username.encode())
    subject = _name(user.display_name, org.name, org.code, user.username)
    start = not_before or min(now - timedelta(minutes=5), DEMO_VALID_FROM)
    cert = signing_certificate(
        subject, public_key, ca, ca_key, start, not_after or now + timedelta(days=days)
    )
    for old in session.scalars(
        select(SigningCertificate).where(
            SigningCertificate.user_id == user.id, SigningCertificate.retired_at.is_(None)
        )
    ):
        old.retired_at = now
    return _register(session, cert, org.code, user.id, "personal", wrapped, now)


def register_certificate(
    session: Session, settings: Settings, username: str, pem: bytes, now: datetime | None = None
) -> SigningCertificate:
    """Register a certificate a real CA issued to ``username`` (the user keeps the key)."""
    from .trust import load_trust
    from .verify import check_certificate

    now = now or datetime.now(UTC)
    user = _user(session, username)
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise PkiError(f"not a PEM certificate: {exc}", field="certificate") from None
    check_certificate(chain[0], chain[1:], load_trust(settings), session, now, settings)
    return _register(session, chain[0], user.organization.code, user.id, "personal", None, now)


def _register(session, cert, organization, user_id, purpose, wrapped, now) -> SigningCertificate:
    fp = fingerprint(cert)
    row = session.scalar(select(SigningCertificate).where(SigningCertificate.fingerprint == fp))
    if row is not None:
        return row
    row = SigningCertificate(
        fingerprint=fp,
        user_id=user_id,
        organization=organization,
        purpose=purpose,
        subject=cert.subject.rfc4514_string()[:500],
        issuer=cert.issuer.rfc4514_string()[:500],
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        der=cert.public_bytes(serialization.Encoding.DER),
        encrypted_key=wrapped,
        registered_at=now,
    )
    session.add(row)
    session.flush()
    return row


def check_pin(pin: str | None) -> None:
    if not pin or len(pin) < keys.MIN_PIN_LENGTH or len(pin) > 64:
        raise PkiError(f"the signing PIN must have {keys.MIN_PIN_LENGTH} to 64 characters", field="pin")


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise PkiError(f"no user {username!r}", field="username")
    return user


def issue_demo_certificates(session: Session, settings: Settings, pin: str = DEMO_PIN) -> int:
    """Give every demo user who works tasks a remote-signing certificate with the demo PIN."""
    issued = 0
    have = set(
        session.scalars(
            select(SigningCertificate.user_id).where(
                SigningCertificate.purpose == "personal", SigningCertificate.retired_at.is_(None)
            )
        )
    )
    now = datetime.now(UTC)
    for user in session.scalars(select(User).where(User.role.in_(DEMO_SIGNING_ROLES)).order_by(User.id)):
        if user.id not in have:
            issue_user_certificate(session, settings, user.username, pin=pin, days=5 * 365, now=now)
            issued += 1
    return issued


# -- revocation ----------------------------------------------------------------------------------------
def revoke(
    session: Session, settings: Settings, certificate: SigningCertificate, now: datetime | None = None
) -> Path:
    """Revoke a certificate issued by a demo CA: add it to the CA's CRL, write and load the new CRL."""
    from .trust import load_crl_file

    now = now or datetime.now(UTC)
    pki = folder(settings)
    code = certificate.organization
    ca = _load_cert(pki.org_file(code, "ca.pem"))
    if x509.load_der_x509_certificate(certificate.der).issuer != ca.subject:
        raise PkiError("this certificate was not issued by a demo CA; ask its CA to revoke it")
    revoked_file = pki.org_file(code, "revoked.json")
    revoked = json.loads(revoked_file.read_text()) if revoked_file.exists() else []
    if certificate.serial not in {r["serial"] for r in revoked}:
        revoked.append({"serial": certificate.serial, "at": now.isoformat()})
    _write(revoked_file, json.dumps(revoked, indent=1).encode())
    path = _write_crl(pki, code, settings.pki_passphrase, now)
    load_crl_file(session, settings, path, now)
    return path


def _write_crl(pki: PkiFolder, code: str, passphrase: str, now: datetime) -> Path:
    ca = _load_cert(pki.org_file(code, "ca.pem"))
    ca_key = _load_key(pki.org_file(code, "ca.key.pem"), passphrase)
    revoked_file = pki.org_file(code, "revoked.json")
    revoked = json.loads(revoked_file.read_text()) if revoked_file.exists() else []
    number_file = pki.org_file(code, "crl.number")
    number = int(number_file.read_text()) + 1 if number_file.exists() else 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(days=30))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry["serial"], 16))
            .revocation_date(datetime.fromisoformat(entry["at"]))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    path = pki.org_file(code, "crl.pem")
    _write(path, crl.public_bytes(serialization.Encoding.PEM))
    _write(number_file, str(number).encode())
    return path
