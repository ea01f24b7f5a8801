"""Drive consignments through the whole procedure over the HTTP API, playing every party (traders,
customs, agencies, the branch head, managers) and moving the simulated clock instead of sleeping.
How long each party takes to act is the pace's (``app.demo_pace``): realistic working hours by default.

The first ten consignments are the realistic ones in ``config/demo_consignments.json``; more are
generated with valid identifiers. A progress bar shows how many have finished."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from app.consignments.identifiers import iso6346_check_digit
from app.demo_pace import Pace
from app.engine.working_time import WorkingCalendar
from app.settings import PROJECT_ROOT, Settings
from app.signing.pki import DEMO_PIN

TERMINAL = {"cleared", "non_compliance_handled", "rejected", "completed"}
FAILING_INDEX = 8  # C09 (plastic scrap) fails inspection: the non-compliance path
PRESERVATION_INDEX = 3  # C04 (salmon) asks to keep goods in its own cold store
SYSTEM_PATIENCE_ROUNDS = 20  # rounds of 0.15 s waiting for a system before an office hour passes
ESCALATION_KINDS = {
    "escalate_port_move": "port move",
    "escalate_preservation_decision": "preservation decision",
    "escalate_result_overdue": "result",
    "stalled": "stalled",
}


@dataclass
class Summary:
    total: int
    outcomes: dict[str, int] = field(default_factory=dict)
    escalated: int = 0
    incidents: int = 0
    clearance_hours: list[float] = field(default_factory=list)
    unfinished: int = 0
    seconds: float = 0.0
    pace: str = "realistic"
    escalations: dict[str, int] = field(default_factory=dict)  # kind -> escalations raised

    @property
    def mean_clearance_hours(self) -> float:
        return statistics.fmean(self.clearance_hours) if self.clearance_hours else 0.0

    @property
    def p95_clearance_hours(self) -> float:
        hours = sorted(self.clearance_hours)
        return hours[min(len(hours) - 1, int(round(0.95 * (len(hours) - 1))))] if hours else 0.0

    def render(self) -> str:
        raised = ", ".join(f"{kind} {n}" for kind, n in sorted(self.escalations.items()))
        lines = [
            f"consignments: {self.total} in {self.seconds:.1f} s ({self.pace} pace)",
            f"  cleared: {self.outcomes.get('cleared', 0)}",
            f"  failed inspection (non-compliance handled): {self.outcomes.get('non_compliance_handled', 0)}",
            f"  rejected at registration: {self.outcomes.get('rejected', 0)}",
            f"  escalated (SLA or stalled): {self.escalated}" + (f"  (raised: {raised})" if raised else ""),
            f"  unfinished: {self.unfinished}  open incidents: {self.incidents}",
            f"clearance time (working hours): mean {self.mean_clearance_hours:.1f}, "
            f"p95 {self.p95_clearance_hours:.1f}",
        ]
        return "\n".join(lines)


def demo_consignments(
    count: int, rng: random.Random, base: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The ten realistic consignments (or ``base``: entries of the same shape, each with its
    ``trader_code``), then generated ones with valid identifiers."""
    if base is None:
        base = json.loads((PROJECT_ROOT / "config" / "demo_consignments.json").read_text(encoding="utf-8"))
    out = []
    for i in range(count):
        template = base[i % len(base)]
        item = {
            "declaration_no": template["declaration_no"],
            "declaration_type": template["declaration_type"],
            "customs_branch": template["customs_branch"],
            "goods": template["goods"],
            "hs_codes": [template["hs8"]],
            "bill_of_lading": f"HCM{rng.randrange(10**8):08d}",
            "sampling_place": "Cat Lai inspection yard",
            "request_preservation": i % len(base) == PRESERVATION_INDEX,
        }
        if template.get("awb"):
            item["awb"] = template["awb"]
            item["containers"] = []
        else:
            item["containers"] = list(template["containers"])
        if i >= len(base):
            item["declaration_no"] = f"10{rng.randrange(10**9, 10**10)}"
            item["containers"] = [_container(rng, c[:4]) for c in item["containers"]]
        out.append(
            {"trader": template["trader_code"], "payload": item, "fail": i % len(base) == FAILING_INDEX}
        )
    return out


class DemoError(RuntimeError):
    """The demo cannot go on: the portal refused what a party did, or no party can do a task."""


def _field(response: requests.Response) -> str | None:
    try:
        return response.json().get("field")
    except ValueError:
        return None


def _renumbered(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same consignment under a fresh declaration number and fresh container numbers."""
    return {
        **payload,
        "declaration_no": f"10{rng.randrange(10**9, 10**10)}",
        "containers": [_container(rng, c[:4]) for c in payload.get("containers", [])],
    }


def _container(rng: random.Random, owner: str) -> str:
    serial = f"{owner}{rng.randrange(10**6):06d}"
    return serial + str(iso6346_check_digit(serial))


class Player:
    """Plays every party through the API."""

    def __init__(self, url: str, seed: dict[str, Any]) -> None:
        self.api = url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        self.tokens = {u["username"]: u["api_token"] for u in seed["users"]}
        self.users: dict[tuple[str, str], str] = {}  # (organization, role) -> the demo user who acts
        for u in seed["users"]:
            self.users.setdefault((u["organization"], u["role"]), u["username"])
        self.failing: set[str] = set()

    def call(self, method: str, path: str, user: str, body: Any = None) -> requests.Response:
        response = self.http.request(
            method,
            self.api + path,
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
        )
        return response

    def register(self, entry: dict[str, Any], rng: random.Random) -> str:
        """Register the entry and return its declaration number. A declaration the portal already has (an
        earlier demo run against the same portal) is registered again under fresh declaration and
        container numbers."""
        user = f"trader.{entry['trader'].lower()}"
        payload = entry["payload"]
        for _ in range(5):
            response = self.call("POST", "/consignments", user, payload)
            if response.status_code == 201:
                break
            if response.status_code != 409 or _field(response) != "declaration_no":
                raise DemoError(f"registration failed: {response.status_code} {response.text[:300]}")
            payload = _renumbered(payload, rng)
        else:
            raise DemoError("could not find a free declaration number in five tries")
        if entry["fail"]:
            self.failing.add(payload["declaration_no"])
        return payload["declaration_no"]

    def now(self) -> datetime:
        return datetime.fromisoformat(self.call("GET", "/clock", "admin").json()["now"])

    def advance(self, delta: timedelta) -> None:
        response = self.call("POST", "/clock/advance", "admin", {"hours": delta.total_seconds() / 3600})
        if response.status_code != 200:
            raise DemoError(f"could not move the clock: {response.status_code} {response.text[:300]}")

    def find_in_inbox(self, user: str, ids: set[int]) -> list[dict[str, Any]]:
        """The work items ``ids`` as they stand in the user's inbox, read page by page until all are found;
        one that is not there at all is a routing error."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.call("GET", f"/work-items?limit=200&offset={offset}", user).json().get("items", [])
            found += [item for item in page if item["id"] in ids]
            if len(found) == len(ids) or len(page) < 200:
                break
            offset += len(page)
        if len(found) < len(ids):
            missing = sorted(ids - {item["id"] for item in found})
            raise DemoError(f"work items {missing} are not in {user}'s inbox")
        return found

    def work_due(self, due: list[dict[str, Any]], now: datetime) -> set[str]:
        """Each due task's party opens its inbox and completes it there; the declarations acted on."""
        done: set[str] = set()
        by_user: dict[str, set[int]] = {}
        for task in due:
            by_user.setdefault(self.user_for(task), set()).add(task["id"])
        for user, ids in by_user.items():
            found = self.find_in_inbox(user, ids)
            for item in found:
                if self.complete(user, item, now).status_code == 200:
                    done.add(item["declaration_no"])
        return done

    def user_for(self, task: dict[str, Any]) -> str:
        """The demo user who works ``task`` (its organization and role)."""
        user = self.users.get((task["organization"], task["role"]))
        if user is None:
            raise DemoError(f"no demo user works {task['step_id']} for {task['organization']}")
        return user

    def complete(self, user: str, item: dict[str, Any], now: datetime) -> requests.Response:
        """``user`` completes the inbox ``item`` with plausible form data (and the signing PIN when the
        step is signed). A 409 (the consignment changed meanwhile) is returned for the caller to retry
        later; any other refusal raises ``DemoError``."""
        body: dict[str, Any] = {"data": self.answer(item, now)}
        if item.get("signature_required"):
            body["pin"] = DEMO_PIN  # the demo officers' signing PIN (remote signing)
        result = self.call("POST", f"/work-items/{item['id']}/complete", user, body)
        if result.status_code not in (200, 409):
            raise DemoError(f"{user} could not complete {item['step_id']}: {result.text[:300]}")
        return result

    def answer(self, item: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Plausible form data for each step."""
        step, number = item["step_id"], item["declaration_no"]
        stamp = now.isoformat()
        if step == "nominate_containers":
            consignment = self.call("GET", f"/consignments/{number}", "officer.02ci").json()
            return {
                "nominated_containers": consignment["containers"][:2],
                "nomination_note": "Risk-based selection",
            }
        if step == "record_sampling":
            return {
                "sampled_at": stamp,
                "sample_count": 3,
                "seal_numbers": "SL-001, SL-002, SL-003",
                "trader_representative": "Nguyễn Văn An",
                "sampling_place": "Cat Lai inspection yard",
                "customs_supervised": True,
                "notes": "Samples sealed in the presence of the trader.",
            }
        if step == "countersign_sampling":  # the portal fills in the signed record's SHA-256
            return {"record_confirmed": True}
        if step == "request_preservation":
            return {
                "warehouse_address": "Lô A2, KCN Tân Tạo, Bình Tân, TP. HCM",
                "proof_of_premises_ref": "HD-THUE-2026-118",
                "reason": "Frozen goods need cold storage",
                "undertaking_accepted": True,
            }
        if step == "decide_preservation":
            return {"preservation_approved": True, "decision_note": "Premises checked; seals intact."}
        if step == "publish_result":
            passed = number not in self.failing
            return {
                "result": "pass" if passed else "fail",
                "certificate_no": f"KQ-{number[-6:]}",
                "conclusion": "Conforms to technical regulations."
                if passed
                else "Does not meet QCVN requirements.",
                "issued_at": stamp,
            }
        if step == "pay_fees":
            return {"payment_method": "bank_transfer", "payer_account": "0071000123456"}
        if step == "handle_non_compliance":
            return {"measure": "re_export", "penalty_vnd": 0, "note": "Trader to re-export within 30 days."}
        return {"action": "reminded", "comment": "Reminded the responsible officer by phone."}


def run_demo(
    count: int,
    url: str | None = None,
    random_seed: int = 2016,
    max_rounds: int | None = None,
    pace: str = "realistic",
) -> Summary:
    """Run the demo against ``url`` or a fresh stack on a temporary SQLite database."""
    seed = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
    if url is not None:
        return _drive(url, seed, count, random_seed, max_rounds, pace)
    from app.cli import initialize
    from app.stack import Stack

    with tempfile.TemporaryDirectory(prefix="portal-demo-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        initialize(Settings.from_env(database_url=database_url, clock="simulated"), demo=True)
        with Stack(database_url, clock="simulated", port_delay=0.05, log_dir=Path(tmp) / "logs") as stack:
            return _drive(stack.urls["web"], seed, count, random_seed, max_rounds, pace)


def _drive(
    url: str,
    seed: dict[str, Any],
    count: int,
    random_seed: int,
    max_rounds: int | None = None,
    pace: str = "realistic",
) -> Summary:
    """Register the consignments, then in rounds: read the unfinished consignments that may have moved, let
    every party act on the tasks whose time has come (through its own inbox), and when nobody acts, move
    the clock on. A consignment that waits for a person whose moment has not come is not read again.

    The clock moves only when every unfinished consignment waits for a person: to the moment the next
    party acts (at once with the instant pace). While a consignment waits for a system (the worker's
    service tasks, the port's callback), the demo waits in real time, and after a few seconds lets an
    office hour pass (retries and timers run on the simulated clock)."""
    started = time.monotonic()
    calendar = WorkingCalendar()
    pacer = Pace.from_seed(pace, random_seed, seed, calendar.hours_per_day)
    player = Player(url, seed)
    rng = random.Random(random_seed)
    entries = demo_consignments(count, rng)
    numbers: list[str] = []
    rounds = max_rounds if max_rounds is not None else 200 + 40 * count
    finished: dict[str, dict[str, Any]] = {}
    acts_at: dict[int, datetime] = {}  # work item id -> when its party acts on it
    waited = 0
    running: dict[str, dict[str, Any]] = {}  # unfinished consignment -> what the demo last read of it
    stale: set[str] = set()  # consignments to read again before anyone acts (first: all of them)
    with tqdm(total=count, desc="consignments", unit="cons") as bar:
        for entry in entries:
            numbers.append(player.register(entry, rng))
        stale.update(numbers)
        for _ in range(rounds):
            now = player.now()
            stale |= {n for n, body in running.items() if _may_have_moved(body, acts_at, now)}
            for number in sorted(stale):
                body = player.call("GET", f"/consignments/{number}", "admin").json()
                running.pop(number, None)
                if body["status"] in TERMINAL:
                    finished[number] = body
                    bar.update(1)
                else:
                    running[number] = body
                    for task in body["open_tasks"]:
                        acts_at.setdefault(task["id"], _acts_at(task, pacer, calendar))
            stale.clear()
            if not running:
                break
            moments = [m for body in running.values() for m in _system_moments(body)]
            if any(m <= now for m in moments):
                time.sleep(0.1)  # a timer or the stalled scan is due: the worker acts before anyone else
                stale |= {n for n, body in running.items() if any(m <= now for m in _system_moments(body))}
                continue
            tasks = [task for body in running.values() for task in body["open_tasks"]]
            acted = player.work_due([t for t in tasks if acts_at[t["id"]] <= now], now)
            if acted:
                stale |= acted
                waited = 0
                continue
            if any(_waits_for_a_system(body) for body in running.values()):
                waited += 1  # a system has the next step: give the worker and the port time to act
                if waited < SYSTEM_PATIENCE_ROUNDS:
                    time.sleep(0.15)
                    continue
                player.advance(timedelta(hours=1))
                waited = 0
            else:  # everyone waits for a person: on to the next moment someone (or a timer) acts
                upcoming = min([acts_at[t["id"]] for t in tasks] + moments)
                player.advance(max(upcoming - now, timedelta(0)) + timedelta(minutes=1))
    return _summarize(player, numbers, finished, calendar, count, pace, started)


def _waits_for_a_system(body: dict[str, Any]) -> bool:
    """No person has the consignment's next step (only escalation reviews, if anything, are open)."""
    return all(t["escalation"] for t in body["open_tasks"])


def _may_have_moved(body: dict[str, Any], acts_at: dict[int, datetime], now: datetime) -> bool:
    """Whether a running consignment may have changed since the demo read it: a system has its next step,
    or a moment at which someone (a party, a timer, the stalled scan) acts on it has come."""
    if _waits_for_a_system(body):
        return True
    moments = [acts_at[t["id"]] for t in body["open_tasks"]] + _system_moments(body)
    return any(m <= now for m in moments)


def _system_moments(body: dict[str, Any]) -> list[datetime]:
    """When the portal itself acts on a running consignment next: its next timer, its stalled check."""
    return [datetime.fromisoformat(body[k]) for k in ("next_timer_at", "stalled_at") if body.get(k)]


def _acts_at(task: dict[str, Any], pacer: Pace, calendar: WorkingCalendar) -> datetime:
    hours = pacer.hours(
        task["declaration_no"], task["step_id"], task["organization"], bool(task["escalation"])
    )
    opened = datetime.fromisoformat(task["created_at"])
    return calendar.add_working_hours(opened, hours) if hours else opened


def _summarize(
    player: Player,
    numbers: list[str],
    finished: dict[str, dict[str, Any]],
    calendar: WorkingCalendar,
    count: int,
    pace: str,
    started: float,
) -> Summary:
    summary = Summary(total=count, seconds=time.monotonic() - started, pace=pace)
    for number in numbers:
        body = finished.get(number) or player.call("GET", f"/consignments/{number}", "admin").json()
        status = body["status"]
        summary.outcomes[status] = summary.outcomes.get(status, 0) + 1
        summary.escalated += bool(body["escalated"])
        for event in body.get("timeline", []):
            if event["kind"] == "escalation":
                kind = ESCALATION_KINDS.get(event["step_id"], event["step_name"])
                summary.escalations[kind] = summary.escalations.get(kind, 0) + 1
        if status not in TERMINAL:
            summary.unfinished += 1
        if status == "cleared" and body["finished_at"]:
            summary.clearance_hours.append(
                calendar.working_hours_between(
                    datetime.fromisoformat(body["registered_at"]), datetime.fromisoformat(body["finished_at"])
                )
            )
    summary.incidents = len(player.call("GET", "/incidents", "admin").json()["items"])
    return summary
