"""Engine errors in the reader's language. A reason that names a state, a role or a person comes as an
English template with parameters (``app.engine.errors``); the template and the words it names are
translated separately, so "work item is claimed, not open" reads "công việc đang được nhận, không còn mở"."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from app.engine.errors import PortalError
from app.i18n import N_

# The words a reason may name: states of work items and jobs, and roles.
WORDS = {
    "open": N_("open"),
    "claimed": N_("taken"),
    "completed": N_("completed"),
    "cancelled": N_("cancelled"),
    "pending": N_("waiting to run"),
    "locked": N_("running"),
    "done": N_("done"),
    "incident": N_("an incident"),
    "cleared": N_("cleared"),
    "rejected": N_("rejected"),
    "non_compliance_handled": N_("closed after non-compliance handling"),
    "customs_officer": N_("customs officer"),
    "agency_officer": N_("agency officer"),
    "branch_head": N_("branch head"),
    "manager": N_("manager"),
    "trader": N_("trader"),
    "port_operator": N_("port operator"),
}

# The engine's reasons about work items and incidents, listed for the catalog.
REASONS = (
    N_("work item is %(state)s, not open"),
    N_("work item is %(state)s, not claimed"),
    N_("work item is %(state)s"),
    N_("work item is already %(state)s"),
    N_("no %(role)s of %(organization)s is called '%(name)s'"),
    N_("only the assignee or a supervisor can release this work item"),
    N_("only a manager or branch head of the organization can reassign"),
    N_("job is %(state)s, not an incident"),
    N_("no such incident"),
)


def localized(template: str, params: dict[str, Any] | None = None) -> str:
    """``template`` in the reader's language, with its named words translated too; capitalized."""
    words = {k: _(WORDS[v]) if isinstance(v, str) and v in WORDS else v for k, v in (params or {}).items()}
    text = _(template)
    if words:
        try:
            text = text % words
        except (KeyError, TypeError, ValueError):  # a catalog entry that lost a placeholder
            text = template % (params or {})
    return text[:1].upper() + text[1:]


def reason(exc: PortalError) -> str:
    """The reader's sentence for an engine error."""
    return localized(exc.template, exc.params)
