"""The port operator's terminal system: moves containers to the sampling area, then reports their position."""

from __future__ import annotations

from typing import Any

from app.simulators.base import Body, Reply, Simulator, error, missing_strings
from app.simulators.callback import CallbackSender

CALLBACK_PATH = "/api/v1/port/container-positioned"
CONTAINER_NO_LENGTH = 11  # ISO 6346: owner code, category, serial, check digit
BLOCKS = "ABCDEF"


class PortSimulator(Simulator):
    """``POST /moves`` answers 202 at once; the position callback follows after `delay` seconds."""

    kind = "port"

    def __init__(
        self, *, delay: float = 0.5, portal_url: str | None = None, token: str | None = None
    ) -> None:
        super().__init__()
        if delay < 0:
            raise ValueError("delay must not be negative")
        self.delay = delay
        self.callbacks = CallbackSender(portal_url, token)
        self._moves = 0
        self._slots = 0
        self.add_route("POST", "/moves", self._move, mutating=True)
        self.add_route("GET", "/_sim/callbacks", self._list_callbacks, business=False)

    def close(self) -> None:
        """Cancel callbacks still waiting."""
        self.callbacks.stop()

    def _move(self, body: Body) -> Reply:
        invalid = missing_strings(body, "declaration_no")
        if invalid is not None:
            return invalid
        containers = body.get("containers")
        if not isinstance(containers, list) or not containers:
            return error(422, "no_containers", "give at least one container number")
        unknown = [c for c in containers if not isinstance(c, str) or len(c) != CONTAINER_NO_LENGTH]
        if unknown:
            return error(422, "container_unknown", f"unknown container(s): {', '.join(map(str, unknown))}")
        with self.lock:
            self._moves += 1
            move_ref = f"MV-{self._moves:06d}"
            block = BLOCKS[(self._moves - 1) % len(BLOCKS)]
            positions: list[dict[str, Any]] = []
            for container_no in containers:
                self._slots += 1
                positions.append({"container_no": container_no, "position": f"SA-{block}-{self._slots:03d}"})
        payload = {"declaration_no": body["declaration_no"], "move_ref": move_ref, "positions": positions}
        self.callbacks.send_later(CALLBACK_PATH, move_ref, payload, self.delay)
        return Reply(202, {"move_ref": move_ref}, acted=True)

    def _list_callbacks(self, _body: Body) -> Reply:
        return Reply(200, {"callbacks": self.callbacks.records()})
