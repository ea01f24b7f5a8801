"""Connector to the fee payment gateway: capture the inspection fee."""

from __future__ import annotations

from typing import Any

from app.tasks.base import HttpConnector, expect_fields, require_fields


class CaptureFee(HttpConnector):
    """Capture a fee in VND from the trader."""

    topic = "payment.capture"

    def call(self, inputs: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Return ``{"payment_ref": ..., "status": "captured"}``."""
        payload = require_fields(self.topic, inputs, "declaration_no", "amount_vnd", "payer", "method")
        answer = self.post("/payments", payload, idempotency_key)
        return expect_fields(self.topic, answer, "payment_ref", "status")
