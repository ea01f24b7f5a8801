"""Connectors to the customs system (VNACCS): look up a declaration, clear the goods."""

from __future__ import annotations

from typing import Any

from app.tasks.base import HttpConnector, expect_fields, require_fields


class LookupDeclaration(HttpConnector):
    """Read a customs declaration's status: ``accepted``, ``cancelled`` or ``not_found``."""

    topic = "customs.lookup_declaration"

    def call(self, inputs: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Return ``{"declaration_no": ..., "status": ...}``."""
        payload = require_fields(self.topic, inputs, "declaration_no")
        answer = self.post("/declarations/lookup", payload, idempotency_key)
        result = expect_fields(self.topic, answer, "status")
        result["declaration_no"] = answer.get("declaration_no", payload["declaration_no"])
        return result


class ClearGoods(HttpConnector):
    """Clear a declaration once a passing inspection certificate is published."""

    topic = "customs.clear"

    def call(self, inputs: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Return ``{"clearance_no": ...}``; a cancelled declaration raises ``BusinessError``."""
        payload = require_fields(self.topic, inputs, "declaration_no", "certificate_no")
        answer = self.post("/clearances", payload, idempotency_key)
        return expect_fields(self.topic, answer, "clearance_no")
