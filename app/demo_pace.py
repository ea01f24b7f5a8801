"""How long each party of the demo takes to act on a step, in working hours.

``instant``: every party acts as soon as its task appears (a quick smoke run of the whole procedure).
``realistic``: each task waits a drawn number of working hours before its party acts, so the demo's
clearance times, SLA escalations and stalled consignments look like a port's week rather than a second.
The figures are the demo's assumptions, set against PROCEDURE.md's deadlines: most steps finish well
inside their deadline, a few do not (a branch head's decision after its 2 working hours, an agency's
result after its own deadline), and those raise the SLA escalations managers then review.

Every draw depends only on the seed, the declaration number and the step, never on the order in which
the demo happens to see the tasks: the same seed gives the same run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

PACES = ("realistic", "instant")

# (low, high) working hours the party of a step takes (drawn uniformly).
_STEPS: dict[str, tuple[float, float]] = {
    "nominate_containers": (0.25, 2.0),  # a customs officer picks the containers to inspect
    "record_sampling": (1.0, 8.0),  # the agency samples once the containers are in the sampling area
    "countersign_sampling": (0.1, 1.5),  # the trader's representative countersigns the record
    "request_preservation": (0.25, 3.0),
    "pay_fees": (0.5, 6.0),
    "handle_non_compliance": (2.0, 16.0),
}
_ESCALATION_REVIEW = (0.25, 3.0)  # a manager reviews an overdue step
_OTHER = (0.5, 4.0)
_DECISION = (0.25, 1.8)  # the branch head's preservation decision: its SLA is 2 working hours
_DECISION_LATE = (2.1, 4.0)
_DECISION_LATE_SHARE = 0.2
# The agency's result: on time, a share of its n working days (its own deadline from agencies.json, else
# the 10-day cap); late, a multiple of n + 1 days, since the deadline is the end of the n-th working day
# after the task opened, which lies between n and n + 1 days of office hours away.
_RESULT_SHARE = (0.15, 0.9)
_RESULT_LATE_SHARE = (1.05, 1.4)
_RESULT_LATE = 0.15
_LEGAL_RESULT_DAYS = 10
_TYPICAL_RESULT_DAYS = 5  # on time, agencies held only to the 10-day cap answer within a week (the
# 2016 Cat Lai figures: goods received 4.2 days after the physical inspection)


@dataclass(frozen=True)
class Pace:
    """Draws the working hours from a task's creation until its party acts on it."""

    name: str
    seed: int
    result_deadline_days: dict[str, int]  # agency code -> its result deadline in working days
    hours_per_day: float

    @classmethod
    def from_seed(cls, name: str, seed: int, seed_data: dict[str, Any], hours_per_day: float) -> Pace:
        if name not in PACES:
            raise ValueError(f"unknown pace {name!r}: choose one of {', '.join(PACES)}")
        deadlines = {
            org["code"]: int((org.get("details") or {}).get("result_deadline_wd") or _LEGAL_RESULT_DAYS)
            for org in seed_data["organizations"]
            if org.get("kind") == "agency"
        }
        return cls(name, seed, deadlines, hours_per_day)

    def hours(self, declaration_no: str, step_id: str, organization: str, escalation: bool) -> float:
        """Working hours the party of this task takes before it acts (0 with the instant pace)."""
        if self.name == "instant":
            return 0.0
        rng = random.Random(f"{self.seed}:{declaration_no}:{step_id}")
        if escalation:
            return rng.uniform(*_ESCALATION_REVIEW)
        if step_id == "decide_preservation":
            late = rng.random() < _DECISION_LATE_SHARE
            return rng.uniform(*(_DECISION_LATE if late else _DECISION))
        if step_id == "publish_result":
            days = self.result_deadline_days.get(organization, _LEGAL_RESULT_DAYS)
            if rng.random() < _RESULT_LATE:
                return (days + 1) * self.hours_per_day * rng.uniform(*_RESULT_LATE_SHARE)
            return min(days, _TYPICAL_RESULT_DAYS) * self.hours_per_day * rng.uniform(*_RESULT_SHARE)
        return rng.uniform(*_STEPS.get(step_id, _OTHER))
