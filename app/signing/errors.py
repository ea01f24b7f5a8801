"""The one error a refused signature raises: it names the field (pin, signature, certificate, signed_at)."""

from __future__ import annotations

from typing import Any

from app.engine.errors import PortalError


class Reason(str):
    """A reason with values in it (a time, a count) that pages can still translate: it reads as the English
    text, and carries the catalog's ``template`` and its ``params`` (see ``app.forms.messages``)."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Reason:
        reason = super().__new__(cls, template % params)
        reason.template, reason.params = template, params
        return reason


class SignatureRejected(PortalError):
    """The step needs a valid signature and this one is missing or does not hold; nothing was saved."""

    status = 422
    code = "signature_rejected"


class PkiError(PortalError):
    """The PKI folder or a certificate file is missing, unreadable or inconsistent."""

    code = "pki_error"
