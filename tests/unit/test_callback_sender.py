"""The port simulator's callback to the portal, against a real HTTP server that answers a scripted series of
statuses: a conflict or an overload is tried again until the portal takes it; a refusal of the callback
itself is final; every attempt and the outcome are recorded."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.simulators import callback
from app.simulators.callback import CallbackSender


class ScriptedPortal:
    """Answers each POST with the next status of ``statuses`` (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[bytes] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                portal.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                status = portal.statuses.pop(0) if len(portal.statuses) > 1 else portal.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(callback, "FIRST_BACKOFF", 0.01)
    monkeypatch.setattr(callback, "MAX_BACKOFF", 0.02)


def delivered(statuses: list[int]) -> tuple[dict, int]:
    portal = ScriptedPortal(statuses)
    try:
        sender = CallbackSender(portal.url, "token")
        sender.send_later("/api/v1/callbacks/port", "MV-000001", {"move_ref": "MV-000001"}, delay=0)
        deadline = time.monotonic() + 10
        while sender.records()[0]["status"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.01)
        return sender.records()[0], len(portal.bodies)
    finally:
        portal.close()


@pytest.mark.parametrize("status", [409, 429, 503])
def test_a_callback_the_portal_answers_with_a_conflict_or_overload_is_sent_again_until_taken(status):
    record, posts = delivered([status, status, 200])
    assert record["status"] == "delivered"
    assert record["attempts"] == 3 and posts == 3
    assert record["http_status"] == 200


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_a_callback_the_portal_refuses_is_not_sent_again(status):
    record, posts = delivered([status, 200])
    assert record["status"] == "rejected"
    assert record["attempts"] == 1 and posts == 1
    assert record["http_status"] == status


def test_a_callback_that_keeps_conflicting_gives_up_after_the_last_retry():
    record, posts = delivered([409])
    assert record["status"] == "failed"
    assert posts == callback.MAX_RETRIES + 1
