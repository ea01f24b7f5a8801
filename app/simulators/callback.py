"""Deliver a simulator's JSON callback to the portal in the background, retrying, and record the outcome."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MAX_RETRIES = 10
FIRST_BACKOFF = 0.2
MAX_BACKOFF = 2.0
ATTEMPT_TIMEOUT = 5.0
# Answers that say "not now" rather than "never": a timeout, a conflict with a change being made at the same
# moment (the portal's 409 when the consignment was saved by another command first), too early, too many.
RETRY_STATUSES = frozenset({408, 409, 425, 429})


@dataclass
class Delivery:
    """One callback and what became of it: pending, delivered, rejected (4xx), failed, cancelled."""

    id: int
    path: str
    reference: str
    status: str = "pending"
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None


class CallbackSender:
    """POST JSON to ``{portal_url}{path}`` with a bearer token, after a delay, in a daemon thread.

    Retries up to `MAX_RETRIES` times on connection errors, 5xx and the 4xx of `RETRY_STATUSES`, waiting
    0.2 s, doubling, capped at 2 s; any other 4xx is final (the portal refused the callback itself).
    """

    def __init__(self, portal_url: str | None, token: str | None) -> None:
        if portal_url is not None and urlsplit(portal_url).scheme not in ("http", "https"):
            raise ValueError("portal URL must be http(s)")
        self.portal_url = portal_url.rstrip("/") if portal_url else None
        self._token = token
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._stopping = threading.Event()

    def send_later(self, path: str, reference: str, payload: dict[str, Any], delay: float) -> Delivery:
        """Schedule one delivery; `reference` names it in the records (e.g. the move_ref)."""
        with self._lock:
            delivery = Delivery(id=len(self._deliveries) + 1, path=path, reference=reference)
            self._deliveries.append(delivery)
        thread = threading.Thread(
            target=self._deliver, args=(delivery, payload, delay), name=f"callback-{delivery.id}", daemon=True
        )
        thread.start()
        return delivery

    def records(self) -> list[dict[str, Any]]:
        """Return every delivery so far, oldest first."""
        with self._lock:
            return [asdict(d) for d in self._deliveries]

    def stop(self) -> None:
        """Cancel the waits of pending deliveries."""
        self._stopping.set()

    def _deliver(self, delivery: Delivery, payload: dict[str, Any], delay: float) -> None:
        if self._stopping.wait(delay):
            self._finish(delivery, "cancelled")
            return
        if self.portal_url is None:
            log.warning("callback %s not sent: no portal URL configured", delivery.reference)
            self._finish(delivery, "failed", error="no portal URL configured")
            return
        data = json.dumps(payload).encode()
        backoff = FIRST_BACKOFF
        for attempt in range(1, MAX_RETRIES + 2):
            status, problem = self._post(f"{self.portal_url}{delivery.path}", data)
            with self._lock:
                delivery.attempts, delivery.http_status, delivery.error = attempt, status, problem
            if status is not None and 200 <= status < 300:
                self._finish(delivery, "delivered")
                return
            if status is not None and 400 <= status < 500 and status not in RETRY_STATUSES:
                log.warning("callback %s rejected by the portal: HTTP %s", delivery.reference, status)
                self._finish(delivery, "rejected")
                return
            if attempt > MAX_RETRIES or self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)
        if self._stopping.is_set():
            self._finish(delivery, "cancelled")
            return
        log.warning("callback %s gave up after %s attempts", delivery.reference, delivery.attempts)
        self._finish(delivery, "failed")

    def _post(self, url: str, data: bytes) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        # The portal URL's scheme is checked to be http(s) in __init__, hence the S310 waivers.
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=ATTEMPT_TIMEOUT) as response:  # noqa: S310
                return response.status, None
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, None
        except OSError as exc:
            return None, type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"[:200]

    def _finish(self, delivery: Delivery, status: str, error: str | None = None) -> None:
        with self._lock:
            delivery.status = status
            if error is not None:
                delivery.error = error
