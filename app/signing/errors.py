"""The one error a refused signature raises: it names the field (pin, signature, certificate, signed_at)."""

from __future__ import annotations

from app.engine.errors import PortalError


class SignatureRejected(PortalError):
    """The step needs a valid signature and this one is missing or does not hold; nothing was saved."""

    status = 422
    code = "signature_rejected"


class PkiError(PortalError):
    """The PKI folder or a certificate file is missing, unreadable or inconsistent."""

    code = "pki_error"
