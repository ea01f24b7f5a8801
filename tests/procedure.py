"""Helpers that let tests read like the procedure: who does which step, with which form data.

Everything goes through the same commands and API the users run; nothing here touches the engine's
internals."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from app.consignments.registration import parse_registration
from app.engine.commands import CompleteWorkItem, CorrelateMessage, RegisterConsignment
from app.engine.executor import Actor
from app.models import Consignment, Job, TimelineEvent, User, WorkItem
from app.settings import PROJECT_ROOT
from app.signing.pki import DEMO_PIN
from app.signing.service import PinSigning

DEMO = json.loads((PROJECT_ROOT / "config" / "demo_consignments.json").read_text(encoding="utf-8"))
BY_ID = {c["id"]: c for c in DEMO}


def registration(consignment_id: str, **overrides: Any) -> dict[str, Any]:
    """The registration a trader submits for one of the demo consignments."""
    c = BY_ID[consignment_id]
    payload = {
        "declaration_no": c["declaration_no"],
        "declaration_type": c["declaration_type"],
        "customs_branch": c["customs_branch"],
        "goods": c["goods"],
        "hs_codes": [c["hs8"]],
        "containers": list(c["containers"]),
        "bill_of_lading": f"HCM{c['declaration_no'][-8:]}",
        "sampling_place": "Cat Lai inspection yard",
    }
    if c.get("awb"):
        payload["awb"] = c["awb"]
    payload.update(overrides)
    return payload


def trader_username(consignment_id: str) -> str:
    return f"trader.{BY_ID[consignment_id]['trader_code'].lower()}"


def actor(portal, username: str) -> Actor:
    with portal.db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        return Actor(user.username, user.organization.code, user.role, user.id)


def officer_of(portal, organization: str, role: str) -> Actor:
    """The first user with ``role`` in ``organization`` (the demo seed has one for every step)."""
    with portal.db.session() as session:
        user = session.scalar(
            select(User).where(User.role == role, User.organization.has(code=organization)).order_by(User.id)
        )
        assert user is not None, f"no {role} of {organization} in the seed"
        return Actor(user.username, organization, role, user.id)


def trader_registers(portal, consignment_id: str, **overrides: Any) -> str:
    payload = registration(consignment_id, **overrides)
    portal.execute(
        RegisterConsignment(parse_registration(payload)), actor(portal, trader_username(consignment_id))
    )
    return payload["declaration_no"]


def consignment(portal, declaration_no: str) -> Consignment:
    with portal.db.session() as session:
        return session.scalar(select(Consignment).where(Consignment.declaration_no == declaration_no))


def open_work_items(portal, declaration_no: str) -> list[WorkItem]:
    with portal.db.session() as session:
        c = session.scalar(select(Consignment).where(Consignment.declaration_no == declaration_no))
        return list(
            session.scalars(
                select(WorkItem)
                .where(WorkItem.consignment_id == c.id, WorkItem.state.in_(("open", "claimed")))
                .order_by(WorkItem.id)
            )
        )


def work_item(portal, declaration_no: str, step_id: str) -> WorkItem:
    items = [w for w in open_work_items(portal, declaration_no) if w.step_id == step_id]
    open_steps = [w.step_id for w in open_work_items(portal, declaration_no)]
    assert items, f"no open '{step_id}' for {declaration_no}; open: {open_steps}"
    return items[0]


def completes(
    portal, username: str, declaration_no: str, step_id: str, data: dict[str, Any], signing: Any = None
) -> WorkItem:
    """``username`` submits the step's form; a step the model marks as signed is signed with the demo PIN
    unless the test gives its own ``signing``."""
    item = work_item(portal, declaration_no, step_id)
    if signing is None and item.signature_required:
        signing = PinSigning(DEMO_PIN)
    return portal.execute(CompleteWorkItem(item.id, data, signing=signing), actor(portal, username))


def trader_countersigns(portal, declaration_no: str, data: dict[str, Any] | None = None) -> WorkItem:
    """The consignment's trader countersigns the sampling record the agency signed (the portal fills in
    the record's SHA-256), signing with the demo PIN."""
    trader = f"trader.{work_item(portal, declaration_no, 'countersign_sampling').organization.lower()}"
    return completes(portal, trader, declaration_no, "countersign_sampling", data or COUNTERSIGN)


def port_reports_positions(portal, declaration_no: str) -> bool:
    c = consignment(portal, declaration_no)
    payload = {
        "move_ref": "MV-TEST",
        "positions": [{"container_no": n, "position": "SA-01-01"} for n in c.containers],
    }
    return portal.execute(
        CorrelateMessage(declaration_no, "ContainerPositioned", payload), actor(portal, "operator.snp")
    )


def jobs(portal, declaration_no: str) -> list[Job]:
    with portal.db.session() as session:
        c = session.scalar(select(Consignment).where(Consignment.declaration_no == declaration_no))
        return list(session.scalars(select(Job).where(Job.consignment_id == c.id).order_by(Job.id)))


def services_run(portal, declaration_no: str) -> dict[str, dict]:
    """The service steps a consignment ran, from its timeline: step id -> {system, attempts, key}.

    A finished consignment keeps no job rows; its timeline records each job's system, attempts and
    idempotency key."""
    return {
        t.step_id: {"system": t.organization, "attempts": t.detail["attempts"], "key": t.detail["key"]}
        for t in timeline(portal, declaration_no)
        if t.kind == "service"
    }


def timeline(portal, declaration_no: str) -> list[TimelineEvent]:
    with portal.db.session() as session:
        c = session.scalar(select(Consignment).where(Consignment.declaration_no == declaration_no))
        return list(
            session.scalars(
                select(TimelineEvent).where(TimelineEvent.consignment_id == c.id).order_by(TimelineEvent.id)
            )
        )


def worker_settles(worker, portal, declaration_no: str, timeout: float = 15.0) -> Consignment:
    """Run the worker until the consignment waits for a person (or finishes), including port callbacks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.run_once()
        c = consignment(portal, declaration_no)
        pending = [j for j in jobs(portal, declaration_no) if j.state in ("pending", "locked")]
        waiting_port = c.current_step and "ContainerPositioned" in c.current_step
        if c.finished_at is not None or (
            not pending and not waiting_port and open_work_items(portal, declaration_no)
        ):
            return c
        time.sleep(0.05)
    raise AssertionError(
        f"{declaration_no} did not settle: {consignment(portal, declaration_no).current_step}"
    )


NOW = "2026-12-07T09:00:00+07:00"
SAMPLING = {
    "sampled_at": NOW,
    "sample_count": 3,
    "seal_numbers": "SL-001, SL-002",
    "trader_representative": "Nguyễn Văn An",
    "sampling_place": "Cat Lai inspection yard",
    "customs_supervised": True,
}
COUNTERSIGN = {"record_confirmed": True}
PASS = {"result": "pass", "certificate_no": "KQ-000123", "conclusion": "Conforms to QCVN.", "issued_at": NOW}
FAIL = {
    "result": "fail",
    "certificate_no": "TB-000456",
    "conclusion": "Does not meet QCVN.",
    "issued_at": NOW,
}
PAYMENT = {"payment_method": "bank_transfer", "payer_account": "0071000123456"}
PRESERVATION_REQUEST = {
    "warehouse_address": "Lô A2, KCN Tân Tạo, Bình Tân, TP. HCM",
    "proof_of_premises_ref": "HD-THUE-2026-118",
    "reason": "Frozen goods need cold storage",
    "undertaking_accepted": True,
}
NON_COMPLIANCE = {"measure": "re_export", "penalty_vnd": 0, "note": "Re-export within 30 days."}


def beef_waiting_for_payment(portal, worker) -> str:
    """Demo consignment C01 (frozen beef, RAHO6 leads) up to the trader's payment: registered, moved,
    sampled, countersigned, passed."""
    number = trader_registers(portal, "C01")
    worker_settles(worker, portal, number)
    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    completes(portal, "officer.raho6", number, "publish_result", PASS)
    worker_settles(worker, portal, number)
    return number


def beef_cleared(portal, worker) -> str:
    """Demo consignment C01 all the way to clearance."""
    number = beef_waiting_for_payment(portal, worker)
    completes(portal, "trader.t01", number, "pay_fees", PAYMENT)
    assert worker_settles(worker, portal, number).status == "cleared"
    return number
