"""Deployed model versions (the spec stored once per version) and process instances (the serialized
workflow state guarded by an optimistic revision), plus messages waiting for their catch event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ModelVersion(Base):
    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    process_id: Mapped[str] = mapped_column(String(100))
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    spec_json: Mapped[str] = mapped_column(Text)
    files: Mapped[dict[str, Any]]
    forms: Mapped[dict[str, Any]]
    note: Mapped[str] = mapped_column(Text, default="")
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


class ProcessInstance(Base):
    __tablename__ = "process_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    revision: Mapped[int] = mapped_column(default=1)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    serializer_version: Mapped[str] = mapped_column(String(16))
    completed: Mapped[bool] = mapped_column(default=False)
    next_timer_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_process_instances_due_timer", "next_timer_at"),)


class MessageInbox(Base):
    """A message from an outside system that arrived before the process was waiting for it."""

    __tablename__ = "message_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    result_var: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
