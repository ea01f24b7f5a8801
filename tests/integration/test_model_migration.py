"""Bulk migration of running consignments from version 1 to version 2 (tests/model_versions.py): a dry run
first changes nothing; the run moves every movable consignment and lists the others with the reason;
nothing is lost or duplicated (consignments, work items, jobs, timers, timeline and audit events per
consignment); a moved consignment then finishes the procedure on version 2.

1,000 consignments on SQLite, fewer on PostgreSQL. They are made through the same commands the portal
runs (registration, job results, the port's callback, task completion), in groups that stop at different
steps, with the injected clock standing still."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from sqlalchemy import func, select

from app.consignments.registration import parse_registration
from app.demo import demo_consignments
from app.engine.audit import verify_chain
from app.engine.commands import (
    ClaimDueJobs,
    CompleteJob,
    CompleteWorkItem,
    CorrelateMessage,
    DeployBundle,
    RegisterConsignment,
)
from app.engine.executor import SYSTEM, Actor
from app.engine.migration_runs import preview_migration, run_migration
from app.models import AuditEvent, Consignment, Job, ProcessInstance, TimelineEvent, WorkItem
from app.services import build_portal
from app.settings import Settings
from app.signing.pki import DEMO_PIN
from app.signing.service import PinSigning, StoredSignatureCheck
from app.tasks import KNOWN_TOPICS
from tests.model_versions import RENAMED, version_2
from tests.procedure import COUNTERSIGN, PASS, PAYMENT, SAMPLING, officer_of

pytestmark = pytest.mark.timeout(300)

ADMIN = Actor("admin", None, "admin")
ANALYST = Actor("analyst.studio", None, "analyst")
JOB_RESULTS = {
    "customs.lookup_declaration": {"status": "accepted"},
    "port.move_containers": {"move_ref": "MV-TEST"},
    "payment.capture": {"payment_ref": "PAY-TEST"},
    "customs.clear": {"clearance_no": "CL-TEST"},
}
NOMINATING, PRESERVING, FAILING, AIR = 2, 3, 8, 9  # demo templates C03, C04, C09, C10


@pytest.fixture
def portal(database_url, clock, pki_dir):
    services = build_portal(Settings(database_url=database_url, pki_dir=pki_dir), clock=clock)
    yield services
    services.close()


# -- making running consignments ---------------------------------------------------------------------------
class Consignments:
    """Register consignments in groups and drive each group to the step it should wait at."""

    def __init__(self, portal, count: int) -> None:
        self.portal = portal
        rng = random.Random(count)
        self._pool = [(i % 10, e) for i, e in enumerate(demo_consignments(10 + 4 * count, rng)) if i >= 10]
        self.groups: dict[str, list[str]] = {}

    def take(self, count: int, templates) -> list[dict[str, Any]]:
        picked = [entry for entry in self._pool if entry[0] in templates][:count]
        assert len(picked) == count
        for entry in picked:
            self._pool.remove(entry)
        return [entry[1] for entry in picked]

    def register(self, group: str, count: int, templates=range(10)) -> list[str]:
        numbers = []
        for entry in self.take(count, templates):
            payload = dict(entry["payload"], trader=entry["trader"])
            consignment = self.portal.execute(RegisterConsignment(parse_registration(payload)), ADMIN)
            numbers.append(consignment.declaration_no)
        self.groups[group] = numbers
        return numbers

    def finish_due_jobs(self) -> None:
        """Claim every job due now and report the connector's answer for each (the jobs this creates wait)."""
        for ticket in self.portal.execute(ClaimDueJobs("test-worker", limit=100_000)):
            self.portal.execute(CompleteJob(ticket.id, "test-worker", JOB_RESULTS[ticket.topic]))

    def port_reports_positions(self, numbers: list[str]) -> None:
        for number in numbers:
            payload = {"move_ref": "MV-TEST", "positions": [{"container_no": "X", "position": "SA-01-01"}]}
            self.portal.execute(CorrelateMessage(number, "ContainerPositioned", payload), SYSTEM)

    def complete(self, numbers: list[str], step_id: str, data_for) -> None:
        complete_steps(self.portal, numbers, step_id, data_for)


def complete_steps(portal, numbers: list[str], step_id: str, data_for) -> None:
    """Complete the open ``step_id`` work item of each consignment with ``data_for(containers)``."""
    with portal.db.session() as session:
        items = session.execute(
            select(WorkItem.id, Consignment.containers, WorkItem.signature_required)
            .add_columns(WorkItem.organization, WorkItem.role)
            .join(Consignment, WorkItem.consignment_id == Consignment.id)
            .where(
                Consignment.declaration_no.in_(numbers),
                WorkItem.step_id == step_id,
                WorkItem.state == "open",
            )
        ).all()
    assert len(items) == len(numbers), f"{len(items)} open '{step_id}' for {len(numbers)} consignments"
    officers: dict[tuple[str, str], Actor] = {}
    for item_id, containers, signed, organization, role in items:
        if not signed:
            portal.execute(CompleteWorkItem(item_id, data_for(containers)), SYSTEM)
            continue
        if (organization, role) not in officers:  # a signed step is signed by one of its own officers
            officers[organization, role] = officer_of(portal, organization, role)
        command = CompleteWorkItem(item_id, data_for(containers), signing=PinSigning(DEMO_PIN))
        portal.execute(command, officers[organization, role])


def make_running_consignments(portal, count: int) -> Consignments:
    """Consignments waiting at every kind of step; the groups say which can move to version 2.

    Each group's jobs are finished right after it registers; a later pass may carry an earlier group's
    pending port move along, which changes nothing about whether it can move.
    """
    share = count / 1000
    made = Consignments(portal, count)
    by_port = [t for t in range(10) if t not in (NOMINATING, PRESERVING, FAILING, AIR)]
    nominated = made.register("nominated (a removed step)", max(1, round(20 * share)), [NOMINATING])
    made.finish_due_jobs()
    made.complete(
        nominated, "nominate_containers", lambda containers: {"nominated_containers": containers[:2]}
    )
    for group, size, last_step in (
        ("at payment (gained a timer)", 30, "publish_result"),
        ("at the inspection result", 40, "record_sampling"),
        ("at sampling (renamed)", 60, None),
    ):
        numbers = made.register(group, max(1, round(size * share)), by_port)
        made.finish_due_jobs()  # the customs check
        made.finish_due_jobs()  # the port move
        made.port_reports_positions(numbers)
        if last_step is not None:
            made.complete(numbers, "record_sampling", lambda _c: SAMPLING)
            made.complete(numbers, "countersign_sampling", lambda _c: COUNTERSIGN)  # the trader countersigns
        if last_step == "publish_result":
            made.complete(numbers, "publish_result", lambda _c: PASS)
    made.register("after the customs check", max(3, round(400 * share)))
    made.finish_due_jobs()  # their port moves stay pending, or they wait for nomination or sampling
    made.register("at the customs check", count - sum(len(g) for g in made.groups.values()))
    return made


# -- what must not change ------------------------------------------------------------------------------------
def picture(portal) -> dict[str, dict[str, Any]]:
    """Per consignment: model version, open work items, jobs, next timer, timeline and audit counts."""
    with portal.db.session() as session:
        rows = session.execute(
            select(Consignment.id, Consignment.declaration_no, Consignment.status, ProcessInstance).join(
                ProcessInstance, Consignment.instance_id == ProcessInstance.id
            )
        ).all()
        items: dict[int, list] = defaultdict(list)
        for item in session.scalars(select(WorkItem).where(WorkItem.state.in_(("open", "claimed")))):
            items[item.consignment_id].append(
                (item.id, item.task_id, item.step_id, item.organization, item.role, item.due_at, item.state)
            )
        names = {
            (item.consignment_id, item.step_id): item.step_name
            for item in session.scalars(select(WorkItem).where(WorkItem.state == "open"))
        }
        jobs: dict[int, list] = defaultdict(list)
        for job in session.scalars(select(Job)):
            jobs[job.consignment_id].append((job.id, job.task_id, job.topic, job.state, job.idempotency_key))
        timeline = Counter(
            dict(
                session.execute(
                    select(TimelineEvent.consignment_id, func.count()).group_by(TimelineEvent.consignment_id)
                ).all()
            )
        )
        migrations = Counter(
            dict(
                session.execute(
                    select(TimelineEvent.consignment_id, func.count())
                    .where(TimelineEvent.kind == "migration")
                    .group_by(TimelineEvent.consignment_id)
                ).all()
            )
        )
        audit = Counter(
            dict(
                session.execute(
                    select(AuditEvent.consignment_id, func.count()).group_by(AuditEvent.consignment_id)
                ).all()
            )
        )
        moved_events = Counter(
            dict(
                session.execute(
                    select(AuditEvent.consignment_id, func.count())
                    .where(AuditEvent.action == "consignment_migrated")
                    .group_by(AuditEvent.consignment_id)
                ).all()
            )
        )
    return {
        number: {
            "version_id": instance.model_version_id,
            "status": status,
            "items": sorted(items[cid]),
            "item_names": {step: name for (c, step), name in names.items() if c == cid},
            "jobs": sorted(jobs[cid]),
            "next_timer_at": instance.next_timer_at,
            "timeline": timeline[cid],
            "migration_rows": migrations[cid],
            "audit": audit[cid],
            "migrated_events": moved_events[cid],
        }
        for cid, number, status, instance in rows
    }


def work_item_count(portal) -> int:
    with portal.db.session() as session:
        return session.scalar(select(func.count()).select_from(WorkItem))


# -- the test ------------------------------------------------------------------------------------------------
def test_bulk_migration_moves_what_can_move_and_loses_nothing(portal, database_url):
    count = 1000 if database_url.startswith("sqlite") else 60
    started = time.perf_counter()
    made = make_running_consignments(portal, count)
    portal.execute(DeployBundle(version_2(), note="version 2", known_topics=KNOWN_TOPICS), ANALYST)
    made_in = time.perf_counter() - started
    before, items_before = picture(portal), work_item_count(portal)
    assert len(before) == count

    dry = run_migration(portal, 1, 2, actor=ANALYST, dry_run=True)
    assert picture(portal) == before and dry.moved == []
    cannot = {v.declaration_no: v.reasons for v in dry.preview.not_movable}
    at_nomination = {n for n, b in before.items() if "nominate_containers" in {i[2] for i in b["items"]}}
    expected_blocked = (
        set(made.groups["at payment (gained a timer)"])
        | set(made.groups["nominated (a removed step)"])
        | at_nomination
    )
    assert set(cannot) == expected_blocked
    for number in at_nomination:
        assert cannot[number] == [
            "'Nominate containers for inspection' (nominate_containers): the consignment is at this step "
            "(ready); it was removed in version 2"
        ]
    for number in made.groups["nominated (a removed step)"]:
        assert "already completed; the step was removed in version 2" in cannot[number][0]
    for number in made.groups["at payment (gained a timer)"]:
        assert "gained a boundary event" in cannot[number][0]
    movable = {v.declaration_no for v in dry.preview.movable}
    assert len(movable) + len(cannot) == count

    migrated_at = time.perf_counter()
    report = run_migration(portal, 1, 2, actor=ANALYST)
    seconds = time.perf_counter() - migrated_at
    assert report.failed == {}
    assert set(report.moved) == movable
    print(
        f"\n{count} consignments made in {made_in:.1f} s; dry run {dry.seconds:.1f} s; "
        f"{len(movable)} moved in {seconds:.1f} s"
    )

    after = picture(portal)
    assert set(after) == set(before)
    assert work_item_count(portal) == items_before  # nothing opened twice, nothing closed
    v1, v2 = before[next(iter(before))]["version_id"], None
    for number, then in before.items():
        now = after[number]
        moved = number in movable
        assert now["items"] == then["items"], number
        assert now["jobs"] == then["jobs"], number
        assert now["next_timer_at"] == then["next_timer_at"], number
        assert now["status"] == then["status"]
        assert now["timeline"] == then["timeline"] + moved
        assert now["migration_rows"] == int(moved)
        assert now["audit"] == then["audit"] + moved
        assert now["migrated_events"] == int(moved)
        if moved:
            v2 = v2 or now["version_id"]
            assert now["version_id"] == v2 != v1
        else:
            assert now["version_id"] == v1
    step, _old_name, new_name = RENAMED
    renamed = [n for n in movable if step in after[n]["item_names"]]
    assert renamed and all(after[n]["item_names"][step] == new_name for n in renamed)
    with portal.db.session() as session:
        report = verify_chain(session, StoredSignatureCheck(session, portal.settings))
        assert report.broken is None and report.signed > 0  # the moves joined the chain; signatures hold

    again = preview_migration(portal, 1, 2)
    assert {v.declaration_no for v in again.verdicts} == expected_blocked and not again.movable

    finish_on_version_2(portal, made.groups["at sampling (renamed)"][0])


def finish_on_version_2(portal, number: str) -> None:
    """A moved consignment works through the rest of the procedure with version 2's steps and fees."""
    complete_steps(portal, [number], "record_sampling", lambda _c: SAMPLING)
    complete_steps(portal, [number], "countersign_sampling", lambda _c: COUNTERSIGN)
    complete_steps(portal, [number], "publish_result", lambda _c: PASS)
    with portal.db.session() as session:
        consignment = session.scalar(select(Consignment).where(Consignment.declaration_no == number))
        instance = session.get(ProcessInstance, consignment.instance_id)
        assert instance.next_timer_at is not None  # version 2's payment SLA is armed
    complete_steps(portal, [number], "pay_fees", lambda _c: PAYMENT)
    for topic in ("payment.capture", "customs.clear"):
        tickets = portal.execute(ClaimDueJobs("finisher", limit=10_000))
        [ticket] = [t for t in tickets if t.topic == topic and t.inputs["declaration_no"] == number]
        portal.execute(CompleteJob(ticket.id, "finisher", JOB_RESULTS[topic]))
    with portal.db.session() as session:
        consignment = session.scalar(select(Consignment).where(Consignment.declaration_no == number))
        assert consignment.status == "cleared"
        steps = list(
            session.scalars(
                select(TimelineEvent.step_id)
                .where(TimelineEvent.consignment_id == consignment.id)
                .order_by(TimelineEvent.id)
            )
        )
    assert steps.index("model_version") < steps.index("record_sampling") < steps.index("cleared")
