"""Who may open what: the role rules every page, API route and command applies, kept in one place.

Which rows a role sees inside a page is decided by the scoped queries (``app.queries``, ``app.reports``);
this module says which roles may open a page or call a route at all, and which customs branches a port
operator's terminal serves.

The port operator's rule: a terminal operator sees, and reports container positions for, the container
consignments declared at the customs branches of its terminal, listed in its organization's
``details.customs_branches`` (``config/seed.json``). Saigon Newport's account in the seed is its Cát Lái
terminal, and Cát Lái's customs branch is 02CI (PROCEDURE.md); Tân Cảng (02CX) and Hiệp Phước (02CV) have
no terminal operator in the seed, so nobody from a port sees their consignments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Organization

SEE_ALL_ROLES = frozenset({"admin", "analyst", "system"})
SUPERVISOR_ROLES = ("manager", "branch_head")
# The incidents page and the incidents API (list and retry).
INCIDENT_ROLES = ("admin", "manager", "port_operator")
# The dashboard, its CSV exports and the escalations API: the same figures, the same readers.
DASHBOARD_ROLES = ("admin", "manager", "branch_head")
# The port's fallback page and the port's callback.
PORT_ROLES = ("port_operator",)
# Topics of the port's own system: the only incidents a port operator can do something about.
PORT_TOPIC_PREFIX = "port."


def terminal_branches(session: Session, organization: str | None) -> tuple[str, ...]:
    """The customs branches whose container consignments the port ``organization``'s terminal handles."""
    if not organization:
        return ()
    details = session.scalar(
        select(Organization.details).where(Organization.code == organization, Organization.kind == "port")
    )
    branches = (details or {}).get("customs_branches") or ()
    return tuple(str(b) for b in branches)
