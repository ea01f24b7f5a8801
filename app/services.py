"""Wire the portal's parts together once per process: database, calendar, clock, engine runtime and the
command executor. The web app, the worker and the CLI all build their parts here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.cpu_probe import probe_for
from app.db import Database
from app.engine.clock import Clock, SimulatedClock, SystemClock
from app.engine.executor import SYSTEM, Actor, Command, CommandExecutor
from app.engine.runtime import Runtime
from app.engine.working_time import WorkingCalendar
from app.models import ModelVersion
from app.settings import Settings


@dataclass
class Portal:
    settings: Settings
    db: Database
    calendar: WorkingCalendar
    clock: Clock
    runtime: Runtime
    executor: CommandExecutor

    def execute(self, command: Command, actor: Actor | None = None):
        """Run one command through the executor."""
        return self.executor.execute(command, actor or SYSTEM)

    def warm_up(self) -> None:
        """Build what the first command would otherwise build while someone waits: the holiday calendar
        and the latest deployed model's specs and forms."""
        self.calendar.is_working_day(self.clock.now())
        with self.db.session() as session:
            latest = session.scalar(select(ModelVersion.id).order_by(ModelVersion.version.desc()).limit(1))
            if latest is not None:
                self.runtime.specs(session, latest)

    def close(self) -> None:
        self.db.dispose()


def build_portal(settings: Settings, clock: Clock | None = None) -> Portal:
    """Build the parts of one portal process from its settings."""
    db = Database(settings.database_url)
    calendar = WorkingCalendar(
        timezone=settings.timezone, office_start=settings.office_start, office_end=settings.office_end
    )
    if clock is None:
        if settings.clock == "simulated":
            clock = SimulatedClock(
                db.write_session, datetime.fromisoformat(settings.simulated_clock_start), db.read_session
            )
        elif settings.clock == "system":
            clock = SystemClock()
        else:
            raise ValueError(f"PORTAL_CLOCK must be 'system' or 'simulated', not {settings.clock!r}")
    runtime = Runtime(calendar)
    executor = CommandExecutor(db, runtime, clock, settings)
    probe = probe_for(settings.cpu_probe_dir)
    if probe is not None:
        executor.execute = probe.timed_commands(  # type: ignore[method-assign]
            executor.execute, runtime.workflows.last_outcome
        )
    return Portal(settings, db, calendar, clock, runtime, executor)
