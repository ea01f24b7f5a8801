"""Test a candidate model before it is deployed: run it on sample consignments in a throwaway SQLite
database with the portal's own engine, commands and worker, the port / customs / payment simulators
started in-process on loopback ports, and an injected clock that moves by how long each step takes.

The sample consignments are the domain reference's (``Settings.sample_consignments``, by default
``../shared/domain/consignments.json``), each given the code of its trader organization from
``config/seed.json``; when that file is missing or unusable the trial runs the portal's copy,
``config/demo_consignments.json``, and says why (``trial_samples``).

Each user step is assumed to take the median working hours that step took in production (the
dashboard's totals), or ``DEFAULT_STEP_HOURS`` for a step never measured; the result is the path each
consignment took, the hours assumed for each step, whether it was escalated, and its predicted
clearance time in working hours. Nothing touches the real database or the real outside systems."""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select

from app.consignments.registration import parse_registration
from app.engine.bundle import Bundle
from app.engine.clock import FixedClock
from app.engine.commands import CompleteWorkItem, CorrelateMessage, DeployBundle, RegisterConsignment
from app.engine.errors import PortalError
from app.engine.executor import Actor
from app.models import Consignment, ModelVersion, TimelineEvent, User, WorkItem
from app.settings import PROJECT_ROOT, Settings
from app.signing.pki import DEMO_PIN
from app.signing.service import PinSigning
from app.simulators.server import SimulatorServer, build_simulator
from app.tasks import KNOWN_TOPICS, build_registry

DEFAULT_STEP_HOURS = 1.0
MAX_ROUNDS = 60
MAX_SAMPLES = 20
SAMPLE_KEYS = ("id", "trader", "goods", "hs8", "declaration_type", "declaration_no", "customs_branch")


@dataclass
class TrialConsignment:
    declaration_no: str
    goods: str
    outcome: str
    path: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    # (step id, working hours assumed) for each user step done, in order
    steps: list[tuple[str, float]] = field(default_factory=list)
    predicted_hours: float | None = None
    problem: str | None = None


@dataclass(frozen=True)
class TrialSamples:
    """The consignments a trial runs (``app.demo.demo_consignments`` entries), the file they come from,
    and why it is not the domain reference's file when it is not."""

    samples: list[dict[str, Any]]
    source: Path
    fallback_reason: Any = None  # a translatable text, or None when the reference file was used


@dataclass
class TrialRun:
    version: int
    consignments: list[TrialConsignment]
    samples_source: Path | None = None
    samples_fallback_reason: Any = None

    @property
    def mean_hours(self) -> float | None:
        hours = [c.predicted_hours for c in self.consignments if c.predicted_hours is not None]
        return round(sum(hours) / len(hours), 2) if hours else None


def trial_samples(
    count: int, settings: Settings | None = None, rng: random.Random | None = None
) -> TrialSamples:
    """``count`` sample consignments (at most ``MAX_SAMPLES``): those of the reference file first, then
    generated ones like them; the portal's copy when the reference file is missing or unusable."""
    from app.demo import demo_consignments

    settings = settings or Settings.from_env()
    count = max(1, min(count, MAX_SAMPLES))
    rng = rng or random.Random(2016)
    reference = Path(settings.sample_consignments)
    fallback = settings.seed_dir / "demo_consignments.json"
    try:
        base = _reference_consignments(reference, settings.seed_dir / "seed.json")
    except FileNotFoundError:
        reason = lazy_gettext(
            "%(path)s is missing: the trial runs the portal's copy %(fallback)s instead.",
            path=str(reference),
            fallback=_shown(fallback),
        )
    except ValueError as exc:
        reason = lazy_gettext(
            "%(path)s cannot be used (%(why)s): the trial runs the portal's copy %(fallback)s instead.",
            path=str(reference),
            why=str(exc),
            fallback=_shown(fallback),
        )
    else:
        return TrialSamples(demo_consignments(count, rng, base), reference)
    copy = json.loads(fallback.read_text(encoding="utf-8"))
    return TrialSamples(demo_consignments(count, rng, copy), fallback, reason)


def _reference_consignments(path: Path, seed: Path) -> list[dict[str, Any]]:
    """The reference file's consignments, each with ``trader_code``: the code of the trader organization
    of that name in the seed (the one thing ``config/demo_consignments.json`` adds).

    :raises FileNotFoundError: when the file is missing.
    :raises ValueError: when it is not a list of consignments whose traders the seed knows.
    """
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ValueError("not a list of consignments")
    organizations = json.loads(seed.read_text(encoding="utf-8"))["organizations"]
    traders = {
        _plain(name): o["code"]
        for o in organizations
        if o.get("kind") == "trader"
        for name in (o["name"], o.get("name_vi"))
        if name
    }
    out = []
    for entry in entries:
        missing = [key for key in SAMPLE_KEYS if not entry.get(key)]
        if missing or not (entry.get("containers") or entry.get("awb")):
            name = entry.get("id") or entry.get("declaration_no") or "?"
            raise ValueError(f"consignment {name} lacks {', '.join(missing) or 'containers or awb'}")
        code = traders.get(_plain(entry["trader"]))
        if code is None:
            raise ValueError(
                f"trader {entry['trader']!r} of {entry['id']} is not an organization of the seed"
            )
        out.append({**entry, "trader_code": code})
    return out


def _plain(name: str) -> str:
    """A company name without case and Vietnamese diacritics: the reference file writes "Cong ty TNHH Thuc
    pham Dong Nam A" for the seed's "Công ty TNHH Thực phẩm Đông Nam Á"."""
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def run_trial(
    bundle: Bundle,
    samples: TrialSamples | list[dict[str, Any]],
    step_hours: dict[str, float],
    answer=None,
    *,
    start: datetime,
) -> TrialRun:
    """Run ``samples`` (``trial_samples``, or a plain list of ``app.demo.demo_consignments`` entries)
    through ``bundle``; see the module doc.

    ``answer(step_id, declaration_no, form_schema, now)`` gives the form data of a user step; by default
    ``demo_answers(samples)``.
    """
    from app.cli import initialize
    from app.services import build_portal
    from app.worker import Worker

    given = samples if isinstance(samples, TrialSamples) else TrialSamples(list(samples), Path("<given>"))
    samples = given.samples
    answer = answer or demo_answers(samples)
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
            return TrialRun(version.version, results, given.source, given.fallback_reason)
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
            result.steps.append((item.step_id, hours))
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
    from app.demo import Player

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
