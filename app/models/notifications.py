"""In-app notifications per user and the outbox of e-mails the worker sends through SMTP.

Both are written by commands in the same transaction as the change they announce, so a notification
exists exactly when its change committed; the worker drains the outbox afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .work import WorkItem


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))  # new_task | escalation | decision
    consignment_id: Mapped[int | None] = mapped_column(ForeignKey("consignments.id"))
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    # Set instead of work_item_id when the work item is new in the same command (its id comes at flush).
    work_item: Mapped[WorkItem | None] = relationship()
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at", "id"),)


class OutboundEmail(Base):
    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbound_emails_pending", "state", "id"),)
