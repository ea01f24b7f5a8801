"""Where one command's time goes: drive consignments through the command executor in this process (no
HTTP, no simulators) and print, per command type, the calls, the mean time, the SQL statements per call
and the time spent holding the database's write lock. Optionally a cProfile of the whole run.

    .venv/bin/python bench/profile_commands.py --consignments 20 [--profile out.prof] [--clock simulated]

A developer's tool next to ``throughput.py``: it asserts nothing and is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, select  # noqa: E402

from app.consignments.registration import parse_registration  # noqa: E402
from app.demo import demo_consignments  # noqa: E402
from app.engine.clock import FixedClock  # noqa: E402
from app.engine.commands import (  # noqa: E402
    ClaimDueJobs,
    CompleteJob,
    CompleteWorkItem,
    CorrelateMessage,
    RegisterConsignment,
)
from app.engine.executor import Actor  # noqa: E402
from app.models import Consignment, User, WorkItem  # noqa: E402
from app.services import build_portal  # noqa: E402
from app.settings import PROJECT_ROOT, Settings  # noqa: E402
from app.signing.pki import DEMO_PIN  # noqa: E402
from app.signing.service import PinSigning  # noqa: E402

# What each connector answers (the simulators' answers, shortened).
CONNECTOR_RESULTS = {
    "customs.lookup_declaration": {"status": "accepted"},
    "port.move_containers": {"move_ref": "MV-000001"},
    "payment.capture": {"payment_ref": "PAY-000001", "status": "captured"},
    "customs.clear": {"clearance_no": "CL-000001"},
}


class Meter:
    """Count statements and time per command type; time the write lock (BEGIN IMMEDIATE to COMMIT)."""

    def __init__(self, engine) -> None:
        self.statements = 0
        self.lock_started: float | None = None
        self.lock_seconds = 0.0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._commit)

    def _statement(self, conn, cursor, statement, *args) -> None:  # noqa: ANN001
        self.statements += 1
        if self.lock_started is None and (
            statement.startswith("BEGIN IMMEDIATE")
            or statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        ):
            self.lock_started = time.perf_counter()

    def _commit(self, conn) -> None:  # noqa: ANN001
        if self.lock_started is not None:
            self.lock_seconds += time.perf_counter() - self.lock_started
            self.lock_started = None


class Phases:
    """Time the phases of every command by wrapping the functions that do them (this process only)."""

    def __init__(self, portal) -> None:  # noqa: ANN001
        from sqlalchemy.orm import Session, SessionTransaction

        from app.engine import audit, executor, projections
        from app.engine.commands import work_items

        self.seconds: dict[str, float] = defaultdict(float)
        self._depth: dict[str, int] = defaultdict(int)
        ctx = executor.CommandContext
        self._wrap(ctx, "load", "load the workflow (warm cache or deserialize)")
        self._wrap(ctx, "run_engine", "engine steps")
        self._wrap(projections, "sync", "projections.sync (work items, jobs, status)")
        self._wrap(ctx, "serialize", "serialize the workflow")
        self._wrap(ctx, "write_late_rows", "ORM flush, timeline rows, counters")
        self._wrap(audit, "seal", "audit seal (hashes, INSERT, head)")
        self._wrap(work_items, "sign_decision", "signing (PIN key, signature, certificate)")
        self._wrap(work_items, "validate_form", "form validation")
        self._wrap(portal.clock, "now", "clock")
        self._wrap(ctx, "timeline", "timeline rows (working hours per step)")
        self._wrap(Session, "get", "ORM loads by primary key (Session.get)")
        self._wrap(SessionTransaction, "commit", "commit")

    def _wrap(self, owner, name: str, label: str) -> None:  # noqa: ANN001
        original = getattr(owner, name)
        seconds, depth = self.seconds, self._depth

        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            depth[label] += 1
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                depth[label] -= 1
                if not depth[label]:
                    seconds[label] += time.process_time() - started

        setattr(owner, name, timed)

    def report(self, commands: int, total_seconds: float) -> None:
        """One line per phase; phases can nest (a primary-key load inside a command's own code counts in
        both), so the shares are each a part of the whole, not a partition of it."""
        print(f"where the CPU time goes, mean per command over all {commands} commands (CPU ms):")
        accounted = 0.0
        for label, value in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            accounted += value
            print(f"  {label:52}{value * 1000 / commands:>7.2f}{100 * value / total_seconds:>6.0f} %")
        rest = total_seconds - accounted
        print(
            f"  {'the rest (sessions, other queries, command logic)':52}{rest * 1000 / commands:>7.2f}"
            f"{100 * rest / total_seconds:>6.0f} %"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consignments", type=int, default=20)
    parser.add_argument("--profile", help="write a cProfile of the driven part to this file")
    parser.add_argument("--clock", choices=("fixed", "simulated"), default="simulated")
    parser.add_argument("--top", type=int, default=0, help="print the top N cumulative profile entries")
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also print where the commands' CPU time goes: load, engine, projections, serialization, "
        "writes, audit seal, signing, form validation, clock (outermost call of each phase only)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="empty the warm workflow cache before each command (as when commands on one consignment "
        "land in different processes)",
    )
    args = parser.parse_args(argv)

    from app.cli import initialize

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from throughput import Answers, Entry  # the same form data as the throughput benchmark

    workdir = Path(tempfile.mkdtemp(prefix="portal-profile-"))
    try:
        url = f"sqlite:///{workdir / 'profile.db'}"
        settings = Settings.from_env(database_url=url, clock="simulated")
        initialize(settings, demo=True)
        start = datetime.fromisoformat(settings.simulated_clock_start)
        portal = build_portal(settings, clock=FixedClock(start) if args.clock == "fixed" else None)
        portal.warm_up()  # as every web and worker process does before its first command
        seed = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
        entries = [
            Entry(e["trader"], e["payload"], e["fail"])
            for e in demo_consignments(args.consignments, random.Random(2016))
        ]
        answers = Answers(entries, seed, start)
        with portal.db.session() as session:
            actors = {
                (u.organization.code, u.role): Actor(u.username, u.organization.code, u.role, u.id)
                for u in session.scalars(select(User))
            }
        port = next(a for (org, role), a in actors.items() if role == "port_operator")

        phases = Phases(portal) if args.phases else None
        meter = Meter(portal.db.engine)
        stats: dict[str, list[tuple[float, int, float, float]]] = defaultdict(list)

        def run(command, actor=None):
            if args.cold:
                portal.runtime.workflows = type(portal.runtime.workflows)()
            statements, lock = meter.statements, meter.lock_seconds
            started, cpu = time.perf_counter(), time.process_time()
            result = portal.execute(command, actor)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            stats[type(command).__name__].append(
                (elapsed, meter.statements - statements, meter.lock_seconds - lock, cpu)
            )
            return result

        profiler = cProfile.Profile() if args.profile or args.top else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for entry in entries:
            run(
                RegisterConsignment(parse_registration(entry.payload)),
                actors[(entry.trader, "trader")],
            )
        numbers = {}
        with portal.db.session() as session:
            numbers = dict(session.execute(select(Consignment.id, Consignment.declaration_no)).all())
        for _round in range(100):
            progressed = 0
            for ticket in run(ClaimDueJobs("profiler", limit=50)):
                result = CONNECTOR_RESULTS[ticket.topic]
                run(CompleteJob(ticket.id, "profiler", result))
                progressed += 1
                if ticket.topic == "port.move_containers":
                    containers = ticket.inputs["containers"]
                    payload = {
                        "move_ref": "MV-000001",
                        "positions": [
                            {"container_no": n, "position": f"SA-A-{i:03d}"} for i, n in enumerate(containers)
                        ],
                    }
                    run(
                        CorrelateMessage(ticket.inputs["declaration_no"], "ContainerPositioned", payload),
                        port,
                    )
            with portal.db.session() as session:
                items = list(session.scalars(select(WorkItem).where(WorkItem.state == "open")))
            for item in items:
                data = answers(item.step_id, numbers[item.consignment_id])
                signing = PinSigning(DEMO_PIN) if item.signature_required else None
                run(CompleteWorkItem(item.id, data, signing=signing), actors[(item.organization, item.role)])
                progressed += 1
            if not progressed:
                if isinstance(portal.clock, FixedClock):
                    portal.clock.advance(timedelta(seconds=1))
                break
        if profiler:
            profiler.disable()
        total = time.perf_counter() - started

        with portal.db.session() as session:
            statuses = defaultdict(int)
            for status in session.scalars(select(Consignment.status)):
                statuses[status] += 1
        print(f"{args.consignments} consignments in {total:.2f} s; statuses {dict(statuses)}")
        print("mean per call; CPU ms is this process's CPU time, the figure least disturbed by other load")
        print(f"{'command':24}{'calls':>7}{'wall ms':>10}{'CPU ms':>9}{'lock ms':>9}{'SQL/call':>10}")
        for name, rows in sorted(stats.items(), key=lambda kv: -len(kv[1])):
            print(
                f"{name:24}{len(rows):>7}{statistics.fmean(r[0] * 1000 for r in rows):>10.2f}"
                f"{statistics.fmean(r[3] * 1000 for r in rows):>9.2f}"
                f"{statistics.fmean(r[2] * 1000 for r in rows):>9.2f}"
                f"{statistics.fmean(r[1] for r in rows):>10.1f}"
            )
        every = [r for rows in stats.values() for r in rows]
        print(
            f"{'all':24}{len(every):>7}{statistics.fmean(r[0] * 1000 for r in every):>10.2f}"
            f"{statistics.fmean(r[3] * 1000 for r in every):>9.2f}"
            f"{statistics.fmean(r[2] * 1000 for r in every):>9.2f}"
            f"{statistics.fmean(r[1] for r in every):>10.1f}"
        )
        if phases is not None:
            phases.report(
                sum(len(rows) for rows in stats.values()), sum(r[0] for v in stats.values() for r in v)
            )
        if profiler:
            if args.profile:
                profiler.dump_stats(args.profile)
            if args.top:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        portal.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
