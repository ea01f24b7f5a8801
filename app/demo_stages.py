"""The demo consignments in the portal that ``portal run`` starts: the ten of
``config/demo_consignments.json`` are registered over the HTTP API and played, party by party, each up to
a different step of the procedure, so that whoever signs in first (an agency officer, a branch head, a
trader, a manager) finds work in their inbox and consignments at every stage, not an empty portal.

Only a portal without any consignment is staged: a second ``portal run`` on the same database leaves it as
it is. The players are ``app.demo.Player``'s: the same demo users, form data and signing PIN as
``portal demo``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.demo import TERMINAL, DemoError, Player, demo_consignments

CLEARED = "cleared"
# Where each of the ten stops, in the file's order: a step left open for its party, or the end.
STAGES = (
    CLEARED,  # C01
    CLEARED,  # C02
    "nominate_containers",  # C03: five containers, customs picks the ones to sample
    "decide_preservation",  # C04: the trader asked to keep the goods; the branch head decides
    "record_sampling",  # C05: the agency samples
    "countersign_sampling",  # C06: the trader confirms the signed sampling record
    "publish_result",  # C07: the agency publishes its result
    "pay_fees",  # C08: the trader pays
    "handle_non_compliance",  # C09: failed inspection, customs handles it
    CLEARED,  # C10: air cargo, no port move
)
SEED = 2016  # the same declaration and bill-of-lading numbers on every fresh database


@dataclass
class Staged:
    """What staging did: each consignment's declaration number and where it stands."""

    reached: dict[str, str] = field(default_factory=dict)  # number -> the stage it reached
    # number -> the stage it did not reach in time, and where it stood then
    missed: dict[str, str] = field(default_factory=dict)
    incidents: list[str] = field(default_factory=list)  # failed service calls, when some stage was missed
    skipped: bool = False  # the portal had consignments already

    def render(self) -> str:
        if self.skipped:
            return "Demo consignments: the database has consignments already; left as they are."
        stages = Counter(self.reached.values())
        cleared = stages.pop(CLEARED, 0)
        waiting = ", ".join(f"{step} {count}" for step, count in sorted(stages.items()))
        line = f"Demo consignments: {len(self.reached)} registered, {cleared} cleared; waiting at: {waiting}"
        if self.missed:
            line += "\n  not at their stage in time: " + "; ".join(
                f"{number} for {where}" for number, where in sorted(self.missed.items())
            )
        if self.incidents:
            line += "\n  incidents (retry them on /incidents): " + "; ".join(self.incidents)
        return line


def stage_demo_consignments(url: str, seed: dict[str, Any], timeout: float = 120.0) -> Staged:
    """Register the ten demo consignments in the portal at ``url`` and play each to its stage.

    :raises DemoError: when the portal refuses a step (the message says which).
    """
    player = Player(url, seed)
    staged = Staged()
    if player.call("GET", "/consignments?limit=1", "admin").json().get("items"):
        staged.skipped = True
        return staged
    entries = demo_consignments(len(STAGES), random.Random(SEED))
    renumber = random.Random(SEED)  # only used if a declaration number is taken (it never is here)
    pending = {player.register(entry, renumber): stage for entry, stage in zip(entries, STAGES, strict=True)}
    refused: dict[str, str] = {}  # number -> the portal's last 409 on one of its steps
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        acted, now = False, None
        for number, stage in list(pending.items()):
            body = player.call("GET", f"/consignments/{number}", "admin").json()
            tasks = [task for task in body["open_tasks"] if not task["escalation"]]
            if body["status"] in TERMINAL or any(task["step_id"] == stage for task in tasks):
                staged.reached[number] = body["status"] if body["status"] in TERMINAL else stage
                del pending[number]
            elif tasks:  # its parties act on what is open before the stage
                now = now or player.now()  # the portal's clock, read once a round
                acted |= _work(player, tasks, now, refused)
        if pending and not acted:
            time.sleep(0.2)  # the worker and the port simulator have the next steps
    for number, stage in pending.items():
        body = player.call("GET", f"/consignments/{number}", "admin").json()
        staged.missed[number] = f"{stage}, at {body['current_step'] or body['status']}" + (
            f" (last refusal: {refused[number]})" if number in refused else ""
        )
    if pending:  # a failed service call stops a consignment until an operator retries it (/incidents)
        staged.incidents = [
            f"{i['declaration_no']}: {i['last_error']}"
            for i in player.call("GET", "/incidents", "admin").json()["items"]
        ]
    return staged


def _work(player: Player, tasks: list[dict[str, Any]], now: datetime, refused: dict[str, str]) -> bool:
    """The party of each task completes it from its own inbox; whether any step was done. A 409 (someone
    or something changed the consignment meanwhile) leaves the task for the next round."""
    done = False
    for task in tasks:
        user = player.user_for(task)
        (item,) = player.find_in_inbox(user, {task["id"]})
        result = player.complete(user, item, now)
        if result.status_code == 409:
            refused[item["declaration_no"]] = f"{item['step_id']}: {result.text[:200]}"
        done |= result.status_code == 200
    return done


__all__ = ["STAGES", "DemoError", "Staged", "stage_demo_consignments"]
