"""Throughput benchmark: the same consignments (a) through SpiffWorkflow alone, in memory, and (b) through
the portal's HTTP API against a real server (gunicorn web + worker + simulators) on SQLite, in one run.

It prints task completions per second for both and their ratio (b/a), the median and p95 latency of one
``POST /api/v1/work-items/<id>/complete`` call, and the bytes stored per finished consignment, then one
line per target. It asserts nothing: it is a measurement, not a test. See ``bench/README.md``.

    .venv/bin/python bench/throughput.py --consignments 50
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn.util.event import BpmnEvent  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from app.consignments.registration import parse_registration  # noqa: E402

try:  # an earlier commit measured with bench/alternate.py has no CPU probe: no split then
    from app.cpu_probe import read_events  # noqa: E402
except ImportError:  # pragma: no cover
    read_events = None
from app.demo import TERMINAL, Player, demo_consignments  # noqa: E402
from app.engine.bundle import compile_bundle, load_bundle  # noqa: E402
from app.engine.commands.messages import KNOWN_MESSAGES  # noqa: E402
from app.engine.runtime import evaluate_template, resolve_performer  # noqa: E402
from app.engine.script_engine import PortalScriptEngine  # noqa: E402
from app.engine.specs import ExternalServiceTask, PortalUserTask  # noqa: E402
from app.engine.working_time import WorkingCalendar  # noqa: E402
from app.settings import PROJECT_ROOT, Settings  # noqa: E402
from app.tasks import KNOWN_TOPICS  # noqa: E402

TARGET_RATIO = 0.15
TARGET_MEDIAN_MS = 10.0
TARGET_BYTES = 10_000  # 10 KB, decimal
MESSAGE = "ContainerPositioned"
END_EVENTS = ("cleared", "non_compliance_handled", "registration_rejected")
WORKING_ROLES = ("customs_officer", "branch_head", "agency_officer", "trader", "manager")
# What each connector hands back to the process in (a): the variables its output mapping sets in (b).
SERVICE_OUTPUTS = {
    "customs.lookup_declaration": {"declaration_status": "accepted"},
    "port.move_containers": {"port_move_ref": "MV-000001"},
    "payment.capture": {"payment_ref": "PAY-000001"},
    "customs.clear": {"clearance_no": "CL-000001"},
}
IDLE_SLEEP = (0.02, 0.16)  # seconds a client waits after a round that found nothing: first, at most
STATUS_POLL = 0.1  # seconds between checks whether every consignment has finished
STALL_SECONDS = 3.0  # no completion for this long: look into every other inbox once


# -- CPU time per process (Linux /proc) ------------------------------------------------------------------
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return []
    return found


def _own_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def cpu_seconds(pids: dict[str, int], alone: tuple[str, ...] = ()) -> dict[str, float]:
    """CPU seconds used so far by each named process (all its threads) and its live descendants (gunicorn's
    workers), but only by the process itself for the names in ``alone`` (this one, whose children are the
    stack's processes)."""
    totals: dict[str, float] = {}
    for name, pid in pids.items():
        stack, total = [pid], 0.0
        while stack:
            current = stack.pop()
            total += _own_cpu(current)
            if name not in alone:
                stack += _children(current)
        totals[name] = total
    return totals


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL server process on this machine (the server is shared
    with nothing else during a run; backends the run's pools open count whole, which is what they did)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += _own_cpu(int(entry.name))
            except OSError:
                continue
    return total


# -- shared: the consignments and the form data ---------------------------------------------------------
@dataclass
class Entry:
    """One consignment of the run: the registration payload, who registers it, whether it fails."""

    trader: str
    payload: dict[str, Any]
    fail: bool

    @property
    def number(self) -> str:
        return self.payload["declaration_no"]


def make_entries(count: int, seed: int) -> list[Entry]:
    """``app.demo.demo_consignments``: the ten demo consignments, then copies with fresh numbers."""
    return [
        Entry(e["trader"], e["payload"], e["fail"]) for e in demo_consignments(count, random.Random(seed))
    ]


class Answers:
    """Valid form data for each step: ``app.demo.Player.answer``, with the nomination taken from the
    registration itself (the demo reads it back over the API; (a) and (b) both use this one source)."""

    def __init__(self, entries: list[Entry], seed_data: dict[str, Any], now: datetime) -> None:
        self.player = Player("http://127.0.0.1", seed_data)  # only .answer() is used: it makes no call
        self.player.failing = {e.number for e in entries if e.fail}
        self.containers = {e.number: list(e.payload.get("containers") or []) for e in entries}
        self.now = now

    def __call__(self, step_id: str, declaration_no: str) -> dict[str, Any]:
        if step_id == "nominate_containers":
            nominated = self.containers[declaration_no][:2]
            return {"nominated_containers": nominated, "nomination_note": "Risk-based selection"}
        return self.player.answer({"step_id": step_id, "declaration_no": declaration_no}, self.now)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# -- (a) SpiffWorkflow alone, in memory -----------------------------------------------------------------
@dataclass
class MemoryRun:
    seconds: list[float] = field(default_factory=list)  # one per timed pass before (b)
    seconds_after: list[float] = field(default_factory=list)  # one per timed pass after (b)
    units: Counter = field(default_factory=Counter)  # kind -> completions in one pass
    per_consignment: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    performers: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # number -> (org, role)

    @property
    def total(self) -> int:
        return sum(self.units.values())

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds + self.seconds_after)


def run_in_memory(entries: list[Entry], specs, answers: Answers, now: datetime, repeats: int) -> MemoryRun:
    """Drive every consignment to its end with nothing but SpiffWorkflow and the portal's script engine.

    A first, untimed pass warms up and records counts, outcomes and who works each user task (so the
    HTTP client in (b) knows whose inboxes to watch); then ``repeats`` timed passes.
    """
    result = MemoryRun()
    _drive_all(entries, specs, answers, now, WorkingCalendar(), result)
    time_in_memory(entries, specs, answers, now, repeats, result.seconds)
    return result


def time_in_memory(entries, specs, answers, now, repeats: int, into: list[float]) -> None:
    """``repeats`` timed passes of (a), appended to ``into`` (seconds each)."""
    calendar = WorkingCalendar()
    for _ in range(repeats):
        started = time.perf_counter()
        _drive_all(entries, specs, answers, now, calendar, None)
        into.append(time.perf_counter() - started)


def _drive_all(entries, specs, answers, now, calendar, record: MemoryRun | None) -> None:
    engine = PortalScriptEngine(now, calendar)
    for entry in entries:
        registration = parse_registration(entry.payload)
        workflow = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=engine)
        variables = registration.process_variables(entry.trader, now)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(variables)
        workflow.do_engine_steps()
        units: Counter = Counter()
        performers: set[tuple[str, str]] = set()
        while not workflow.completed:
            progressed = False
            for task in workflow.get_tasks(state=TaskState.READY):
                spec = task.task_spec
                if not isinstance(spec, PortalUserTask):
                    continue
                if record is not None:
                    performers.add(_performer(engine, task, entry.trader))
                task.data.update(answers(spec.bpmn_id, entry.number))
                task.run()
                units["user task"] += 1
                progressed = True
            for task in workflow.get_tasks(state=TaskState.STARTED):
                spec = task.task_spec
                if not isinstance(spec, ExternalServiceTask):
                    continue
                task.data.update(SERVICE_OUTPUTS[spec.topic])
                task.complete()
                units["service task"] += 1
                progressed = True
            if any(e.name == MESSAGE and "Message" in e.event_type for e in workflow.waiting_events()):
                # What CommandContext._throw does when the port's callback arrives.
                positions = [
                    {"container_no": n, "position": f"SA-A-{i:03d}"}
                    for i, n in enumerate(registration.containers, 1)
                ]
                payload = {"move_ref": "MV-000001", "positions": positions}
                event = BpmnEvent(
                    MessageEventDefinition(MESSAGE),
                    {"payload": payload, "result_var": KNOWN_MESSAGES[MESSAGE]},
                )
                workflow.send_event(event)
                units["message"] += 1
                progressed = True
            workflow.do_engine_steps()
            if not progressed:
                raise RuntimeError(f"(a) {entry.number} is stuck: nothing to complete and not finished")
        if record is not None:
            record.units.update(units)
            record.per_consignment[entry.number] = sum(units.values())
            record.performers[entry.number] = performers
            ended = [
                t.task_spec.bpmn_id
                for t in workflow.get_tasks(state=TaskState.COMPLETED)
                if t.task_spec.bpmn_id in END_EVENTS
            ]
            record.outcomes[entry.number] = ended[-1] if ended else "completed"


def _performer(engine, task, trader: str) -> tuple[str, str]:
    """The organization and role the portal routes this user task to (as ``projections`` does)."""
    spec = task.task_spec
    group = spec.candidate_groups or spec.lane or ""
    group = str(evaluate_template(engine, group, task.data)) if "${" in group else group
    performer = resolve_performer(group, {"trader_org": trader, **task.data})
    return performer.organization, performer.role


# -- (b) the portal over HTTP ---------------------------------------------------------------------------
@dataclass
class Reply:
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text[:300]}")


class Http:
    """One keep-alive HTTP/1.1 connection (``http.client``), for one thread.

    The clients share the machine's two cores with the server they measure: ``requests`` costs about
    0.5 ms more of the client's CPU per call (measured on this machine type), which the server would lose.
    """

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                reply = Reply(response.status, response.read())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection before reading the request: send again.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            if response.will_close:
                self.conn.close()
                self.conn = None
            return reply
        raise AssertionError("unreachable")

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        return self.request("GET", url, None, headers)

    def post(self, url: str, body: Any, headers: dict[str, str]) -> Reply:
        data = json.dumps(body).encode("utf-8")
        return self.request("POST", url, data, {"Content-Type": "application/json", **headers})


@dataclass
class Latencies:
    completion_ms: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    registration_ms: list[float] = field(default_factory=list)


@dataclass
class CpuShare:
    """What one kind of process spent its CPU on during (b), from the CPU probe (app/cpu_probe.py)."""

    process_seconds: float  # all its processes' CPU during (b), from /proc
    requests: dict[str, tuple[int, float]] = field(default_factory=dict)  # name: (calls, CPU seconds)
    commands: dict[str, tuple[int, float]] = field(default_factory=dict)

    def total(self, kind: str) -> float:
        return sum(seconds for _, seconds in getattr(self, kind).values())

    @property
    def outside(self) -> float:
        """CPU not inside a request (web) or, for a process without requests, not inside a command."""
        return self.process_seconds - (self.total("requests") if self.requests else self.total("commands"))


def split_cpu(directory: Path, start: float, end: float, cpu: dict[str, float]) -> dict[str, CpuShare]:
    """Sum the probe's events that started in [start, end] (time.monotonic) by process kind: a process
    with requests is a web process, one with only commands the worker."""
    shares: dict[str, CpuShare] = {}
    if read_events is None or not directory.is_dir():
        return shares
    for events in read_events(directory).values():
        inside = [event for event in events if start <= event[0] <= end]
        kind = "web" if any(e[1] == "request" for e in events) else "worker"
        if not inside or kind not in cpu:
            continue
        share = shares.setdefault(kind, CpuShare(cpu[kind]))
        for _, event_kind, name, seconds in inside:
            table = share.requests if event_kind == "request" else share.commands
            calls, total = table.get(name, (0, 0.0))
            table[name] = (calls + 1, total + seconds)
    return shares


@dataclass
class PortalRun:
    seconds: float = 0.0  # first registration to the last consignment's finished_at
    polled_seconds: float = 0.0  # first registration to the status poll that saw every consignment finished
    loaded: Latencies = field(default_factory=Latencies)  # during the throughput run
    idle: Latencies = field(default_factory=Latencies)  # one consignment at a time, afterwards
    idle_count: int = 0
    inbox_polls: int = 0  # counted on through the quiet-server pass
    status_polls: int = 0
    polls_in_b: tuple[int, int] = (0, 0)  # (inbox, status) polls during (b) only
    sweeps: int = 0
    units: Counter = field(default_factory=Counter)
    per_consignment: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process during the run
    split: dict[str, CpuShare] = field(default_factory=dict)  # "web", "worker": what their CPU went to


class Client:
    """One HTTP client: works the inboxes of its users and times every completion call."""

    def __init__(
        self,
        api: str,
        tokens: dict[str, str],
        users: list[str],
        answers: Answers,
        result: PortalRun,
        into: Latencies,
        lock: threading.Lock,
        stop: threading.Event,
    ) -> None:
        self.api, self.tokens, self.users, self.answers = api, tokens, users, answers
        self.result, self.into, self.lock, self.stop = result, into, lock, stop
        # One connection per user, as each officer's own browser or system would hold: the server's worker
        # processes then share the users' connections between them as they would in use. (With one
        # connection per client thread, the two threads' keep-alive connections often both landed on one
        # gunicorn worker, whose commands then ran one at a time on one core while the other idled.)
        self.connections: dict[str, Http] = {}
        self.last_progress = time.monotonic()

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def http(self, user: str) -> Http:
        if user not in self.connections:
            self.connections[user] = Http(self.api)
        return self.connections[user]

    def run(self) -> None:
        idle = IDLE_SLEEP[0]
        try:
            while not self.stop.is_set():
                if self.work_round(self.users):
                    idle = IDLE_SLEEP[0]
                else:  # back off while the worker and the port do their part: polls also load the server
                    self.stop.wait(idle)
                    idle = min(idle * 2, IDLE_SLEEP[1])
        except Exception as exc:  # report it rather than hang the run
            with self.lock:
                self.result.errors.append(f"{type(exc).__name__}: {exc}")
            self.stop.set()

    def work_round(self, users: list[str]) -> int:
        done = 0
        for user in users:
            if self.stop.is_set():
                break
            inbox = self.http(user).get(f"{self.api}/work-items?limit=200", self.auth(user))
            inbox.raise_for_status()
            with self.lock:
                self.result.inbox_polls += 1
            for item in inbox.json().get("items", []):
                data = self.answers(item["step_id"], item["declaration_no"])
                url = f"{self.api}/work-items/{item['id']}/complete"
                started = time.perf_counter()
                body = {"data": data, "pin": "123456"} if item.get("signature_required") else {"data": data}
                reply = self.http(user).post(url, body, self.auth(user))
                elapsed = (time.perf_counter() - started) * 1000
                if reply.status_code != 200:
                    raise RuntimeError(
                        f"{user} completing {item['step_id']} of {item['declaration_no']}: "
                        f"HTTP {reply.status_code} {reply.text[:300]}"
                    )
                with self.lock:
                    self.into.completion_ms.append(elapsed)
                    self.into.by_step.setdefault(item["step_id"], []).append(elapsed)
                done += 1
        if done:
            self.last_progress = time.monotonic()
        return done


class Portal:
    """A fresh portal on a temporary database (SQLite, or a new PostgreSQL database), driven over its HTTP
    API."""

    def __init__(
        self,
        workdir: Path,
        seed_data: dict[str, Any],
        answers: Answers,
        clock: str,
        postgres_admin_url: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.clock = clock
        self.db_path = workdir / "bench.db"
        self.baseline = workdir / "baseline.db"  # right after initialize(): seed data and the model
        self.snapshot = workdir / "after.db"  # right after the throughput run
        self.postgres = PostgresDatabase(postgres_admin_url) if postgres_admin_url else None
        self.database_url = self.postgres.url if self.postgres else f"sqlite:///{self.db_path}"
        self.tokens = {u["username"]: u["api_token"] for u in seed_data["users"]}
        self.seed_data = seed_data
        self.answers = answers
        self.result = PortalRun()
        self.started_at = datetime.now(UTC)  # set again when the throughput run starts
        self.lock = threading.Lock()
        self.trader_connections: dict[str, Http] = {}  # each trader registers over its own connection
        self.api = ""

    def register(self, entry: Entry, into: Latencies) -> None:
        user = f"trader.{entry.trader.lower()}"
        if user not in self.trader_connections:
            self.trader_connections[user] = Http(self.api)
        started = time.perf_counter()
        reply = self.trader_connections[user].post(
            f"{self.api}/consignments", entry.payload, {"Authorization": f"Bearer {self.tokens[user]}"}
        )
        into.registration_ms.append((time.perf_counter() - started) * 1000)
        if reply.status_code != 201:
            raise RuntimeError(
                f"registration of {entry.number} failed: {reply.status_code} {reply.text[:300]}"
            )

    def run(
        self,
        entries: list[Entry],
        inbox_users: list[str],
        clients: int,
        timeout: float,
        idle_entries: list[Entry],
        idle_users: dict[str, list[str]],
    ) -> PortalRun:
        from app.cli import initialize
        from app.stack import Stack

        if self.postgres:
            self.postgres.create()
        initialize(Settings.from_env(database_url=self.database_url, clock=self.clock), demo=True)
        if not self.postgres:
            copy_db(self.db_path, self.baseline)
        probe_dir = self.workdir / "cpu"
        stack = Stack(
            self.database_url,
            clock=self.clock,
            port_delay=0.0,
            log_dir=self.workdir / "logs",
            extra_env={"PORTAL_CPU_PROBE_DIR": str(probe_dir)},
        )
        try:
            stack.start()
            self.api = stack.urls["web"] + "/api/v1"
            pids = {name: proc.pid for name, proc in stack.processes.items()} | {"bench clients": os.getpid()}
            before, window_start = self.cpu(pids), time.monotonic()
            self.throughput(entries, inbox_users, clients, timeout)
            after, window_end = self.cpu(pids), time.monotonic()
            self.result.cpu = {name: after[name] - before[name] for name in after}
            self.result.polls_in_b = (self.result.inbox_polls, self.result.status_polls)
            if self.postgres:  # units are counted before the quiet pass adds its consignments
                self.count(entries, self.rows)
            else:
                copy_db(self.db_path, self.snapshot)  # units and storage are counted on this snapshot
            if not self.result.errors:
                self.one_at_a_time(idle_entries, idle_users, timeout)
        finally:
            stack.stop()  # the processes write their probe files as they exit
        if not self.result.errors:
            self.result.split = split_cpu(probe_dir, window_start, window_end, self.result.cpu)
        if self.result.errors:
            raise RuntimeError("; ".join(self.result.errors) + log_tail(self.workdir / "logs"))
        if not self.postgres:
            self.count(entries, lambda sql: rows_of(self.snapshot, sql))
        return self.result

    def cpu(self, pids: dict[str, int]) -> dict[str, float]:
        used = cpu_seconds(pids, alone=("bench clients",))
        if self.postgres:
            used["postgresql server"] = postgres_cpu()
        return used

    def count(self, entries: list[Entry], rows: Any) -> None:
        count_portal_units(rows, entries, self.result)
        last = last_finished_at(rows, entries) if self.clock == "system" else None
        if last is not None:  # the run ends when the last consignment finished, not when a poll saw it
            self.result.polled_seconds = self.result.seconds
            self.result.seconds = (last - self.started_at).total_seconds()

    def throughput(self, entries: list[Entry], inbox_users: list[str], clients: int, timeout: float) -> None:
        """Register every consignment and work every user task, with ``clients`` threads polling inboxes."""
        result, lock, stop = self.result, self.lock, threading.Event()
        others = sorted(
            u["username"]
            for u in self.seed_data["users"]
            if u["username"] not in inbox_users and u["role"] in WORKING_ROLES
        )
        shares = [inbox_users[i::clients] for i in range(clients)]
        workers = [
            Client(self.api, self.tokens, share, self.answers, result, result.loaded, lock, stop)
            for share in shares
            if share
        ]
        sweeper = Client(self.api, self.tokens, others, self.answers, result, result.loaded, lock, stop)
        threads = [
            threading.Thread(target=c.run, name=f"client-{i}", daemon=True) for i, c in enumerate(workers)
        ]
        pending = {e.number for e in entries}

        started, self.started_at = time.perf_counter(), datetime.now(UTC)
        for thread in threads:
            thread.start()
        try:
            for entry in entries:
                self.register(entry, result.loaded)
            deadline = last_report = time.monotonic()
            deadline += timeout
            while pending and not stop.is_set() and time.monotonic() < deadline:
                # Two one-row reads tell whether anything is still open; the full list (which costs the
                # server a few ms per poll with a hundred consignments open) only when nothing seems to be.
                if not self.any_open():
                    pending = self.still_open(pending)
                    if not pending:
                        break
                if time.monotonic() - max(c.last_progress for c in workers) > STALL_SECONDS:
                    # Nothing completed for a while: look into the other users' inboxes once, in case (b)
                    # routes a task to someone (a) did not predict. A healthy run finds nothing there.
                    result.sweeps += 1
                    swept = sweeper.work_round(others)
                    if swept:
                        with lock:
                            result.errors.append(f"{swept} task(s) went to users (a) did not predict")
                    for client in workers:
                        client.last_progress = time.monotonic()
                if time.monotonic() - last_report > 5.0:
                    last_report = time.monotonic()
                    print(
                        f"    {len(entries) - len(pending)}/{len(entries)} finished, "
                        f"{len(result.loaded.completion_ms)} completion calls",
                        file=sys.stderr,
                        flush=True,
                    )
                time.sleep(STATUS_POLL)
            result.seconds = time.perf_counter() - started
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        if pending and not result.errors:
            result.errors.append(f"{len(pending)} consignment(s) not finished within {timeout:.0f} s")

    # The run's end is watched in the database itself (read-only, SQLite's WAL lets it read beside the
    # writers): the harness's own checks are not part of the workload, and through the API each one cost
    # the web processes a request (3-4.5 ms of their CPU on a slow machine, ~100 per run) that the
    # measured completions then waited behind.
    _OPEN = "SELECT declaration_no FROM consignments WHERE status IN ('registered', 'in_progress')"

    def rows(self, sql: str) -> list[tuple]:
        """Read the live database (read-only on SQLite, where WAL lets it read beside the writers)."""
        if self.postgres:
            return self.postgres.rows(sql)
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(sql).fetchall()

    def any_open(self) -> bool:
        """Whether any consignment is registered or in progress (this run's are the database's only ones)."""
        self.result.status_polls += 1
        return bool(self.rows(self._OPEN + " LIMIT 1"))

    def still_open(self, pending: set[str]) -> set[str]:
        self.result.status_polls += 1
        return pending & {row[0] for row in self.rows(self._OPEN)}

    def one_at_a_time(self, entries: list[Entry], users: dict[str, list[str]], timeout: float) -> None:
        """Drive a few more consignments alone, each to its end, to time completion calls on a quiet
        server (no other consignment in flight)."""
        stop = threading.Event()
        for entry in entries:
            client = Client(
                self.api,
                self.tokens,
                users[entry.number],
                self.answers,
                self.result,
                self.result.idle,
                self.lock,
                stop,
            )
            self.register(entry, self.result.idle)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                client.work_round(client.users)
                if not self.still_open({entry.number}):
                    break
                time.sleep(0.02)
            else:
                self.result.errors.append(f"{entry.number} (quiet-server pass) did not finish")
                return
            self.result.idle_count += 1


def rows_of(db_path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(sql).fetchall()


class PostgresDatabase:
    """A database of its own for one run on the PostgreSQL server of ``admin_url``, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        import sqlalchemy as sa

        self.admin_url = admin_url
        self.name = f"portal_bench_{os.getpid()}"
        self.url = admin_url.rsplit("/", 1)[0] + "/" + self.name
        self._sa = sa
        self._engine = None

    def _admin(self, sql: str) -> None:
        engine = self._sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(self._sa.text(sql))
        finally:
            engine.dispose()

    def create(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        self._admin(f"CREATE DATABASE {self.name}")

    def rows(self, sql: str) -> list[tuple]:
        if self._engine is None:
            self._engine = self._sa.create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]

    def version(self) -> str:
        return str(self.rows("SHOW server_version")[0][0]).split()[0]

    def drop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def count_portal_units(rows: Any, entries: list[Entry], result: PortalRun) -> None:
    """Count, from the database, the same units as (a): user tasks completed, service-task jobs done by
    the worker (timeline rows), and port callbacks received (``message_received`` audit events)."""
    queries = {
        "user task": "SELECT consignment_id, COUNT(*) FROM work_items WHERE state = 'completed' "
        "GROUP BY consignment_id",
        # A finished consignment keeps no job rows: its timeline has one "service" row per job done.
        "service task": "SELECT consignment_id, COUNT(*) FROM timeline_events WHERE kind = 'service' "
        "GROUP BY consignment_id",
        "message": "SELECT consignment_id, COUNT(*) FROM audit_events WHERE action = 'message_received' "
        "GROUP BY consignment_id",
    }
    by_consignment: Counter = Counter()
    ids = dict(rows("SELECT declaration_no, id FROM consignments"))
    statuses = dict(rows("SELECT declaration_no, status FROM consignments"))
    for kind, sql in queries.items():
        for consignment_id, count in rows(sql):
            result.units[kind] += count
            by_consignment[consignment_id] += count
    for entry in entries:
        result.per_consignment[entry.number] = by_consignment.get(ids.get(entry.number), 0)
        result.outcomes[entry.number] = statuses.get(entry.number, "missing")
        if result.outcomes[entry.number] not in TERMINAL:
            result.unfinished.append(entry.number)


def last_finished_at(rows: Any, entries: list[Entry]) -> datetime | None:
    """When the last of ``entries`` finished, from its ``finished_at`` (the system clock, UTC); None while
    one of them has not."""
    finished = dict(rows("SELECT declaration_no, finished_at FROM consignments"))
    marks = [finished.get(e.number) for e in entries]
    if not marks or None in marks:
        return None
    moments = [m if isinstance(m, datetime) else datetime.fromisoformat(m) for m in marks]
    return max(m.replace(tzinfo=UTC) if m.tzinfo is None else m.astimezone(UTC) for m in moments)


def log_tail(log_dir: Path) -> str:
    out = []
    for log in sorted(log_dir.glob("*.log")):
        lines = [
            line for line in log.read_text(errors="replace").splitlines() if "maximum number" not in line
        ]
        if lines[-15:]:
            out.append(f"\n--- {log.name} (last lines) ---\n" + "\n".join(lines[-15:]))
    return "".join(out)


# -- storage --------------------------------------------------------------------------------------------
def copy_db(source: Path, target: Path) -> None:
    """A consistent copy, also while the portal is writing (SQLite's backup API)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def table_sizes(db_path: Path) -> dict[str, tuple[int, int, int]]:
    """Per table, after VACUUM: (bytes in pages, bytes of payload, rows), each including its indexes."""
    work = db_path.with_name(db_path.stem + "-vacuumed.db")
    copy_db(db_path, work)
    conn = sqlite3.connect(work)
    try:
        conn.execute("VACUUM")
        owner = dict(
            conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")
        )
        sizes: dict[str, list[int]] = {}
        for name, pgsize, payload in conn.execute(
            "SELECT name, SUM(pgsize), SUM(payload) FROM dbstat GROUP BY name"
        ):
            entry = sizes.setdefault(owner.get(name, name), [0, 0, 0])
            entry[0] += pgsize
            entry[1] += payload
        for table in sizes:
            if table in owner and not table.startswith("sqlite_"):
                sizes[table][2] = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
    finally:
        conn.close()
        work.unlink()
    return {name: (v[0], v[1], v[2]) for name, v in sizes.items()}


@dataclass
class Storage:
    consignments: int
    growth: dict[str, tuple[int, int, int]]  # table -> (page bytes, payload bytes, rows) the run added
    state_bytes: list[int]  # compressed process_instances.state of each finished consignment
    measured: bool = True  # False on PostgreSQL: the target is set on SQLite's file

    def per_consignment(self, column: int = 0) -> float:
        if not self.measured:
            return float("nan")
        return sum(v[column] for v in self.growth.values()) / self.consignments


def measure_storage(snapshot: Path, baseline: Path, finished: int) -> Storage:
    before, after = table_sizes(baseline), table_sizes(snapshot)
    growth = {}
    for table in sorted(set(before) | set(after)):
        b, a = before.get(table, (0, 0, 0)), after.get(table, (0, 0, 0))
        delta = (a[0] - b[0], a[1] - b[1], a[2] - b[2])
        if any(delta):
            growth[table] = delta
    conn = sqlite3.connect(snapshot)
    try:
        states = [
            row[0]
            for row in conn.execute(
                "SELECT LENGTH(p.state) FROM process_instances p JOIN consignments c ON c.instance_id = p.id "
                "WHERE c.finished_at IS NOT NULL"
            )
        ]
    finally:
        conn.close()
    return Storage(max(finished, 1), growth, states)


# -- report ---------------------------------------------------------------------------------------------
def latency_rows(lat: Latencies) -> list[str]:
    def row(label: str, values: list[float]) -> str:
        return (
            f"{'  ' + label:36}{len(values):>7}{statistics.median(values):>9.1f}"
            f"{percentile(values, 95):>9.1f}{max(values):>9.1f}"
        )

    lines = [row(step, values) for step, values in sorted(lat.by_step.items(), key=lambda kv: -len(kv[1]))]
    if lat.completion_ms:
        lines.append(row("all completion calls", lat.completion_ms))
    if lat.registration_ms:
        lines.append(row("(registration, POST /consignments)", lat.registration_ms))
    return lines


def figures(memory: MemoryRun, portal: PortalRun, storage: Storage) -> dict[str, Any]:
    """The run's headline figures, as the report prints them and ``--json`` writes them."""
    a_rate = memory.total / memory.median_seconds
    b_total = sum(portal.units.values())
    b_rate = b_total / portal.seconds if portal.seconds else 0.0
    loaded, idle = portal.loaded.completion_ms, portal.idle.completion_ms
    cpu = {name: seconds * 1000 / b_total for name, seconds in portal.cpu.items()} if b_total else {}
    if cpu:
        cpu["all"] = sum(portal.cpu.values()) * 1000 / b_total
    command_cpu = sum(share.total("commands") for share in portal.split.values())
    # (b) if nothing but the commands used CPU and every core were busy with them.
    commands_only = b_total * (os.cpu_count() or 1) / command_cpu if command_cpu else float("nan")
    return {
        "a_per_s": a_rate,
        "b_per_s": b_rate,
        "ratio": b_rate / a_rate if a_rate else 0.0,
        "completions": b_total,
        "median_ms": statistics.median(loaded) if loaded else float("nan"),
        "p95_ms": percentile(loaded, 95),
        "quiet_median_ms": statistics.median(idle) if idle else float("nan"),
        "cpu_ms_per_completion": cpu,
        "stored_bytes": storage.per_consignment(),
        "cpu_split_s": {
            kind: {
                "process": share.process_seconds,
                "requests": share.total("requests"),
                "commands": share.total("commands"),
                "outside": share.outside,
            }
            for kind, share in portal.split.items()
        },
        "commands_only_per_s": commands_only,
        "commands_only_ratio": commands_only / a_rate if a_rate else float("nan"),
    }


def split_lines(split: dict[str, CpuShare], total_cpu: float, headline: dict[str, Any]) -> list[str]:
    """Where the web processes' and the worker's CPU went: requests, commands, the rest."""
    if not split:
        return []
    lines = [
        "",
        "... of which, by what ran (thread CPU of each request and outermost command, app/cpu_probe.py):",
        f"{'':52}{'calls':>7}{'ms/call':>9}{'s':>7}",
    ]

    def rows(table: dict[str, tuple[int, float]], indent: str) -> None:
        for name, (calls, seconds) in sorted(table.items(), key=lambda item: -item[1][1]):
            lines.append(f"{indent + name:52.52}{calls:>7}{seconds * 1000 / calls:>9.2f}{seconds:>7.2f}")

    for kind in ("web", "worker"):
        share = split.get(kind)
        if share is None:
            continue
        lines.append(f"  {kind} ({share.process_seconds:.2f} s)")
        if share.requests:
            lines.append(f"{'    requests':66}{share.total('requests'):>7.2f}")
            rows(share.requests, "      ")
            lines.append(f"{'    of which commands':66}{share.total('commands'):>7.2f}")
            rows(share.commands, "      ")
            lines.append(
                f"{'    outside the application (gunicorn: HTTP, connections, threads)':66}"
                f"{share.outside:>7.2f}"
            )
        else:
            lines.append(f"{'    commands':66}{share.total('commands'):>7.2f}")
            rows(share.commands, "      ")
            lines.append(f"{'    outside commands (connector calls, polls, timers)':66}{share.outside:>7.2f}")
    loads = Counter()  # commands that loaded a workflow: found warm, or restored from the database
    for share in split.values():
        for name, (calls, _) in share.commands.items():
            outcome = name.rpartition(" (")[2].rstrip(")")  # "CompleteJob (warm)" -> "warm"
            if outcome in ("warm", "restored"):
                loads[outcome] += calls
    if loads:
        lines.append(
            f"  workflow found warm in the process's cache by {loads['warm']} of the "
            f"{loads['warm'] + loads['restored']} commands that loaded one "
            f"({loads['warm'] / (loads['warm'] + loads['restored']):.0%}); the others restored it"
        )
    commands = sum(share.total("commands") for share in split.values())
    lines.append(
        f"  commands in all: {commands:.2f} s of {total_cpu:.2f} s ({commands / total_cpu:.0%}); if nothing "
        f"else used CPU, (b) would be at most {headline['commands_only_per_s']:.0f} completions/s on "
        f"{os.cpu_count()} CPUs (ratio {headline['commands_only_ratio']:.3f})"
    )
    return lines


def report(args, memory: MemoryRun, portal: PortalRun, storage: Storage, inbox_users: list[str]) -> str:
    n = args.consignments
    headline = figures(memory, portal, storage)
    a_rate, b_rate, ratio = headline["a_per_s"], headline["b_per_s"], headline["ratio"]
    b_total = headline["completions"]
    loaded = portal.loaded.completion_ms
    median, p95 = headline["median_ms"], headline["p95_ms"]
    stored = headline["stored_bytes"]
    finished = n - len(portal.unfinished)

    lines = [
        f"Throughput: {n} consignments (config/demo_consignments.json repeated, seed {args.seed}); "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {database_name(args)} "
        f"{getattr(args, 'database_version', '')}",
        f"1-minute load average before the run {args.load_before:.2f}, after {os.getloadavg()[0]:.2f} "
        "(figures from a machine busy with other work are not comparable)",
        "",
        f"{'':40}{'(a) SpiffWorkflow':>20}{'(b) portal, HTTP':>20}",
        f"{'':40}{'in memory':>20}{database_name(args):>20}",
    ]
    for kind in ("user task", "service task", "message"):
        lines.append(f"{'  ' + kind + 's completed':40}{memory.units[kind]:>20}{portal.units[kind]:>20}")
    lines += [
        f"{'task completions':40}{memory.total:>20}{b_total:>20}",
        f"{'wall time (s)':40}{memory.median_seconds:>20.3f}{portal.seconds:>20.2f}",
        f"{'task completions / s':40}{a_rate:>20.1f}{b_rate:>20.1f}",
        f"{'ratio b/a':40}{'':>20}{ratio:>20.3f}",
        "",
        f"(a) median of {len(memory.seconds) + len(memory.seconds_after)} timed passes after a warm-up "
        f"pass, {len(memory.seconds)} before (b) and {len(memory.seconds_after)} after it (the machine's "
        "speed drifts): "
        + ", ".join(f"{s:.3f}" for s in memory.seconds)
        + " | "
        + ", ".join(f"{s:.3f}" for s in memory.seconds_after)
        + " s",
        "(b) first registration to last consignment finished"
        + (
            f" (its finished_at; the status check saw it at {portal.polled_seconds:.2f} s)"
            if portal.polled_seconds
            else ""
        )
        + f", {args.clients} client thread(s), "
        f"{args.clock} clock: "
        f"{finished}/{n} finished, {len(loaded)} completion calls, "
        f"{portal.polls_in_b[0]} inbox polls of {len(inbox_users)} users, "
        f"{portal.polls_in_b[1]} status checks (SQL, beside the portal)"
        + (f", {portal.sweeps} stall sweep(s)" if portal.sweeps else ""),
    ]
    same = memory.per_consignment == portal.per_consignment
    rename = {"registration_rejected": "rejected"}
    same_outcomes = all(rename.get(v, v) == portal.outcomes.get(k) for k, v in memory.outcomes.items())
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(Counter(portal.outcomes.values()).items()))
    lines.append(
        f"    same completions per consignment in (a) and (b): {'yes' if same else 'NO'}; "
        f"same outcomes: {'yes' if same_outcomes else 'NO'} ({outcomes})"
    )
    if not same:
        diff = {
            k: (v, portal.per_consignment.get(k))
            for k, v in memory.per_consignment.items()
            if v != portal.per_consignment.get(k)
        }
        lines.append(f"    differing (a, b): {dict(list(diff.items())[:8])}")

    header = f"{'  step':36}{'calls':>7}{'median':>9}{'p95':>9}{'max':>9}"
    lines += [
        "",
        "Latency of one call (ms), POST /api/v1/work-items/<id>/complete, during the throughput run:",
        header,
        *latency_rows(portal.loaded),
    ]
    if portal.idle.completion_ms:
        lines += [
            "",
            f"... and on a quiet server ({portal.idle_count} more consignments, one at a time):",
            header,
            *latency_rows(portal.idle),
        ]

    if portal.cpu and b_total:
        total_cpu = sum(portal.cpu.values())
        lines += [
            "",
            f"CPU during (b), per task completion ({b_total}), by process "
            f"({total_cpu:.2f} s in all over {portal.polled_seconds or portal.seconds:.2f} s on "
            f"{os.cpu_count()} CPUs):",
        ]
        for name, seconds in sorted(portal.cpu.items(), key=lambda item: -item[1]):
            lines.append(f"{'  ' + name:36}{seconds * 1000 / b_total:>8.2f} ms{seconds / total_cpu:>8.0%}")
        lines.append(f"{'  all':36}{total_cpu * 1000 / b_total:>8.2f} ms")
        lines += split_lines(portal.split, total_cpu, headline)
    lines += storage_lines(storage, stored) + targets(ratio, median, p95, stored, storage)
    return "\n".join(lines)


def database_name(args) -> str:
    return "PostgreSQL" if getattr(args, "database", "sqlite") == "postgresql" else "SQLite"


def storage_lines(storage: Storage, stored: float) -> list[str]:
    if not storage.measured:
        return ["", "Stored bytes per finished consignment: measured on SQLite only (the target's database)."]
    lines = [
        "",
        f"Stored bytes per finished consignment: SQLite dbstat after VACUUM, growth over the freshly "
        f"initialized database / {storage.consignments} (tables include their indexes):",
        f"{'  table':36}{'rows':>8}{'pages B':>10}{'payload B':>11}",
    ]
    for table in sorted(storage.growth, key=lambda t: -storage.growth[t][0]):
        pages, payload, rows = storage.growth[table]
        lines.append(
            f"{'  ' + table:36}{rows / storage.consignments:>8.1f}"
            f"{pages / storage.consignments:>10.0f}{payload / storage.consignments:>11.0f}"
        )
    lines.append(f"{'  total':36}{'':>8}{stored:>10.0f}{storage.per_consignment(column=1):>11.0f}")
    if storage.state_bytes:
        lines.append(
            f"  of which the compressed workflow state (process_instances.state): "
            f"mean {statistics.fmean(storage.state_bytes):.0f} B, max {max(storage.state_bytes)} B"
        )
    if storage.consignments < 40:
        lines.append(
            "  (pages are 4096 B: with few consignments the page figures are coarse; payload is exact)"
        )
    return lines


def targets(ratio: float, median: float, p95: float, stored: float, storage: Storage) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    stored_line = (
        f"  stored per finished consignment  {stored / 1000:>8.1f} KB  "
        f"target <= {TARGET_BYTES / 1000:.0f} KB   "
        f"{verdict(stored <= TARGET_BYTES)}   (1 KB = 1000 B)"
        if storage.measured
        else "  stored per finished consignment  (SQLite only)"
    )
    return [
        "",
        "Targets:",
        f"  ratio b/a                        {ratio:>8.3f}     target >= {TARGET_RATIO:<6}  "
        f"{verdict(ratio >= TARGET_RATIO)}",
        f"  median completion call           {median:>8.1f} ms  target <= {TARGET_MEDIAN_MS:.0f} ms   "
        f"{verdict(median <= TARGET_MEDIAN_MS)}   (p95 {p95:.1f} ms)",
        stored_line,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consignments", type=int, default=50, help="consignments in the run (default 50)")
    parser.add_argument(
        "--clients", type=int, default=2, help="HTTP client threads working the inboxes in (b) (default 2)"
    )
    parser.add_argument(
        "--quiet-consignments",
        type=int,
        default=5,
        help="extra consignments driven one at a time afterwards, for the quiet-server "
        "latency (default 5, 0 to skip; not part of any other figure)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed in-memory passes for (a) (default 5)")
    parser.add_argument("--seed", type=int, default=2016, help="seed for the generated consignments")
    parser.add_argument(
        "--clock",
        choices=("system", "simulated"),
        default="system",
        help="the portal's clock in (b): the system clock, as deployed (default), or the simulated clock of "
        "the demo and the tests, which every command and worker poll reads from the database",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="(b)'s database: embedded SQLite (default; the issue's targets are set on it) or a fresh "
        "database on the PostgreSQL server of --postgres-url (its CPU is counted; storage is not measured)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PORTAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="an existing database on the server, to create and drop the run's own database from",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="give up (b) after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database and logs")
    parser.add_argument("--json", type=Path, help="also write the headline figures to this file (JSON)")
    args = parser.parse_args(argv)
    if min(args.consignments, args.clients, args.repeats) < 1 or args.quiet_consignments < 0:
        parser.error("--consignments, --clients and --repeats must be at least 1")

    args.load_before = os.getloadavg()[0]
    settings = Settings()
    seed_data = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
    username = {(u["organization"], u["role"]): u["username"] for u in seed_data["users"]}
    now = datetime.fromisoformat(settings.simulated_clock_start)
    everything = make_entries(args.consignments + args.quiet_consignments, args.seed)
    entries, quiet = everything[: args.consignments], everything[args.consignments :]
    answers = Answers(everything, seed_data, now)

    print(f"(a) SpiffWorkflow in memory: {len(entries)} consignments ...", file=sys.stderr, flush=True)
    compiled = compile_bundle(load_bundle(settings.bundle_dir), known_topics=KNOWN_TOPICS)
    memory = run_in_memory(entries, compiled.specs, answers, now, args.repeats)
    quiet_plan = run_in_memory(quiet, compiled.specs, answers, now, 0) if quiet else MemoryRun()
    performers = {**memory.performers, **quiet_plan.performers}
    unknown = {p for ps in performers.values() for p in ps if p not in username}
    if unknown:
        raise SystemExit(f"no demo user for performer(s) {sorted(unknown)}")
    users = {number: sorted(username[p] for p in ps) for number, ps in performers.items()}
    inbox_users = sorted({u for e in entries for u in users[e.number]})

    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    try:
        print(f"(b) portal over HTTP: a fresh stack on {workdir} ...", file=sys.stderr, flush=True)
        postgres_url = args.postgres_url if args.database == "postgresql" else None
        portal = Portal(workdir, seed_data, answers, args.clock, postgres_url)
        try:
            result = portal.run(entries, inbox_users, args.clients, args.timeout, quiet, users)
            args.database_version = portal.postgres.version() if portal.postgres else sqlite3.sqlite_version
        finally:
            if portal.postgres and not args.keep:
                portal.postgres.drop()
        print("(a) again, after (b) ...", file=sys.stderr, flush=True)
        time_in_memory(entries, compiled.specs, answers, now, args.repeats, memory.seconds_after)
        finished = args.consignments - len(result.unfinished)
        storage = (
            Storage(max(finished, 1), {}, [], measured=False)
            if portal.postgres
            else measure_storage(portal.snapshot, portal.baseline, finished)
        )
        print(report(args, memory, result, storage, inbox_users))
        if args.json:
            headline = figures(memory, result, storage) | {
                "consignments": args.consignments,
                "load_before": args.load_before,
                "load_after": os.getloadavg()[0],
            }
            args.json.write_text(json.dumps(headline, indent=2) + "\n", encoding="utf-8")
    finally:
        if args.keep:
            kept_db = f" and the database {portal.postgres.name}" if args.database == "postgresql" else ""
            print(f"kept {workdir}{kept_db}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
