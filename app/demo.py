"""Drive consignments through the whole procedure over the HTTP API, playing every party (traders,
customs, agencies, the branch head, managers) and moving the simulated clock instead of sleeping.

The first ten consignments are the realistic ones in ``config/demo_consignments.json``; more are
generated with valid identifiers. A progress bar shows how many have finished."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from app.consignments.identifiers import iso6346_check_digit
from app.engine.working_time import WorkingCalendar
from app.settings import PROJECT_ROOT, Settings
from app.signing.pki import DEMO_PIN

TERMINAL = {"cleared", "non_compliance_handled", "rejected", "completed"}
FAILING_INDEX = 8  # C09 (plastic scrap) fails inspection: the non-compliance path
PRESERVATION_INDEX = 3  # C04 (salmon) asks to keep goods in its own cold store


@dataclass
class Summary:
    total: int
    outcomes: dict[str, int] = field(default_factory=dict)
    escalated: int = 0
    incidents: int = 0
    clearance_hours: list[float] = field(default_factory=list)
    unfinished: int = 0
    seconds: float = 0.0

    def render(self) -> str:
        hours = sorted(self.clearance_hours)
        mean = statistics.fmean(hours) if hours else 0.0
        p95 = hours[min(len(hours) - 1, int(round(0.95 * (len(hours) - 1))))] if hours else 0.0
        lines = [
            f"consignments: {self.total} in {self.seconds:.1f} s",
            f"  cleared: {self.outcomes.get('cleared', 0)}",
            f"  failed inspection (non-compliance handled): {self.outcomes.get('non_compliance_handled', 0)}",
            f"  rejected at registration: {self.outcomes.get('rejected', 0)}",
            f"  escalated (SLA or stalled): {self.escalated}",
            f"  unfinished: {self.unfinished}  open incidents: {self.incidents}",
            f"clearance time (working hours): mean {mean:.1f}, p95 {p95:.1f}",
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


def _container(rng: random.Random, owner: str) -> str:
    serial = f"{owner}{rng.randrange(10**6):06d}"
    return serial + str(iso6346_check_digit(serial))


class Player:
    """Plays every party through the API."""

    def __init__(self, url: str, seed: dict[str, Any]) -> None:
        self.api = url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        self.tokens = {u["username"]: u["api_token"] for u in seed["users"]}
        self.workers = [
            u["username"]
            for u in seed["users"]
            if u["role"] in ("customs_officer", "branch_head", "agency_officer", "trader", "manager")
        ]
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

    def register(self, entry: dict[str, Any]) -> None:
        user = f"trader.{entry['trader'].lower()}"
        response = self.call("POST", "/consignments", user, entry["payload"])
        if response.status_code != 201:
            raise RuntimeError(f"registration failed: {response.status_code} {response.text[:300]}")
        if entry["fail"]:
            self.failing.add(entry["payload"]["declaration_no"])

    def work_inboxes(self, now: datetime) -> int:
        done = 0
        for user in self.workers:
            response = self.call("GET", "/work-items?limit=200", user)
            for item in response.json().get("items", []):
                body: dict[str, Any] = {"data": self.answer(item, now)}
                if item.get("signature_required"):
                    body["pin"] = DEMO_PIN  # the demo officers' signing PIN (remote signing)
                result = self.call("POST", f"/work-items/{item['id']}/complete", user, body)
                if result.status_code == 200:
                    done += 1
                elif result.status_code != 409:
                    raise RuntimeError(f"{user} could not complete {item['step_id']}: {result.text[:300]}")
        return done

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


def run_demo(count: int, url: str | None = None, random_seed: int = 2016, max_rounds: int = 400) -> Summary:
    """Run the demo against ``url`` or a fresh stack on a temporary SQLite database."""
    seed = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
    if url is not None:
        return _drive(url, seed, count, random_seed, max_rounds)
    from app.cli import initialize
    from app.stack import Stack

    with tempfile.TemporaryDirectory(prefix="portal-demo-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        initialize(Settings.from_env(database_url=database_url, clock="simulated"), demo=True)
        with Stack(database_url, clock="simulated", port_delay=0.05, log_dir=Path(tmp) / "logs") as stack:
            return _drive(stack.urls["web"], seed, count, random_seed, max_rounds)


def _drive(url: str, seed: dict[str, Any], count: int, random_seed: int, max_rounds: int) -> Summary:
    started = time.monotonic()
    rng = random.Random(random_seed)
    player = Player(url, seed)
    entries = demo_consignments(count, rng)
    calendar = WorkingCalendar()
    numbers = [e["payload"]["declaration_no"] for e in entries]
    finished: dict[str, dict[str, Any]] = {}
    with tqdm(total=count, desc="consignments", unit="cons") as bar:
        for entry in entries:
            player.register(entry)
        for _ in range(max_rounds):
            now = datetime.fromisoformat(player.call("GET", "/clock", "admin").json()["now"])
            worked = player.work_inboxes(now)
            for number in numbers:
                if number in finished:
                    continue
                body = player.call("GET", f"/consignments/{number}", "admin").json()
                if body["status"] in TERMINAL:
                    finished[number] = body
                    bar.update(1)
            if len(finished) == count:
                break
            if not worked:
                # Nothing to do by hand: let an office hour pass for the port, the worker and the timers.
                player.call("POST", "/clock/advance", "admin", {"hours": 1})
                time.sleep(0.15)
    summary = Summary(total=count, seconds=time.monotonic() - started)
    for number in numbers:
        body = finished.get(number) or player.call("GET", f"/consignments/{number}", "admin").json()
        status = body["status"]
        summary.outcomes[status] = summary.outcomes.get(status, 0) + 1
        summary.escalated += bool(body["escalated"])
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
