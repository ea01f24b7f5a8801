"""The port operator's fallback page: consignments at its terminal still waiting for the containers to be
reported in the sampling area, with a form to report their positions when the port's own system cannot
(``commands.port.ReportContainersPositioned`` sends the same ``ContainerPositioned`` message)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import queries
from app.access import PORT_ROLES
from app.engine.commands import ReportContainersPositioned
from app.engine.errors import Conflict, PortalError, ValidationFailed
from app.i18n import N_

from .auth import current_actor
from .context import portal
from .reasons import localized

bp = Blueprint("port", __name__)

# The reasons ``commands.port`` gives, for the catalog (the page fills in their numbers).
REASONS = (
    N_("is required"),
    N_("%(number)s is not a valid container number"),
    N_("%(number)s is not one of the containers the port was asked to move (%(expected)s)"),
    N_("%(number)s is listed twice"),
    N_("must be a yard position such as SA-B-014 (letters, digits, '-', '/' or '.', at most 20)"),
    N_("give the position of %(missing)s"),
    N_("the containers of this consignment were already reported in place"),
    N_("the port has not been asked to move the containers of this consignment yet"),
    N_("this step is no longer open"),
    N_("the consignment is already %(status)s"),
)


def _require_port() -> None:
    if current_user.role not in PORT_ROLES:
        abort(403)


@bp.get("/port/positions")
@login_required
def positions():
    _require_port()
    return _page()


@bp.post("/port/positions/<declaration_no>")
@login_required
def report(declaration_no: str):
    _require_port()
    numbers = request.form.getlist("container_no")
    places = request.form.getlist("position")
    rows = [
        {
            "container_no": numbers[i] if i < len(numbers) else "",
            "position": places[i] if i < len(places) else "",
        }
        for i in range(max(len(numbers), len(places)))
    ]
    try:
        portal().execute(ReportContainersPositioned(declaration_no, rows), current_actor())
    except ValidationFailed as exc:
        return _page(declaration_no, rows, exc.errors, 422)
    except Conflict as exc:
        return _page(declaration_no, rows, [_as_error(exc)], exc.status)
    except PortalError as exc:
        if exc.status in (403, 404):
            abort(exc.status, description=localized(exc.template, exc.params))
        return _page(declaration_no, rows, [_as_error(exc)], exc.status)
    flash(
        _("Container positions of %(no)s reported; the consignment goes on to sampling.", no=declaration_no)
    )
    return redirect(url_for("port.positions"))


def _as_error(exc: PortalError) -> dict:
    return {"field": exc.field or "declaration_no", "template": exc.template, "params": exc.params}


def _page(declaration_no: str | None = None, rows=None, errors=None, status: int = 200):
    with portal().db.read_session() as db:
        waiting = queries.awaiting_positions(db, current_actor())
    messages = [
        {"field": e["field"], "message": localized(e.get("template") or e["reason"], e.get("params"))}
        for e in errors or []
    ]
    return (
        render_template(
            "port_positions.html",
            waiting=waiting,
            failed=declaration_no,
            typed=rows or [],
            errors=messages,
            by_field={m["field"]: m["message"] for m in messages},
        ),
        status,
    )
