"""Projections written by commands: work items (open user tasks), jobs (service tasks for the worker),
escalations for managers, and the hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CompressedBytes, HexDigest


class WorkItem(Base):
    __tablename__ = "work_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    consignment_id: Mapped[int] = mapped_column(ForeignKey("consignments.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)
    step_id: Mapped[str] = mapped_column(String(100))
    step_name: Mapped[str] = mapped_column(String(200))
    form_key: Mapped[str | None] = mapped_column(String(100))
    organization: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalation: Mapped[str | None] = mapped_column(String(64))
    signature_required: Mapped[bool] = mapped_column(default=False)
    # The consignment's branch and lead agency, copied so dashboards filter open work without a join.
    customs_branch: Mapped[str | None] = mapped_column(String(8))
    lead_agency: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        Index("ix_work_items_inbox", "organization", "role", "state", "due_at"),
        Index("ix_work_items_open_due", "state", "due_at", "organization", "customs_branch", "lead_agency"),
    )
    # Every ORM update of a work item checks that its state is still the one read (UPDATE ... WHERE
    # state = <read>): a claim, release or completion that raced another fails instead of overwriting it.
    __mapper_args__ = {"version_id_col": state, "version_id_generator": False}


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    consignment_id: Mapped[int] = mapped_column(ForeignKey("consignments.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    step_id: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(100))
    inputs: Mapped[dict[str, Any]]
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    # pending -> locked -> done | incident (after the last failed attempt)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_run_at: Mapped[datetime]
    lock_owner: Mapped[str | None] = mapped_column(String(64))
    lock_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_jobs_due", "state", "next_run_at"),)


class Escalation(Base):
    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    consignment_id: Mapped[int] = mapped_column(ForeignKey("consignments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    organization: Mapped[str] = mapped_column(String(32), index=True)
    raised_at: Mapped[datetime]
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    work_item: Mapped[WorkItem | None] = relationship()  # see Notification.work_item
    resolved_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only; each row carries the hash of the one before it.

    ``chain_version`` 1 rows were sealed before signatures existed; version 2 seals also cover the id, the
    signature and the signer's certificate. A signed event keeps the exact signed bytes (``signed_payload``),
    the detached signature and a reference to the certificate; its ``data_hash`` is the payload's SHA-256."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    organization: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    consignment_id: Mapped[int | None] = mapped_column(ForeignKey("consignments.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    data_hash: Mapped[str] = mapped_column(HexDigest)
    prev_hash: Mapped[str] = mapped_column(HexDigest)
    hash: Mapped[str] = mapped_column(HexDigest)
    chain_version: Mapped[int] = mapped_column(default=2)
    signature: Mapped[str | None] = mapped_column(Text)  # base64 of the detached signature
    signed_payload: Mapped[bytes | None] = mapped_column(CompressedBytes)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("signing_certificates.id"))


class AuditHead(Base):
    """The chain's head (one row): the id and hash of the newest event.

    It lets ``portal audit verify`` notice a deleted last event, which no link inside the chain can show.
    Commands move it forward in the same transaction as the events they append; audit rows themselves are
    never updated or deleted."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
