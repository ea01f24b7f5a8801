"""Send queued notification e-mails through the configured SMTP server (stdlib ``smtplib``)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from app.engine.commands.mail import ClaimOutboundEmails, RecordEmailResult
from app.services import Portal

log = logging.getLogger(__name__)


def send_pending_emails(portal: Portal, limit: int = 20) -> int:
    """Send up to ``limit`` queued e-mails; return how many were handled. No SMTP host: nothing to do."""
    settings = portal.settings
    if not settings.smtp_host:
        return 0
    tickets = portal.execute(ClaimOutboundEmails(limit))
    if not tickets:
        return 0
    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10)
    except OSError as exc:
        for ticket in tickets:
            portal.execute(RecordEmailResult(ticket.id, f"cannot reach SMTP server: {exc}"))
        return len(tickets)
    with smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        for ticket in tickets:
            message = EmailMessage()
            message["From"] = settings.smtp_sender
            message["To"] = ticket.recipient
            message["Subject"] = ticket.subject
            message.set_content(ticket.body)
            try:
                smtp.send_message(message)
            except smtplib.SMTPException as exc:
                log.warning("e-mail %s not sent: %s", ticket.id, type(exc).__name__)
                portal.execute(RecordEmailResult(ticket.id, str(exc)))
            else:
                portal.execute(RecordEmailResult(ticket.id))
    return len(tickets)
