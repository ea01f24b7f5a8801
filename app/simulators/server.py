"""HTTP for the simulators: a threading server that hands each request to its `Simulator`."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from app.simulators.base import Simulator, error
from app.simulators.customs import CustomsSimulator
from app.simulators.payment import PaymentSimulator
from app.simulators.port import PortSimulator

log = logging.getLogger(__name__)

KINDS = ("port", "customs", "payment")
MAX_BODY_BYTES = 1024 * 1024


def build_simulator(
    kind: str, *, delay: float = 0.5, portal_url: str | None = None, token: str | None = None
) -> Simulator:
    """Create the simulator of `kind`; `delay`, `portal_url` and `token` only matter to the port."""
    if kind == "port":
        return PortSimulator(delay=delay, portal_url=portal_url, token=token)
    if kind == "customs":
        return CustomsSimulator()
    if kind == "payment":
        return PaymentSimulator()
    raise ValueError(f"unknown simulator {kind!r}; choose one of {', '.join(KINDS)}")


class SimulatorServer(ThreadingHTTPServer):
    """Serves one simulator; `stop()` ends serving, closes the socket and cancels background work."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self.serving = threading.Event()  # set while serve_forever runs
        super().__init__(address, _Handler)

    @property
    def base_url(self) -> str:
        """Return ``http://host:port`` as bound (port 0 resolved)."""
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        """Serve until `stop()`; the short poll interval makes stopping quick."""
        self.serving.set()
        try:
            super().serve_forever(poll_interval)
        finally:
            self.serving.clear()

    def stop(self) -> None:
        """Stop serving (safe to call from any thread but the serving one) and release the port."""
        if self.serving.is_set():
            self.shutdown()
        self.server_close()
        self.simulator.close()


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    # The headers and the body leave in two writes. With Nagle's algorithm on, the body waits for the
    # client's ACK of the headers, which a keep-alive client delays by up to 40 ms: every call after a
    # connection's first took ~44 ms instead of well under one.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            reply, replayed = error(400 if length < 0 else 413, "bad_request_body"), False
            self.close_connection = True
        else:
            raw = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            key = self.headers.get("Idempotency-Key")
            reply, replayed = self.server.simulator.handle(method, path, key, raw)
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)


def make_server(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Bind a server for `simulator`; port 0 picks a free port."""
    return SimulatorServer((host, port), simulator)


def start_in_thread(
    kind: str, *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[SimulatorServer, str]:
    """Start the simulator of `kind` in a daemon thread; return the server (`stop()` it) and its base URL."""
    server = make_server(build_simulator(kind, **options), host, port)
    thread = threading.Thread(target=server.serve_forever, name=f"{kind}-simulator", daemon=True)
    thread.start()
    server.serving.wait(5)
    return server, server.base_url
