"""Recompute the dashboard's running totals from the projections (after a migration or a bulk import)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import statistics
from ..executor import CommandContext


@dataclass
class RebuildStatistics:
    def execute(self, ctx: CommandContext) -> dict[str, int]:
        counted = statistics.rebuild(ctx.session, ctx.runtime.calendar.tz)
        ctx.record(None, "statistics_rebuilt", counted)
        return counted
