"""How commands of one process run side by side: one at a time on SQLite (they could not run in parallel in
CPython anyway, and interleaved they would hold SQLite's single write lock longer), overlapping on
PostgreSQL, where their round trips to the server can overlap."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Pause:
    """A command that only waits a moment and notes when it ran (it changes nothing)."""

    seconds: float
    ran: list[tuple[float, float]] = field(default_factory=list)

    def execute(self, ctx) -> None:  # noqa: ANN001
        started = time.monotonic()
        time.sleep(self.seconds)
        self.ran.append((started, time.monotonic()))


def run_together(portal, commands: list[Pause]) -> list[tuple[float, float]]:
    threads = [threading.Thread(target=portal.execute, args=(c,)) for c in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return sorted(span for c in commands for span in c.ran)


def test_commands_of_one_process_take_turns_on_sqlite_and_overlap_on_postgresql(portal):
    (first_start, first_end), (second_start, _) = run_together(portal, [Pause(0.2), Pause(0.2)])
    if portal.db.engine.dialect.name == "sqlite":
        assert second_start >= first_end
    else:
        assert second_start < first_end


def test_a_command_run_from_inside_another_does_not_wait_for_itself(portal):
    inner = Pause(0.0)

    @dataclass
    class Outer:
        def execute(self, ctx) -> None:  # noqa: ANN001
            portal.execute(inner)

    portal.execute(Outer())
    assert len(inner.ran) == 1
