"""A connector takes what the environment says about its outside system (an HTTP proxy, the hosts that
bypass it) when the worker builds it, and keeps to it: a deployment behind a proxy still reaches the
customs system through the proxy, without requests looking the environment up again on every call."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.tasks.customs import LookupDeclaration

CUSTOMS_URL = "http://customs.invalid:8080"  # never resolved: only a proxy can answer for it


class Recorder(ThreadingHTTPServer):
    """An HTTP server that answers every POST with a customs-like JSON body and records the request
    line it got (an absolute URL when it is asked as a proxy)."""

    def __init__(self, name: str) -> None:
        self.name, self.request_lines = name, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                sent = json.loads(self.rfile.read(length))
                server.request_lines.append(self.requestline)
                body = json.dumps({"declaration_no": sent["declaration_no"], "status": server.name}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recorder() -> Iterator[callable]:
    servers: list[Recorder] = []

    def start(name: str) -> Recorder:
        server = Recorder(name)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def lookup(connector: LookupDeclaration) -> dict:
    return connector.call({"declaration_no": "106865793030"}, "consignment-C01:lookup")


def test_a_connector_reaches_its_system_through_the_proxy_the_environment_names(recorder, monkeypatch):
    proxy = recorder("accepted")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    connector = LookupDeclaration(CUSTOMS_URL, timeout=5)

    answer = lookup(connector)

    assert answer == {"declaration_no": "106865793030", "status": "accepted"}
    assert proxy.request_lines == [f"POST {CUSTOMS_URL}/declarations/lookup HTTP/1.1"]


def test_the_environment_is_read_when_the_connector_is_built_not_on_each_call(recorder, monkeypatch):
    first, second = recorder("accepted"), recorder("cancelled")
    monkeypatch.setenv("HTTP_PROXY", first.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    connector = LookupDeclaration(CUSTOMS_URL, timeout=5)
    monkeypatch.setenv("HTTP_PROXY", second.url)  # a change after start-up takes a restart, as it did

    assert lookup(connector)["status"] == "accepted"
    assert lookup(LookupDeclaration(CUSTOMS_URL, timeout=5))["status"] == "cancelled"
    assert len(first.request_lines) == 1 and len(second.request_lines) == 1


def test_a_host_in_no_proxy_is_called_directly(recorder, monkeypatch):
    proxy, customs = recorder("from the proxy"), recorder("accepted")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    connector = LookupDeclaration(customs.url, timeout=5)

    assert lookup(connector)["status"] == "accepted"
    assert proxy.request_lines == []
    assert customs.request_lines == ["POST /declarations/lookup HTTP/1.1"]
