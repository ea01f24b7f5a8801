"""How commands of one process run side by side: one at a time on SQLite (they could not run in parallel in
CPython anyway, and interleaved they would hold SQLite's single write lock longer), overlapping on
PostgreSQL, where their round trips to the server can overlap. Many at once, every one succeeds: the
audit trail's single chain is a queue at the end of each command, not a race that fails some of them."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select, text, update

from app.consignments.registration import parse_registration
from app.db import POSTGRES_WRITE_LOCK
from app.demo import demo_consignments
from app.engine.audit import verify_chain
from app.engine.commands import DetectStalledConsignments, FireDueTimers, RegisterConsignment
from app.engine.executor import CommandContext
from app.models import AuditEvent, AuditHead, Consignment, Escalation
from app.services import build_portal
from tests.concurrency import at_once, meet_before
from tests.procedure import actor, open_work_items, trader_registers


@pytest.fixture
def second_portal(portal, clock):
    """Another process's executor, caches and connections on the same database (a second worker)."""
    services = build_portal(portal.settings, clock=clock)
    yield services
    services.close()


@dataclass
class Pause:
    """A command that only waits a moment and notes when it ran (it changes nothing)."""

    seconds: float
    ran: list[tuple[float, float]] = field(default_factory=list)

    def execute(self, ctx) -> None:  # noqa: ANN001
        started = time.monotonic()
        time.sleep(self.seconds)
        self.ran.append((started, time.monotonic()))


def run_together(portal, commands: list[Pause]) -> list[tuple[float, float]]:
    threads = [threading.Thread(target=portal.execute, args=(c,)) for c in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return sorted(span for c in commands for span in c.ran)


def test_commands_of_one_process_take_turns_on_sqlite_and_overlap_on_postgresql(portal):
    (first_start, first_end), (second_start, _) = run_together(portal, [Pause(0.2), Pause(0.2)])
    if portal.db.engine.dialect.name == "sqlite":
        assert second_start >= first_end
    else:
        assert second_start < first_end


def test_a_command_run_from_inside_another_does_not_wait_for_itself(portal):
    inner = Pause(0.0)

    @dataclass
    class Outer:
        def execute(self, ctx) -> None:  # noqa: ANN001
            portal.execute(inner)

    portal.execute(Outer())
    assert len(inner.ran) == 1


# -- many commands at once: the audit trail is one chain, and appending to it must not fail anyone ------
@dataclass
class AppendEvent:
    """A command that only appends one audit event, and counts how often it ran."""

    runs: int = 0

    def execute(self, ctx) -> None:  # noqa: ANN001
        self.runs += 1
        time.sleep(0.002)  # long enough for the others to read the same chain head
        ctx.record(None, "probe", {"run": self.runs})


def from_threads(work, items: list, threads: int = 16) -> list[str]:
    """Run ``work(item)`` for every item from ``threads`` threads at once; return the errors raised."""
    errors: list[str] = []

    def run(batch) -> None:  # noqa: ANN001
        for item in batch:
            try:
                work(item)
            except Exception as exc:  # noqa: BLE001 - the test reports every failure
                errors.append(f"{type(exc).__name__}: {exc}")

    pool = [threading.Thread(target=run, args=(items[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    return errors


def chain_holds(portal) -> bool:
    with portal.db.session() as session:
        report = verify_chain(session)
    return report.broken is None


def test_sixteen_commands_appending_at_once_each_run_once_and_all_succeed(portal):
    # On PostgreSQL each command waits for the chain's head at its end (FOR UPDATE) rather than colliding
    # on the next event id and running again: before, half of 400 such commands failed with 409 after
    # five runs each.
    commands = [AppendEvent() for _ in range(400)]

    errors = from_threads(portal.execute, commands)

    assert errors == []
    assert [c.runs for c in commands] == [1] * 400
    assert chain_holds(portal)


def test_eighty_traders_registering_from_sixteen_threads_all_get_their_consignment(portal):
    entries = [e for i, e in enumerate(demo_consignments(90, random.Random(5))) if i >= 10]
    traders = {e["trader"]: actor(portal, f"trader.{e['trader'].lower()}") for e in entries}

    errors = from_threads(
        lambda e: portal.execute(RegisterConsignment(parse_registration(e["payload"])), traders[e["trader"]]),
        entries,
    )

    assert errors == []  # before: 12 of 80 got 409 "too much contention on the audit trail" on PostgreSQL
    with portal.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Consignment)) == 80
    assert chain_holds(portal)


@dataclass
class RecordOnce:
    """A pessimistic command that reads, thinks a moment, then writes what it read decided: record the
    ``probe`` event unless one exists. Run twice at once, exactly one may record it."""

    recorded: bool = False

    def execute(self, ctx) -> None:  # noqa: ANN001
        seen = ctx.session.scalar(select(func.count()).where(AuditEvent.action == "probe_once"))
        time.sleep(0.2)  # the other command reads meanwhile, unless it waits for this one
        if not seen:
            ctx.record(None, "probe_once", {})
            self.recorded = True


def test_two_pessimistic_commands_at_once_each_see_what_the_other_wrote(portal):
    # SQLite's write lock makes a pessimistic command wait for the other from its start; on PostgreSQL
    # the executor takes the portal's write lock (an advisory lock) the same way. Without it both read
    # "none yet" and both wrote, as two workers' stalled-consignment scans would.
    commands = [RecordOnce(), RecordOnce()]

    assert from_threads(portal.execute, commands, threads=2) == []

    assert sorted(c.recorded for c in commands) == [False, True]
    with portal.db.session() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "probe_once")) == 1


def test_two_workers_scanning_for_stalled_consignments_at_once_raise_one_escalation(
    portal, second_portal, clock
):
    number = trader_registers(portal, "C01")
    clock.set(datetime.fromisoformat("2026-12-09T10:00:00+07:00"))  # idle for two working days
    scans = [(portal, DetectStalledConsignments()), (second_portal, DetectStalledConsignments())]

    assert from_threads(lambda scan: scan[0].execute(scan[1]), scans, threads=2) == []

    with portal.db.session() as session:
        kinds = list(
            session.scalars(
                select(Escalation.kind).join(Consignment).where(Consignment.declaration_no == number)
            )
        )
    assert kinds == ["stalled"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_a_pessimistic_command_holds_the_write_lock_and_an_optimistic_one_never_waits_for_it(
    portal,
):
    """A pessimistic command's session holds the portal's advisory lock from its start to its end; an
    optimistic one's reads, row locks and writes take none of it, so it never waits for the lock while it
    holds a row lock, and no two commands can deadlock through it."""

    def write_lock_is_free() -> bool:
        with portal.db.engine.connect() as other:
            return bool(other.scalar(text(f"SELECT pg_try_advisory_xact_lock({POSTGRES_WRITE_LOCK})")))

    pessimistic = portal.db.write_session()
    with pessimistic.begin():
        pessimistic.scalar(select(AuditHead.last_id))
        assert not write_lock_is_free()
    pessimistic.close()
    assert write_lock_is_free()

    optimistic = portal.db.late_lock_session()
    with optimistic.begin():
        optimistic.scalar(select(AuditHead.last_id).with_for_update())
        optimistic.execute(update(AuditHead).values(last_id=AuditHead.last_id))
        assert write_lock_is_free()
    optimistic.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lock_wait_on_postgresql_gives_up_after_thirty_seconds_as_on_sqlite(portal):
    with portal.db.engine.connect() as connection:
        assert connection.scalar(text("SHOW lock_timeout")) == "30s"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_firing_the_same_due_timer_at_once_fire_it_once_and_the_other_skips_it(
    portal, second_portal, worker, simulators, clock, monkeypatch
):
    """Workers claim due timers with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL): the second one passes over
    the instance the first is firing instead of restoring its workflow too and losing the race at the end
    (the timer stays due for its next pass if the first one fails). Both are made to meet after the
    claim, up to 2 s: with the lock the second never gets there."""
    requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "error"}, timeout=5)
    try:
        number = trader_registers(portal, "C02")
        for _ in range(3):
            worker.run_due_jobs()  # the port is down: its move stays pending, the 12-hour SLA runs
    finally:
        requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "ok"}, timeout=5)
    clock.advance(timedelta(hours=12, minutes=1))
    with portal.db.session() as session:
        instance_id = session.scalar(
            select(Consignment.instance_id).where(Consignment.declaration_no == number)
        )
    loads: list[int] = []
    original_load = CommandContext.load

    def counted_load(ctx, consignment):  # noqa: ANN001
        loads.append(consignment.id)
        return original_load(ctx, consignment)

    monkeypatch.setattr(CommandContext, "load", counted_load)
    meet_before(monkeypatch, CommandContext, "load")

    fired = at_once(
        lambda: portal.execute(FireDueTimers(instance_id)),
        lambda: second_portal.execute(FireDueTimers(instance_id)),
    )

    assert sorted(fired) == [False, True]
    assert len(loads) == 1  # the skipping worker restored nothing
    escalations = [w.step_id for w in open_work_items(portal, number) if w.escalation]
    assert escalations == ["escalate_port_move"]
