"""The e-mail outbox as the worker drains it: claim pending e-mails, then record each one sent or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from app.models import OutboundEmail

from ..executor import CommandContext

MAX_EMAIL_ATTEMPTS = 5
SENDING_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class EmailTicket:
    id: int
    recipient: str
    subject: str
    body: str


@dataclass
class ClaimOutboundEmails:
    limit: int = 20

    def execute(self, ctx: CommandContext) -> list[EmailTicket]:
        # "sending" rows older than the lease belong to a worker that died mid-send: take them again.
        rows = ctx.session.scalars(
            select(OutboundEmail)
            .where(
                or_(
                    OutboundEmail.state == "pending",
                    (OutboundEmail.state == "sending") & (OutboundEmail.sent_at < ctx.now - SENDING_LEASE),
                )
            )
            .order_by(OutboundEmail.id)
            .limit(self.limit)
        ).all()
        tickets = []
        for row in rows:
            row.state, row.attempts, row.sent_at = "sending", row.attempts + 1, ctx.now
            tickets.append(EmailTicket(row.id, row.recipient, row.subject, row.body))
        return tickets


@dataclass
class RecordEmailResult:
    email_id: int
    error: str | None = None

    def execute(self, ctx: CommandContext) -> None:
        row = ctx.session.get(OutboundEmail, self.email_id)
        if row is None:
            return
        if self.error is None:
            row.state, row.sent_at, row.last_error = "sent", ctx.now, None
        else:
            row.last_error = self.error[:500]
            row.state = "failed" if row.attempts >= MAX_EMAIL_ATTEMPTS else "pending"
