"""Words the pages repeat on every row (statuses, escalation kinds, task states, SLA badges), translated
once per request: Flask-Babel's ``gettext`` costs a catalog lookup per call, and a dashboard with fifty
rows would otherwise spend most of its time there.

Step and organization names in the reader's language: the projections keep a step's English name, and
the Vietnamese one comes from the model (``app.step_names``), looked up once per request."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import g
from flask_babel import get_locale, gettext

from app.i18n import N_
from app.step_names import StepNames, deployed_step_names

from .context import portal

STATUS = {
    "registered": N_("Registered"),
    "in_progress": N_("In progress"),
    "cleared": N_("Cleared"),
    "rejected": N_("Rejected"),
    "non_compliant": N_("Non-compliant"),
    "completed": N_("Completed"),
}
ESCALATION = {
    "port_move_overdue": N_("Port move overdue (12 h)"),
    "preservation_decision_overdue": N_("Preservation decision overdue (2 working h)"),
    "result_overdue": N_("Inspection result overdue"),
    "stalled": N_("Stalled: nothing happened"),
}
SLA = {
    "none": N_("no deadline"),
    "overdue": N_("Overdue by %(h)s working h"),
    "due_soon": N_("Due soon: %(h)s working h left"),
    "on_time": N_("On time: %(h)s working h left"),
}


def labels() -> SimpleNamespace:
    """The translated labels of this request's language."""
    cached = getattr(g, "_portal_labels", None)
    if cached is None:
        cached = SimpleNamespace(
            status={k: gettext(v) for k, v in STATUS.items()},
            escalation={k: gettext(v) for k, v in ESCALATION.items()},
            sla={k: gettext(v) for k, v in SLA.items()},
        )
        g._portal_labels = cached
    return cached


# Timeline rows the engine writes without a step of the model behind them.
TIMELINE = {
    "stalled": N_("Consignment stalled"),
    "incident": N_("Incident: %(topic)s"),
    "migration": N_("Moved to model version %(version)s"),
}
WAITING_FOR = N_("Waiting for %(name)s")


def _vietnamese() -> bool:
    return str(get_locale()) == "vi"


def step_names() -> StepNames:
    """The deployed versions' Vietnamese step names (one small query per request, cached per version)."""
    cached = getattr(g, "_portal_step_names", None)
    if cached is None:
        with portal().db.read_session() as db:
            cached = deployed_step_names(db)
        g._portal_step_names = cached
    return cached


def step_label(step_id: str | None, name: str | None = None) -> str:
    """A step's name in the reader's language (by its id alone when the row has no name)."""
    vietnamese = _vietnamese()
    if name and not vietnamese:
        return name
    names = step_names()
    return (
        (names.vi(step_id, name) if vietnamese else None) or name or names.english(step_id) or step_id or ""
    )


def current_step_label(text: str | None) -> str:
    """A consignment's current step(s) ("A; B; Waiting for M") in the reader's language."""
    if not text:
        return ""
    if not _vietnamese():
        return text
    names = step_names()
    parts = []
    for part in text.split("; "):
        if part.startswith("Waiting for "):
            message = part[len("Waiting for ") :]
            parts.append(gettext(WAITING_FOR, name=names.by_message.get(message, (message, message))[1]))
        else:
            parts.append(names.by_name.get(part, part))
    return "; ".join(parts)


def timeline_label(event: Any) -> str:
    """The name of one timeline row in the reader's language."""
    kind = event.kind
    if kind == "incident" and event.step_name.startswith("Incident: "):
        topic = event.step_name[len("Incident: ") :]
        return gettext(TIMELINE["incident"], topic=topic) if _vietnamese() else event.step_name
    if kind == "migration":
        version = (event.detail or {}).get("to_version")
        if version is not None and _vietnamese():
            return gettext(TIMELINE["migration"], version=version)
        return event.step_name
    if kind == "escalation" and event.step_id == "stalled":
        return gettext(TIMELINE["stalled"]) if _vietnamese() else event.step_name
    if kind == "message":  # recorded under the message's name: show its catch event's name
        english, vietnamese = step_names().by_message.get(event.step_name, (event.step_name, None))
        return (vietnamese if _vietnamese() else None) or english
    return step_label(event.step_id, event.step_name)


def org_label(name: str | None, name_vi: str | None = None) -> str:
    """An organization's name in the reader's language (its English name when it has no Vietnamese one)."""
    if _vietnamese() and name_vi:
        return name_vi
    return name or ""


def organization_label(organization: Any) -> str:
    """``org_label`` for an ``Organization`` row (or None)."""
    if organization is None:
        return ""
    return org_label(organization.name, getattr(organization, "name_vi", None))


def install(app) -> None:
    """Make the labels available to every template."""
    app.jinja_env.globals.update(
        labels=labels,
        step_label=step_label,
        current_step_label=current_step_label,
        timeline_label=timeline_label,
        org_label=org_label,
        organization_label=organization_label,
    )
