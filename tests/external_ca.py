"""A certification authority outside the portal, as production has them (a root and an issuing CA, made
here with ``cryptography``): it issues signing certificates for the portal's users and publishes CRLs.
The portal trusts it only when configured to (PORTAL_PKI_TRUST_ANCHORS, PORTAL_PKI_INTERMEDIATES)."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from app.signing import keys

VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2028, 1, 1, tzinfo=UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Trust Services JSC"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(subject: x509.Name, key, issuer: x509.Name, issuer_key, path_length: int | None) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL + timedelta(days=365))
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
        .sign(issuer_key, hashes.SHA256())
    )


class ExternalCa:
    """Root + issuing CA; ``issue`` certifies a user's own key, ``crl`` publishes a CRL of either CA."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.root_key, self.issuing_key = keys.new_signing_key(), keys.new_signing_key()
        root_name, issuing_name = _name("Example Root CA G1"), _name("Example Signing CA G1")
        self.root = _ca(root_name, self.root_key, root_name, self.root_key, None)
        self.issuing = _ca(issuing_name, self.issuing_key, root_name, self.root_key, 0)
        self.root_pem = folder / "example-root.pem"
        self.issuing_pem = folder / "example-issuing.pem"
        self.root_pem.write_bytes(self.root.public_bytes(Encoding.PEM))
        self.issuing_pem.write_bytes(self.issuing.public_bytes(Encoding.PEM))

    def trust_env(self, pki_dir: Path) -> dict[str, str]:
        """The environment of a portal that trusts this CA besides its own demo PKI."""
        return {
            "PORTAL_PKI_TRUST_ANCHORS": os.pathsep.join([str(pki_dir / "root-ca.pem"), str(self.root_pem)]),
            "PORTAL_PKI_INTERMEDIATES": os.pathsep.join(
                [str(pki_dir / "issuing-cas.pem"), str(self.issuing_pem)]
            ),
        }

    def trust_settings(self, pki_dir: Path) -> dict[str, str]:
        env = self.trust_env(pki_dir)
        return {
            "pki_trust_anchors": env["PORTAL_PKI_TRUST_ANCHORS"],
            "pki_intermediates": env["PORTAL_PKI_INTERMEDIATES"],
        }

    def issue(self, username: str, display_name: str) -> UserKey:
        key = keys.new_signing_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                        x509.NameAttribute(NameOID.COMMON_NAME, display_name),
                        x509.NameAttribute(NameOID.USER_ID, username),
                    ]
                )
            )
            .issuer_name(self.issuing.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(VALID_FROM)
            .not_valid_after(VALID_UNTIL)
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
            .sign(self.issuing_key, hashes.SHA256())
        )
        path = self.folder / f"{username}.pem"
        path.write_bytes(cert.public_bytes(Encoding.PEM))
        return UserKey(key, cert, path)

    def crl(
        self,
        name: str,
        *,
        of_root: bool = False,
        this_update: datetime,
        next_update: datetime,
        revoked: tuple[tuple[x509.Certificate, datetime], ...] = (),
    ) -> Path:
        """Write a CRL of the issuing CA (or of the root, ``of_root``) and return its file."""
        ca, ca_key = (self.root, self.root_key) if of_root else (self.issuing, self.issuing_key)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.subject)
            .last_update(this_update)
            .next_update(next_update)
        )
        for cert, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(when)
                .build()
            )
        path = self.folder / name
        path.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(Encoding.PEM))
        return path


class UserKey:
    """A user's own key and the certificate the external CA issued for it."""

    def __init__(self, key, cert: x509.Certificate, path: Path) -> None:
        self.key, self.cert, self.path = key, cert, path
        self.pem = cert.public_bytes(Encoding.PEM).decode("ascii")

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(keys.sign(self.key, payload)).decode("ascii")
