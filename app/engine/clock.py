"""The one injectable clock: every timestamp, deadline and SpiffWorkflow timer reads time from here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models import SimulatedClockState


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to (in-process tests)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


_ANCHORS = select(SimulatedClockState.simulated_anchor, SimulatedClockState.real_anchor).where(
    SimulatedClockState.id == 1
)


class SimulatedClock:
    """A clock shared through the database by the portal, the worker and the demo driver.

    It ticks with real time from an anchor; ``advance`` jumps it forward for everyone at once.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        start: datetime,
        read_factory: sessionmaker[Session] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._reads = read_factory or session_factory
        self._start = start.astimezone(UTC)

    def _state(self, session: Session) -> SimulatedClockState:
        state = session.scalar(select(SimulatedClockState).where(SimulatedClockState.id == 1))
        if state is None:
            state = SimulatedClockState(id=1, simulated_anchor=self._start, real_anchor=datetime.now(UTC))
            session.add(state)
            session.flush()
        return state

    def now(self) -> datetime:
        # A plain read (never the write lock just to tell the time), in Core: every command asks.
        with self._reads.kw["bind"].connect() as conn:
            row = conn.execute(_ANCHORS).first()
        if row is None:
            return self._start
        simulated_anchor, real_anchor = row
        return simulated_anchor + (datetime.now(UTC) - real_anchor)

    def advance(self, delta: timedelta) -> datetime:
        """Move simulated time forward by ``delta`` for every process sharing the database."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._sessions.begin() as session:
            state = self._state(session)
            real_now = datetime.now(UTC)
            state.simulated_anchor = state.simulated_anchor + (real_now - state.real_anchor) + delta
            state.real_anchor = real_now
            return state.simulated_anchor

    def initialize(self) -> None:
        """Create the stored clock at its configured start if it does not exist yet."""
        with self._sessions.begin() as session:
            self._state(session)


def parse_aware(value: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are rejected rather than guessed."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {value!r}")
    return moment.astimezone(UTC)
