"""Running totals behind the manager dashboard, kept by commands in the same transaction as the change
they count, so each figure is one small SQL query however many consignments there are.

Every row belongs to a *scope*: ``all``, ``branch:<customs branch>`` or ``agency:<lead agency>``; a
consignment adds to the three scopes it belongs to."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class StepDurationBucket(Base):
    """How many times a step took ``bucket`` tenths of a working hour (a histogram per step and scope)."""

    __tablename__ = "stats_step_durations"

    step_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)
    step_name: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(default=0)


class SlaCounter(Base):
    """Completed work items with a deadline per organization and scope, and how many were late."""

    __tablename__ = "stats_sla"

    organization: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    items: Mapped[int] = mapped_column(default=0)
    breached: Mapped[int] = mapped_column(default=0)


class ClearanceWeek(Base):
    """Cleared consignments per ISO week (of the clearance) and scope, with their working hours summed."""

    __tablename__ = "stats_clearance_weeks"

    week: Mapped[str] = mapped_column(String(10), primary_key=True)  # e.g. 2026-W49
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    cleared: Mapped[int] = mapped_column(default=0)
    hours: Mapped[float] = mapped_column(default=0.0)
