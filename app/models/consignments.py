"""Consignments (what traders register and everyone tracks) and their timeline of steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

STATUSES = ("registered", "in_progress", "cleared", "non_compliance_handled", "rejected")


class Consignment(Base):
    __tablename__ = "consignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_no: Mapped[str] = mapped_column(String(12), unique=True)
    declaration_type: Mapped[str] = mapped_column(String(8))
    customs_branch: Mapped[str] = mapped_column(String(8), index=True)
    trader_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    goods: Mapped[str] = mapped_column(String(500))
    hs_codes: Mapped[list[Any]]
    containers: Mapped[list[Any]]
    awb: Mapped[str | None] = mapped_column(String(16))
    bill_of_lading: Mapped[str | None] = mapped_column(String(64), index=True)
    sampling_place: Mapped[str | None] = mapped_column(String(200))
    lead_agency: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    current_step: Mapped[str | None] = mapped_column(String(300))
    escalated: Mapped[bool] = mapped_column(default=False)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), unique=True)
    registered_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # Working hours from registration to the end of the procedure (the dashboard's clearance trend).
    clearance_hours: Mapped[float | None]
    last_activity_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_consignments_stalled", "status", "last_activity_at"),
        Index("ix_consignments_finished", "finished_at"),
    )


class TimelineEvent(Base):
    """One step of a consignment as people read it: who did what, when, and how long it took."""

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    consignment_id: Mapped[int] = mapped_column(ForeignKey("consignments.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    step_id: Mapped[str] = mapped_column(String(100))
    step_name: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(64))
    organization: Mapped[str | None] = mapped_column(String(32))
    working_hours: Mapped[float | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
