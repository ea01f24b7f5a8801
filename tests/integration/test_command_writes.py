"""What a command writes at its end in Core instead of through the ORM's unit of work (app/engine/late_rows):
new work items with the notifications that point at them, new jobs, and the changed columns of the
consignment, its work items and its jobs, with the same revision check the ORM makes. On SQLite and
PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from app.engine.errors import StaleRevision
from app.models import Consignment, Notification, User, WorkItem
from tests.procedure import (
    SAMPLING,
    completes,
    consignment,
    jobs,
    open_work_items,
    trader_registers,
    worker_settles,
)


def notifications_of(portal, work_item_id: int) -> list[Notification]:
    with portal.db.session() as session:
        return list(session.scalars(select(Notification).where(Notification.work_item_id == work_item_id)))


def users_of(portal, organization: str, role: str) -> set[int]:
    with portal.db.session() as session:
        return {
            u.id
            for u in session.scalars(select(User))
            if u.organization is not None and u.organization.code == organization and u.role == role
        }


def test_a_new_work_item_and_its_notifications_are_written_together(portal, live_portal, worker):
    declaration = trader_registers(portal, "C01")
    worker_settles(worker, portal, declaration)  # the port simulator calls back live_portal

    (item,) = [w for w in open_work_items(portal, declaration) if w.step_id == "record_sampling"]
    told = notifications_of(portal, item.id)
    assert {n.user_id for n in told} == users_of(portal, item.organization, item.role)
    assert {(n.kind, n.consignment_id, n.params["step"]) for n in told} == {
        ("new_task", item.consignment_id, item.step_name)
    }


def test_jobs_are_written_once_with_their_idempotency_key(portal):
    declaration = trader_registers(portal, "C01")
    (job,) = jobs(portal, declaration)
    assert (job.step_id, job.state, job.attempts) == ("lookup_declaration", "pending", 0)
    assert job.idempotency_key == f"ci-{job.instance_id}-{job.task_id}"


def test_agency_records_sampling_and_the_item_and_the_consignment_rows_change(portal, live_portal, worker):
    declaration = trader_registers(portal, "C01")
    worker_settles(worker, portal, declaration)
    (item,) = [w for w in open_work_items(portal, declaration) if w.step_id == "record_sampling"]
    with portal.db.session() as session:
        officer = session.scalar(select(User.id).where(User.username == "officer.raho6"))

    done = completes(portal, "officer.raho6", declaration, "record_sampling", SAMPLING)

    assert (done.state, done.completed_by_id) == ("completed", officer)  # what the command returns
    with portal.db.session() as session:
        row = session.get(WorkItem, item.id)
        assert (row.state, row.completed_by_id) == ("completed", officer)
        assert row.completed_at is not None
    after = consignment(portal, declaration)
    assert after.current_step and "ountersign" in after.current_step
    assert [w.step_id for w in open_work_items(portal, declaration)] == ["countersign_sampling"]


@dataclass
class CompleteAfterSomeoneElse:
    """Changes a work item loaded in the session after another writer changed its row: the write at the
    command's end must find the state it read gone, as the ORM's version check would."""

    work_item_id: int

    def execute(self, ctx) -> None:  # noqa: ANN001
        item = ctx.session.get(WorkItem, self.work_item_id)
        consignment_row = ctx.session.get(Consignment, item.consignment_id)
        ctx.session.connection().execute(
            update(WorkItem.__table__).where(WorkItem.__table__.c.id == item.id).values(state="cancelled")
        )
        item.state = "completed"
        consignment_row.current_step = "should not be written"


def test_a_work_item_changed_underneath_fails_the_command_and_writes_nothing(portal, live_portal, worker):
    declaration = trader_registers(portal, "C01")
    worker_settles(worker, portal, declaration)
    (item,) = [w for w in open_work_items(portal, declaration) if w.step_id == "record_sampling"]
    step_before = consignment(portal, declaration).current_step

    with pytest.raises(StaleRevision):
        portal.execute(CompleteAfterSomeoneElse(item.id))

    with portal.db.session() as session:
        assert session.get(WorkItem, item.id).state == "open"  # the other write rolled back with it
    assert consignment(portal, declaration).current_step == step_before


@dataclass
class SetSameValues:
    """Another writer claims the item; this command then sets the item's attributes to the values it
    read. Nothing changed, so nothing is written and no revision check can fail (as with the ORM)."""

    work_item_id: int

    def execute(self, ctx) -> None:  # noqa: ANN001
        item = ctx.session.get(WorkItem, self.work_item_id)
        ctx.session.connection().execute(
            update(WorkItem.__table__).where(WorkItem.__table__.c.id == item.id).values(state="claimed")
        )
        item.state = item.state
        item.step_name = item.step_name


def test_setting_values_an_item_already_had_writes_nothing(portal, live_portal, worker):
    declaration = trader_registers(portal, "C01")
    worker_settles(worker, portal, declaration)
    (item,) = [w for w in open_work_items(portal, declaration) if w.step_id == "record_sampling"]

    portal.execute(SetSameValues(item.id))

    with portal.db.session() as session:
        assert session.get(WorkItem, item.id).state == "claimed"  # the other writer's change stands
