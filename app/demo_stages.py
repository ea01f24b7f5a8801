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
    missed: dict[str, str] = field(default_factory=dict)  # number -> the stage it did not reach in time
    skipped: bool = False  # the portal had consignments already

    def render(self) -> str:
        if self.skipped:
            return "Demo consignments: the database has consignments already; left as they are."
        stages = Counter(self.reached.values())
        cleared = stages.pop(CLEARED, 0)
        waiting = ", ".join(f"{step} {count}" for step, count in sorted(stages.items()))
        line = f"Demo consignments: {len(self.reached)} registered, {cleared} cleared; waiting at: {waiting}"
        if self.missed:
            line += f"\n  not at their stage yet (still moving): {', '.join(sorted(self.missed))}"
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
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        acted = False
        for number, stage in list(pending.items()):
            body = player.call("GET", f"/consignments/{number}", "admin").json()
            tasks = [task for task in body["open_tasks"] if not task["escalation"]]
            if body["status"] in TERMINAL or any(task["step_id"] == stage for task in tasks):
                staged.reached[number] = body["status"] if body["status"] in TERMINAL else stage
                del pending[number]
            elif tasks:  # its parties act on what is open before the stage
                acted |= bool(player.work_due(tasks, player.now()))
        if pending and not acted:
            time.sleep(0.2)  # the worker and the port simulator have the next steps
    staged.missed = dict(pending)
    return staged


__all__ = ["STAGES", "DemoError", "Staged", "stage_demo_consignments"]
