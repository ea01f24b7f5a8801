"""Connector to the port operator's terminal system: move containers to the sampling area."""

from __future__ import annotations

from typing import Any

from app.tasks.base import HttpConnector, expect_fields, require_fields


class MoveContainers(HttpConnector):
    """Ask the port to move a consignment's containers; the position arrives later as a callback."""

    topic = "port.move_containers"

    def call(self, inputs: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Request the move and return ``{"move_ref": ...}``."""
        payload = require_fields(self.topic, inputs, "declaration_no", "containers")
        payload["containers"] = list(payload["containers"])
        payload["sampling_place"] = inputs.get("sampling_place")
        answer = self.post("/moves", payload, idempotency_key)
        return expect_fields(self.topic, answer, "move_ref")
