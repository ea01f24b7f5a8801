"""SLA colours of work items as people read them: on time, due soon (within the next working hours),
overdue — measured in working hours on the portal's calendar and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.services import Portal

DUE_SOON_WORKING_HOURS = 4.0


@dataclass(frozen=True)
class SlaClock:
    now: datetime
    due_soon_before: datetime
    portal: Portal

    @classmethod
    def current(cls, portal: Portal) -> SlaClock:
        moment = portal.clock.now()
        return cls(moment, portal.calendar.add_working_hours(moment, DUE_SOON_WORKING_HOURS), portal)

    def state(self, due_at: datetime | None) -> str:
        if due_at is None:
            return "none"
        if due_at < self.now:
            return "overdue"
        if due_at < self.due_soon_before:
            return "due_soon"
        return "on_time"

    def remaining_hours(self, due_at: datetime | None) -> float | None:
        """Working hours left until ``due_at`` (negative when overdue)."""
        if due_at is None:
            return None
        if due_at >= self.now:
            return round(self.portal.calendar.working_hours_between(self.now, due_at), 1)
        return -round(self.portal.calendar.working_hours_between(due_at, self.now), 1)
