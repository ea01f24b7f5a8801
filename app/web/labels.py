"""Words the pages repeat on every row (statuses, escalation kinds, task states, SLA badges), translated
once per request: Flask-Babel's ``gettext`` costs a catalog lookup per call, and a dashboard with fifty
rows would otherwise spend most of its time there."""

from __future__ import annotations

from types import SimpleNamespace

from flask import g
from flask_babel import gettext

from app.i18n import N_

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
