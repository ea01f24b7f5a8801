"""What every simulator shares apart from HTTP: routes, idempotency keys, fail mode, the /_sim endpoints."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Body = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """A JSON answer; `acted` says the request changed the outside system's state."""

    status: int
    body: Body
    acted: bool = False


Handler = Callable[[Body], Reply]


@dataclass(frozen=True)
class Route:
    """A handler and how it is guarded.

    `mutating` routes need an ``Idempotency-Key`` and replay their first answer for a repeated key;
    `business` routes obey fail mode (the /_sim and /health routes do not).
    """

    handler: Handler
    mutating: bool = False
    business: bool = True


@dataclass
class KeyRecord:
    """What the simulator saw under one idempotency key."""

    requests: int = 0
    actions: int = 0
    fingerprint: str | None = None
    reply: Reply | None = None


@dataclass
class _FailMode:
    remaining: int | None = 0  # None: fail until reset

    def take(self) -> bool:
        if self.remaining is None:
            return True
        if self.remaining > 0:
            self.remaining -= 1
            return True
        return False


def error(status: int, code: str, message: str = "") -> Reply:
    """Build the error answer every simulator uses: ``{"error": code, "message": ...}``."""
    return Reply(status, {"error": code, "message": message} if message else {"error": code})


def missing_strings(body: Body, *names: str) -> Reply | None:
    """Answer 422 ``invalid_request`` unless every name in `names` is a non-empty string in `body`."""
    bad = [name for name in names if not isinstance(body.get(name), str) or not body[name].strip()]
    if bad:
        return error(422, "invalid_request", f"required: {', '.join(bad)}")
    return None


class Simulator:
    """State and routes of one simulated outside system; subclasses add their business routes."""

    kind = "base"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.routes: dict[tuple[str, str], Route] = {}
        self._keys: dict[str, KeyRecord] = {}
        self._fail = _FailMode()
        self.add_route("GET", "/health", self._health, business=False)
        self.add_route("GET", "/_sim/keys", self._list_keys, business=False)
        self.add_route("POST", "/_sim/fail", self._set_fail_mode, business=False)

    def add_route(
        self, method: str, path: str, handler: Handler, *, mutating: bool = False, business: bool = True
    ) -> None:
        """Register `handler` for `method` and `path`."""
        self.routes[(method, path)] = Route(handler, mutating=mutating, business=business)

    def handle(
        self, method: str, path: str, idempotency_key: str | None, raw_body: bytes
    ) -> tuple[Reply, bool]:
        """Answer one request; return the reply and whether it is a replay of an earlier one."""
        route = self.routes.get((method, path))
        if route is None:
            known = any(p == path for _m, p in self.routes)
            return (error(405, "method_not_allowed") if known else error(404, "not_found")), False
        if route.mutating and not idempotency_key:
            return error(400, "missing_idempotency_key", "send an Idempotency-Key header"), False
        with self.lock:
            record = self._keys.setdefault(idempotency_key, KeyRecord()) if idempotency_key else None
            if record is not None:
                record.requests += 1
            if route.business and self._fail.take():
                return error(503, "unavailable", "simulated outage"), False
        body = _parse(raw_body) if method == "POST" else {}
        if body is None:
            return error(400, "malformed_json", "the body must be a JSON object"), False
        if not route.mutating or record is None:
            return route.handler(body), False
        fingerprint = _fingerprint(method, path, body)
        with self.lock:
            if record.reply is not None:
                if record.fingerprint != fingerprint:
                    return error(422, "idempotency_key_reused", "the key was used for another request"), False
                return record.reply, True
            reply = route.handler(body)
            if reply.status < 500:
                record.reply, record.fingerprint = reply, fingerprint
            if reply.acted:
                record.actions += 1
            return reply, False

    def close(self) -> None:
        """Stop background work; the base simulator has none."""

    def _health(self, _body: Body) -> Reply:
        return Reply(200, {"status": "ok", "kind": self.kind})

    def _list_keys(self, _body: Body) -> Reply:
        with self.lock:
            keys = {key: {"requests": r.requests, "actions": r.actions} for key, r in self._keys.items()}
        return Reply(200, {"keys": keys})

    def _set_fail_mode(self, body: Body) -> Reply:
        mode, times = body.get("mode"), body.get("times")
        if mode == "ok":
            remaining: int | None = 0
        elif mode == "error" and times is None:
            remaining = None
        elif mode == "error" and isinstance(times, int) and not isinstance(times, bool) and times > 0:
            remaining = times
        else:
            return error(400, "invalid_request", 'use {"mode": "error", "times": N} or {"mode": "ok"}')
        with self.lock:
            self._fail.remaining = remaining
        log.info("%s simulator fail mode: %s (times=%s)", self.kind, mode, remaining)
        return Reply(200, {"mode": mode, "remaining": remaining})


def _parse(raw: bytes) -> Body | None:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _fingerprint(method: str, path: str, body: Body) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
