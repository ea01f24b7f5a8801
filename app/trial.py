"""Test a candidate model before it is deployed: run it on sample consignments in a throwaway SQLite
database with the portal's own engine, commands and worker, the port / customs / payment simulators
started in-process on loopback ports, and an injected clock that moves by how long each step takes.

Each user step is assumed to take the median working hours that step took in production (the
dashboard's totals), or ``DEFAULT_STEP_HOURS`` for a step never measured; the result is the path each
consignment took, whether it was escalated, and its predicted clearance time in working hours. Nothing
touches the real database or the real outside systems."""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.consignments.registration import parse_registration
from app.engine.bundle import Bundle
from app.engine.clock import FixedClock
from app.engine.commands import CompleteWorkItem, CorrelateMessage, DeployBundle, RegisterConsignment
from app.engine.errors import PortalError
from app.engine.executor import Actor
from app.models import Consignment, ModelVersion, TimelineEvent, User, WorkItem
from app.settings import Settings
from app.signing.pki import DEMO_PIN
from app.signing.service import PinSigning
from app.simulators.server import SimulatorServer, build_simulator
from app.tasks import KNOWN_TOPICS, build_registry

DEFAULT_STEP_HOURS = 1.0
MAX_ROUNDS = 60


@dataclass
class TrialConsignment:
    declaration_no: str
    goods: str
    outcome: str
    path: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    predicted_hours: float | None = None
    problem: str | None = None


@dataclass
class TrialRun:
    version: int
    consignments: list[TrialConsignment]

    @property
    def mean_hours(self) -> float | None:
        hours = [c.predicted_hours for c in self.consignments if c.predicted_hours is not None]
        return round(sum(hours) / len(hours), 2) if hours else None


def run_trial(
    bundle: Bundle,
    samples: list[dict[str, Any]],
    step_hours: dict[str, float],
    answer,
    *,
    start: datetime,
) -> TrialRun:
    """Run ``samples`` (``app.demo.demo_consignments`` entries) through ``bundle``; see the module doc.

    ``answer(step_id, declaration_no, form_schema, now)`` gives the form data of a user step.
    """
    from app.cli import initialize
    from app.services import build_portal
    from app.worker import Worker

    # The in-process port simulator has no portal to call back: the trial delivers the positions itself.
    logging.getLogger("app.simulators.callback").setLevel(logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="portal-trial-"))
    servers = [
        SimulatorServer(("127.0.0.1", 0), build_simulator(kind, delay=0))
        for kind in ("port", "customs", "payment")
    ]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    urls = dict(zip(("port", "customs", "payment"), (s.base_url for s in servers), strict=True))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'trial.db'}",
        port_url=urls["port"],
        customs_url=urls["customs"],
        payment_url=urls["payment"],
        job_backoff_seconds=1.0,
        pki_dir=folder / "pki",  # a throwaway demo PKI: signed steps are signed as in production
    )
    try:
        initialize(settings, demo=True)
        clock = FixedClock(start)
        portal = build_portal(settings, clock=clock)
        worker = Worker(portal, build_registry(settings.connector_settings()), name="trial")
        try:
            analyst = Actor("trial", None, "system")
            version = portal.execute(DeployBundle(bundle, note="trial", known_topics=KNOWN_TOPICS), analyst)
            results = [_run_one(portal, worker, clock, sample, step_hours, answer) for sample in samples]
            return TrialRun(version.version, results)
        finally:
            worker._pool.shutdown(wait=True)
            portal.close()
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _actor(portal, username: str) -> Actor:
    with portal.db.session() as db:
        user = db.scalar(select(User).where(User.username == username))
        return Actor(user.username, user.organization.code, user.role, user.id)


def _someone(portal, organization: str, role: str) -> Actor:
    with portal.db.session() as db:
        user = db.scalar(
            select(User).where(User.role == role, User.organization.has(code=organization)).order_by(User.id)
        )
        if user is None:
            raise PortalError(f"no {role} of {organization} in the trial's people")
        return Actor(user.username, organization, role, user.id)


def _run_one(portal, worker, clock, sample, step_hours, answer) -> TrialConsignment:
    payload = sample["payload"]
    number = payload["declaration_no"]
    result = TrialConsignment(number, payload["goods"], "unfinished")
    registered = clock.now()
    try:
        portal.execute(
            RegisterConsignment(parse_registration(payload)),
            _actor(portal, f"trader.{sample['trader'].lower()}"),
        )
        for _ in range(MAX_ROUNDS):
            worker.run_once()
            consignment = _consignment(portal, number)
            if consignment.finished_at is not None:
                break
            if consignment.current_step and "ContainerPositioned" in consignment.current_step:
                positions = [
                    {"container_no": n, "position": f"SA-T-{i:03d}"}
                    for i, n in enumerate(consignment.containers, 1)
                ]
                portal.execute(
                    CorrelateMessage(
                        number, "ContainerPositioned", {"move_ref": "MV-TRIAL", "positions": positions}
                    ),
                    _someone(portal, "SNP", "port_operator"),
                )
                continue
            items = _open_items(portal, consignment.id)
            if not items:
                continue
            item = items[0]
            hours = step_hours.get(item.step_id, DEFAULT_STEP_HOURS)
            clock.set(portal.calendar.add_working_hours(clock.now(), hours))
            worker.fire_due_timers()
            schema = _forms(portal).get(item.form_key or "", {})
            data = answer(item.step_id, number, schema, clock.now())
            signing = PinSigning(DEMO_PIN) if item.signature_required else None
            officer = _someone(portal, item.organization, item.role)
            portal.execute(CompleteWorkItem(item.id, data, signing=signing), officer)
        consignment = _consignment(portal, number)
        result.outcome = consignment.status if consignment.finished_at else "unfinished"
        result.predicted_hours = consignment.clearance_hours
        with portal.db.session() as db:
            events = db.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.consignment_id == consignment.id)
                .order_by(TimelineEvent.id)
            ).all()
        result.path = [e.step_name for e in events if e.kind != "escalation"]
        result.escalations = [e.step_name for e in events if e.kind == "escalation"]
    except PortalError as exc:
        result.problem = exc.message
    # The next consignment starts at the next working morning, as a fresh day's work.
    next_day = (clock.now() + timedelta(days=1)).astimezone(portal.calendar.tz)
    clock.set(max(registered, datetime.combine(next_day.date(), time(8, 0), portal.calendar.tz)))
    return result


def _consignment(portal, number: str) -> Consignment:
    with portal.db.session() as db:
        return db.scalar(select(Consignment).where(Consignment.declaration_no == number))


def _open_items(portal, consignment_id: int) -> list[WorkItem]:
    with portal.db.session() as db:
        return list(
            db.scalars(
                select(WorkItem)
                .where(WorkItem.consignment_id == consignment_id, WorkItem.state.in_(("open", "claimed")))
                .order_by(WorkItem.escalation.is_not(None), WorkItem.id)
            )
        )


def _forms(portal) -> dict[str, Any]:
    with portal.db.session() as db:
        return db.scalar(select(ModelVersion.forms).order_by(ModelVersion.version.desc()).limit(1)) or {}


def sample_answer(schema: dict[str, Any], now: datetime, rng: random.Random | None = None) -> dict[str, Any]:
    """Plausible data for any form: required fields filled from their type, enum and limits."""
    data: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        if name not in schema.get("required", []):
            continue
        kind = spec.get("type")
        if spec.get("enum"):
            data[name] = spec["enum"][0]
        elif spec.get("format") == "date-time":
            data[name] = now.isoformat()
        elif kind == "boolean":
            data[name] = True
        elif kind in ("integer", "number"):
            data[name] = spec.get("minimum", 1)
        elif kind == "array":
            data[name] = []
        else:
            data[name] = "Trial" + "." * max(int(spec.get("minLength", 0)) - 5, 0)
    return data


def demo_answers(samples: list[dict[str, Any]]):
    """Answers as the demo plays them (``app.demo.Player.answer``), a failing result where the sample says
    so, and ``sample_answer`` for steps the demo does not know (a step an analyst just added)."""
    import json

    from app.demo import Player
    from app.settings import PROJECT_ROOT

    seed = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
    player = Player("http://127.0.0.1", seed)  # .answer() makes no call except for the nomination
    player.failing = {s["payload"]["declaration_no"] for s in samples if s["fail"]}
    containers = {s["payload"]["declaration_no"]: s["payload"].get("containers") or [] for s in samples}
    known = {
        "record_sampling",
        "countersign_sampling",
        "request_preservation",
        "decide_preservation",
        "publish_result",
        "pay_fees",
        "handle_non_compliance",
    }

    def answer(step_id: str, number: str, schema: dict[str, Any], now: datetime) -> dict[str, Any]:
        if step_id == "nominate_containers":
            return {"nominated_containers": containers[number][:2], "nomination_note": "Risk-based selection"}
        if step_id in known or (schema.get("properties") or {}).keys() == {"action", "comment", "new_due_at"}:
            return player.answer({"step_id": step_id, "declaration_no": number}, now)
        return sample_answer(schema, now)

    return answer
