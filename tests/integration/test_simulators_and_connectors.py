"""The connectors against the simulator processes: port, customs and payment over real HTTP.

Each simulator runs as its own process (``python -m app.simulators ...``); the port's position report
reaches a small portal receiver started here, which checks the bearer token like the portal does.
"""

from __future__ import annotations

import json
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from app.tasks import KNOWN_TOPICS, BusinessError, Connector, ConnectorError, build_registry

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
PORTAL_TOKEN = "port-callback-token"
CALLBACK_PATH = "/api/v1/port/container-positioned"
UNUSED_URL = "http://127.0.0.1:9"

# From the demo consignments (domain/consignments.json): C01 frozen beef, two containers, Cat Lai.
BEEF = {
    "declaration_no": "106865793030",
    "containers": ["TCLU2167398", "TCLU1262256"],
    "sampling_place": "Cat Lai sampling area",
}


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class Simulator:
    """A simulator process and its base URL."""

    kind: str
    process: subprocess.Popen[str]
    url: str

    def control(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{self.url}{path}", json=payload, timeout=5)
        response.raise_for_status()
        return response.json()

    def seen(self, path: str) -> dict[str, Any]:
        response = requests.get(f"{self.url}{path}", timeout=5)
        response.raise_for_status()
        return response.json()

    def keys(self) -> dict[str, dict[str, int]]:
        return self.seen("/_sim/keys")["keys"]

    def stop(self) -> int:
        """Send SIGTERM and return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)


@pytest.fixture
def start_simulator(tmp_path: Path) -> Iterator[Callable[..., Simulator]]:
    """Start simulator processes on free ports; stop them all after the test."""
    started: list[Simulator] = []

    def start(kind: str, *options: str) -> Simulator:
        log_path = tmp_path / f"{kind}-{len(started)}.log"
        with log_path.open("w") as log_file:
            command = [sys.executable, "-m", "app.simulators", kind, "--host", "127.0.0.1", "--port", "0"]
            process = subprocess.Popen(
                [*command, *options], cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file, text=True
            )
        simulator = Simulator(kind, process, _listening_url(process, log_path))
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        try:
            simulator.stop()
        except subprocess.TimeoutExpired:
            simulator.process.kill()
            simulator.process.wait()
        if simulator.process.stdout is not None:
            simulator.process.stdout.close()


def _listening_url(process: subprocess.Popen[str], log_path: Path, timeout: float = 15.0) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            process.kill()
            pytest.fail(f"simulator did not start within {timeout} s: {log_path.read_text()}")
    line = process.stdout.readline().strip()
    if not line.startswith("LISTENING http://"):
        process.wait(timeout=5)
        pytest.fail(f"simulator said {line!r} instead of LISTENING: {log_path.read_text()}")
    return line.removeprefix("LISTENING ")


@dataclass
class Portal:
    """The portal's callback endpoint, reduced to what the port talks to."""

    url: str = ""
    outages: int = 0  # the next N callbacks get a 503
    reports: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def portal() -> Iterator[Portal]:
    """Run a real HTTP receiver for ``POST /api/v1/port/container-positioned``."""
    state = Portal()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                if self.path != CALLBACK_PATH:
                    status = 404
                elif self.headers.get("Authorization") != f"Bearer {PORTAL_TOKEN}":
                    state.refused.append(self.headers.get("Authorization") or "")
                    status = 401
                elif state.outages > 0:
                    state.outages -= 1
                    status = 503
                else:
                    state.reports.append(json.loads(body))
                    status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def connectors(
    *, port: str = UNUSED_URL, customs: str = UNUSED_URL, payment: str = UNUSED_URL, timeout: float = 2.0
) -> dict[str, Connector]:
    return build_registry(
        {"PORT_URL": port, "CUSTOMS_URL": customs, "PAYMENT_URL": payment, "CONNECTOR_TIMEOUT": timeout}
    )


def callbacks(port: Simulator) -> list[dict[str, Any]]:
    return port.seen("/_sim/callbacks")["callbacks"]


# --- port -------------------------------------------------------------------------------------------


def test_port_moves_the_containers_and_reports_their_position(start_simulator, portal: Portal) -> None:
    port = start_simulator("port", "--delay", "0.05", "--portal-url", portal.url, "--token", PORTAL_TOKEN)
    move = connectors(port=port.url)["port.move_containers"]

    result = move.call(BEEF, idempotency_key="consignment-C01:move")

    assert result == {"move_ref": "MV-000001"}
    wait_until(lambda: portal.reports)
    report = portal.reports[0]
    assert report["declaration_no"] == BEEF["declaration_no"]
    assert report["move_ref"] == "MV-000001"
    assert [p["container_no"] for p in report["positions"]] == BEEF["containers"]
    for position in report["positions"]:
        block, slot = position["position"].split("-")[1:]
        assert position["position"].startswith("SA-") and block.isalpha() and slot.isdigit()
    assert wait_until(lambda: callbacks(port)[0]["status"] == "delivered")
    assert portal.refused == []


def test_port_keeps_reporting_the_position_until_the_portal_answers(start_simulator, portal: Portal) -> None:
    portal.outages = 2
    port = start_simulator("port", "--delay", "0", "--portal-url", portal.url, "--token", PORTAL_TOKEN)

    connectors(port=port.url)["port.move_containers"].call(BEEF, idempotency_key="consignment-C01:move")

    delivered = wait_until(lambda: [c for c in callbacks(port) if c["status"] == "delivered"])
    assert delivered[0]["attempts"] == 3
    assert len(portal.reports) == 1


def test_the_portal_refuses_a_position_report_with_the_wrong_token(start_simulator, portal: Portal) -> None:
    port = start_simulator("port", "--delay", "0", "--portal-url", portal.url, "--token", "not-the-token")

    connectors(port=port.url)["port.move_containers"].call(BEEF, idempotency_key="consignment-C01:move")

    rejected = wait_until(lambda: [c for c in callbacks(port) if c["status"] == "rejected"])
    assert rejected[0]["http_status"] == 401 and rejected[0]["attempts"] == 1
    assert portal.reports == [] and portal.refused == ["Bearer not-the-token"]


def test_a_repeated_move_request_moves_the_containers_once(start_simulator, portal: Portal) -> None:
    port = start_simulator("port", "--delay", "0", "--portal-url", portal.url, "--token", PORTAL_TOKEN)
    move = connectors(port=port.url)["port.move_containers"]

    first = move.call(BEEF, idempotency_key="consignment-C01:move")
    again = move.call(BEEF, idempotency_key="consignment-C01:move")

    assert again == first
    assert port.keys()["consignment-C01:move"] == {"requests": 2, "actions": 1}
    assert len(callbacks(port)) == 1
    wait_until(lambda: portal.reports)
    assert [r["move_ref"] for r in portal.reports] == [first["move_ref"]]


def test_port_refuses_to_move_unknown_or_missing_containers(start_simulator) -> None:
    port = start_simulator("port", "--delay", "0")
    move = connectors(port=port.url)["port.move_containers"]

    with pytest.raises(BusinessError) as unknown:
        move.call({**BEEF, "containers": ["TCLU216"]}, idempotency_key="k-unknown")
    with pytest.raises(BusinessError) as empty:
        move.call({**BEEF, "containers": []}, idempotency_key="k-empty")

    assert (unknown.value.code, unknown.value.status) == ("container_unknown", 422)
    assert empty.value.code == "no_containers"
    assert callbacks(port) == []


# --- customs ----------------------------------------------------------------------------------------


def test_customs_reports_a_declaration_as_accepted_unless_cancelled(start_simulator) -> None:
    customs = start_simulator("customs")
    lookup = connectors(customs=customs.url)["customs.lookup_declaration"]
    customs.control("/_sim/declarations", {"declaration_no": "107962337900", "status": "cancelled"})
    customs.control("/_sim/declarations", {"declaration_no": "102629506280", "status": "not_found"})

    assert lookup.call({"declaration_no": "106865793030"}, "k1") == {
        "declaration_no": "106865793030",
        "status": "accepted",
    }
    assert lookup.call({"declaration_no": "107962337900"}, "k2")["status"] == "cancelled"
    assert lookup.call({"declaration_no": "102629506280"}, "k3")["status"] == "not_found"


def test_customs_clears_a_declaration_once(start_simulator) -> None:
    customs = start_simulator("customs")
    clear = connectors(customs=customs.url)["customs.clear"]
    request = {"declaration_no": "106865793030", "certificate_no": "RAHO6-2026-0001"}

    first = clear.call(request, idempotency_key="consignment-C01:clear")
    retried = clear.call(request, idempotency_key="consignment-C01:clear")
    other_key = clear.call(request, idempotency_key="consignment-C01:clear-again")

    assert first["clearance_no"].startswith("CL-")
    assert retried == first and other_key == first
    assert customs.keys()["consignment-C01:clear"] == {"requests": 2, "actions": 1}
    assert customs.keys()["consignment-C01:clear-again"]["actions"] == 0


def test_customs_refuses_to_clear_a_cancelled_declaration(start_simulator) -> None:
    customs = start_simulator("customs")
    customs.control("/_sim/declarations", {"declaration_no": "107962337900", "status": "cancelled"})
    clear = connectors(customs=customs.url)["customs.clear"]

    with pytest.raises(BusinessError) as refused:
        clear.call({"declaration_no": "107962337900", "certificate_no": "PPSD2-2026-0042"}, "k-clear")

    assert (refused.value.code, refused.value.status) == ("declaration_cancelled", 409)


# --- payment ----------------------------------------------------------------------------------------


def test_payment_captures_the_fee_once_per_key(start_simulator) -> None:
    payment = start_simulator("payment")
    capture = connectors(payment=payment.url)["payment.capture"]
    fee = {
        "declaration_no": "106865793030",
        "amount_vnd": 1_250_000,
        "payer": "Cong ty TNHH Thuc pham Dong Nam A",
        "method": "bank_transfer",
    }

    first = capture.call(fee, idempotency_key="consignment-C01:fee")
    again = capture.call(fee, idempotency_key="consignment-C01:fee")

    assert first["status"] == "captured" and first["payment_ref"].startswith("PAY-")
    assert again == first
    assert payment.keys() == {"consignment-C01:fee": {"requests": 2, "actions": 1}}


def test_payment_refuses_a_negative_amount(start_simulator) -> None:
    payment = start_simulator("payment")
    capture = connectors(payment=payment.url)["payment.capture"]

    with pytest.raises(BusinessError) as refused:
        capture.call(
            {"declaration_no": "106865793030", "amount_vnd": -1, "payer": "X", "method": "card"},
            idempotency_key="k",
        )

    assert (refused.value.code, refused.value.status) == ("invalid_amount", 422)
    assert payment.keys()["k"]["actions"] == 0


# --- failures the worker must survive ----------------------------------------------------------------


def test_an_outage_fails_the_call_and_the_retry_acts_once_it_is_over(start_simulator) -> None:
    payment = start_simulator("payment")
    capture = connectors(payment=payment.url)["payment.capture"]
    fee = {"declaration_no": "106865793030", "amount_vnd": 500_000, "payer": "X", "method": "card"}
    payment.control("/_sim/fail", {"mode": "error", "times": 2})

    for _ in range(2):
        with pytest.raises(ConnectorError) as outage:
            capture.call(fee, idempotency_key="consignment-C01:fee")
        assert outage.value.status == 503
    result = capture.call(fee, idempotency_key="consignment-C01:fee")

    assert result["status"] == "captured"
    assert payment.keys()["consignment-C01:fee"] == {"requests": 3, "actions": 1}


def test_fail_mode_lasts_until_reset(start_simulator) -> None:
    customs = start_simulator("customs")
    lookup = connectors(customs=customs.url)["customs.lookup_declaration"]
    customs.control("/_sim/fail", {"mode": "error"})

    for _ in range(3):
        with pytest.raises(ConnectorError):
            lookup.call({"declaration_no": "106865793030"}, "k")
    customs.control("/_sim/fail", {"mode": "ok"})

    assert lookup.call({"declaration_no": "106865793030"}, "k")["status"] == "accepted"


def test_a_stopped_simulator_fails_the_call_at_once(start_simulator) -> None:
    payment = start_simulator("payment")
    capture = connectors(payment=payment.url, timeout=2.0)["payment.capture"]
    fee = {"declaration_no": "106865793030", "amount_vnd": 0, "payer": "X", "method": "card"}
    capture.call(fee, "before-stop")  # leaves a pooled keep-alive connection behind

    assert payment.stop() == 0  # SIGTERM stops it cleanly
    started = time.monotonic()
    with pytest.raises(ConnectorError) as refused:
        capture.call(fee, "after-stop")

    assert time.monotonic() - started < 2.0
    assert "cannot reach" in str(refused.value)


def test_a_silent_system_fails_the_call_after_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        capture = connectors(payment=url, timeout=0.3)["payment.capture"]
        started = time.monotonic()
        with pytest.raises(ConnectorError) as timed_out:
            capture.call({"declaration_no": "1", "amount_vnd": 1, "payer": "X", "method": "card"}, "k")

    assert 0.3 <= time.monotonic() - started < 1.5
    assert "within 0.3 s" in str(timed_out.value)


def test_a_wrong_base_url_is_a_connector_error_not_a_business_one(start_simulator) -> None:
    customs = start_simulator("customs")
    capture = connectors(payment=customs.url)["payment.capture"]  # payment pointed at customs by mistake

    with pytest.raises(ConnectorError) as misrouted:
        capture.call({"declaration_no": "1", "amount_vnd": 1, "payer": "X", "method": "card"}, "k")

    assert misrouted.value.status == 404


# --- malformed requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path"), [("port", "/moves"), ("customs", "/clearances"), ("payment", "/payments")]
)
def test_each_simulator_rejects_malformed_json_and_a_missing_key(
    start_simulator, kind: str, path: str
) -> None:
    simulator = start_simulator(kind)

    malformed = requests.post(
        f"{simulator.url}{path}",
        data=b'{"declaration_no": ',
        headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
        timeout=5,
    )
    not_an_object = requests.post(
        f"{simulator.url}{path}", json=["106865793030"], headers={"Idempotency-Key": "k2"}, timeout=5
    )
    keyless = requests.post(f"{simulator.url}{path}", json={"declaration_no": "106865793030"}, timeout=5)

    assert (malformed.status_code, malformed.json()["error"]) == (400, "malformed_json")
    assert (not_an_object.status_code, not_an_object.json()["error"]) == (400, "malformed_json")
    assert (keyless.status_code, keyless.json()["error"]) == (400, "missing_idempotency_key")
    assert requests.get(f"{simulator.url}/health", timeout=5).status_code == 200


def test_a_key_reused_for_another_request_is_refused(start_simulator) -> None:
    payment = start_simulator("payment")
    capture = connectors(payment=payment.url)["payment.capture"]
    fee = {"declaration_no": "106865793030", "amount_vnd": 100, "payer": "X", "method": "card"}
    capture.call(fee, "consignment-C01:fee")

    with pytest.raises(BusinessError) as reused:
        capture.call({**fee, "amount_vnd": 200}, "consignment-C01:fee")

    assert reused.value.code == "idempotency_key_reused"
    assert payment.keys()["consignment-C01:fee"]["actions"] == 1


def test_a_simulator_sends_its_answers_without_waiting_for_the_clients_ack() -> None:
    """The answer's headers and body leave in two writes. With Nagle's algorithm on, the body waited for
    the keep-alive client's delayed ACK of the headers: ~40 ms per call after a connection's first (the
    worker's connector calls spent most of their time so)."""
    from app.simulators import server as simulator_server

    nodelay: list[int] = []

    class Recording(simulator_server._Handler):
        def setup(self) -> None:
            super().setup()
            nodelay.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = simulator_server.make_server(simulator_server.build_simulator("payment"))
    server.RequestHandlerClass = Recording
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with requests.Session() as session:  # one keep-alive connection for the three calls
            for _ in range(3):
                assert session.get(f"{server.base_url}/health", timeout=5).status_code == 200
    finally:
        server.stop()

    assert len(nodelay) == 1  # the connection was kept alive: the case where the delay struck
    assert nodelay[0] != 0  # TCP_NODELAY is set on it


# --- registry ------------------------------------------------------------------------------------


def test_the_registry_has_one_connector_per_known_topic() -> None:
    registry = connectors()

    assert (
        set(registry)
        == KNOWN_TOPICS
        == {"port.move_containers", "customs.lookup_declaration", "customs.clear", "payment.capture"}
    )
    assert all(connector.topic == topic for topic, connector in registry.items())


def test_the_registry_refuses_settings_without_a_url() -> None:
    with pytest.raises(ValueError, match="CUSTOMS_URL"):
        build_registry({"PORT_URL": "http://127.0.0.1:5101", "PAYMENT_URL": "http://127.0.0.1:5103"})


def test_a_job_without_its_inputs_is_a_model_bug() -> None:
    with pytest.raises(ValueError, match="containers"):
        connectors()["port.move_containers"].call({"declaration_no": "106865793030"}, "k")
