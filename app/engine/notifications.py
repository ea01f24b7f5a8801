"""Tell people what concerns them: in-app notifications per user and e-mails queued in the outbox.

Called by commands (new work item, escalation raised, decision on a trader's request) inside their
transaction; the worker sends queued e-mails through SMTP after the commit. Each recipient reads the step
in their own language: the model's Vietnamese name (``name_vi``) when they read Vietnamese."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from app.i18n import N_, normalize_locale, translator
from app.models import Consignment, Notification, Organization, OutboundEmail, User, WorkItem
from app.step_names import StepNames

from .late_rows import IdOf

if TYPE_CHECKING:
    from .executor import CommandContext

# Subject and body of each kind, as English msgids translated per recipient.
_SUBJECTS = {
    "new_task": N_("New task: {step} ({declaration})"),
    "escalation": N_("Escalation: {step} ({declaration})"),
    "decision": N_("Decision on consignment {declaration}: {step}"),
    "stalled": N_("Stalled consignment: {declaration}"),
}
_BODIES = {
    "new_task": N_("A new task is waiting for your organization: {step}, consignment {declaration}."),
    "escalation": N_("A deadline has passed and needs your review: {step}, consignment {declaration}."),
    "decision": N_(
        "The step {step} of consignment {declaration} has been decided. "
        "Open the consignment page to read the decision."
    ),
    "stalled": N_(
        "Nothing has happened on consignment {declaration} for longer than the allowed working hours. "
        "It is waiting at: {step}."
    ),
}


# Built once: every new work item asks.
_RECIPIENTS = (
    select(User.id, User.email, User.locale)
    .join(Organization, Organization.id == User.organization_id)
    .where(Organization.code == bindparam("organization"))
)
_RECIPIENTS_WITH_ROLE = _RECIPIENTS.where(User.role == bindparam("role"))
_NOTIFICATIONS = Notification.__table__


def notify(
    ctx: CommandContext,
    *,
    now: datetime,
    kind: str,
    organization: str,
    role: str | None,
    consignment: Consignment,
    step_name: str,
    step_name_vi: str | None = None,
    work_item: WorkItem | None = None,
    email: bool = True,
) -> int:
    """Notify every user of ``organization`` (with ``role``, when given); return how many were told.

    The rows are written at the end of the command (``CommandContext.insert_later``), after the new
    ``work_item`` they point at."""
    session = ctx.session
    stmt = _RECIPIENTS if role is None else _RECIPIENTS_WITH_ROLE
    # Stored: the step's English name only. The declaration number is the consignment's and the
    # Vietnamese name the model's: both are looked up when the list is read (``for_reading``).
    params: dict[str, Any] = {"step": step_name}
    mail = {**params, "declaration": consignment.declaration_no, "step_vi": step_name_vi}
    recipients = session.execute(stmt, {"organization": organization, "role": role}).all()
    item_id = IdOf(work_item) if work_item is not None else None  # its id is read when the row is written
    for user_id, address, locale in recipients:
        ctx.insert_later(
            _NOTIFICATIONS,
            user_id=user_id,
            kind=kind,
            consignment_id=consignment.id,
            work_item_id=item_id,
            params=params,
            created_at=now,
            read_at=None,
        )
        if email and address:
            subject, body = render_email(kind, mail, locale)
            session.add(OutboundEmail(recipient=address, subject=subject, body=body, created_at=now))
    return len(recipients)


def render_email(kind: str, params: dict[str, Any], locale: str) -> tuple[str, str]:
    """Subject and body of a notification e-mail in the recipient's language."""
    gettext = translator(locale).gettext
    values = {"step": params.get("step", ""), "declaration": params.get("declaration", "")}
    if normalize_locale(locale) == "vi" and params.get("step_vi"):
        values["step"] = params["step_vi"]
    return gettext(_SUBJECTS[kind]).format(**values), gettext(_BODIES[kind]).format(**values)


def for_reading(params: dict[str, Any], declaration_no: str | None, names: StepNames) -> dict[str, Any]:
    """A stored notification's params with what it leaves to be looked up: the declaration number and
    the step's Vietnamese name (rows written before they were left out carry both themselves)."""
    full = {"declaration": declaration_no or "", **params}
    if not full.get("step_vi") and full.get("step"):
        full["step_vi"] = names.vi(None, full["step"])
    return full


def describe(kind: str, params: dict[str, Any], locale: str) -> str:
    """One line for the in-app notification list."""
    return render_email(kind, params, locale)[0]
