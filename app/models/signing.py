"""Digital signatures: the certificates the portal knows for its signing users and organization seals
(with the PIN-protected private key for remote signing), and the revocation lists an administrator loaded.

Private keys of the CAs and seals live in the PKI folder, not here (see ``app/signing/pki.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

PURPOSES = ("personal", "seal")


class SigningCertificate(Base):
    """An X.509 signing certificate registered for one user (``personal``) or organization (``seal``).

    ``encrypted_key`` holds the user's private key wrapped with the signing PIN when the portal signs on
    the user's behalf (remote signing); it is empty for certificates whose key only the client holds."""

    __tablename__ = "signing_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    organization: Mapped[str] = mapped_column(String(32), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(500))
    serial: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    der: Mapped[bytes] = mapped_column(LargeBinary)
    encrypted_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    registered_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class RevocationList(Base):
    """A CRL loaded by an administrator (``portal pki crl load``); the newest per issuer is the one used."""

    __tablename__ = "revocation_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500), index=True)
    number: Mapped[int | None]
    this_update: Mapped[datetime]
    next_update: Mapped[datetime | None]
    der: Mapped[bytes] = mapped_column(LargeBinary)
    loaded_at: Mapped[datetime]


class SigningPinGuard(Base):
    """Wrong signing PINs of one user in a row, and until when the user's remote signing is locked.

    Written in its own small transaction (``app/signing/pin_guard.py``), so the count survives the refused
    command's rollback and holds across every portal process."""

    __tablename__ = "signing_pin_guards"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, autoincrement=False)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
