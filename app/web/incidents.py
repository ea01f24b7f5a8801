"""Incidents for operators: service-task jobs that failed their last retry, with their error; retry one
or many. Who may open the page is ``app.access.INCIDENT_ROLES`` (the API uses the same rule); which
incidents each sees is ``queries.incidents``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import queries
from app.access import INCIDENT_ROLES
from app.engine.commands import RetryIncident
from app.engine.errors import PortalError

from .auth import current_actor
from .context import portal

bp = Blueprint("incidents", __name__)


def _require_operator() -> None:
    if current_user.role not in INCIDENT_ROLES:
        abort(403)


@bp.get("/incidents")
@login_required
def index():
    _require_operator()
    with portal().db.read_session() as db:
        rows = queries.incidents(db, current_actor(), limit=500)
    return render_template("incidents.html", rows=rows)


@bp.post("/incidents/retry")
@login_required
def retry():
    _require_operator()
    wanted = {int(v) for v in request.form.getlist("job_id") if v.isdigit()}
    if not wanted:
        flash(_("Choose at least one incident to retry."), "error")
        return redirect(url_for("incidents.index"))
    with portal().db.read_session() as db:  # only incidents the operator may see
        visible = {job.id for job, _c in queries.incidents(db, current_actor(), limit=10_000)}
    if not wanted & visible:  # nothing asked for is yours to retry: indistinguishable from missing
        abort(404, description=_("No such incident that you may see."))
    retried, failed = 0, 0
    for job_id in sorted(wanted & visible):
        try:
            portal().execute(RetryIncident(job_id), current_actor())
            retried += 1
        except PortalError:
            failed += 1
    failed += len(wanted - visible)
    flash(_("%(n)s incident(s) sent for retry.", n=retried), "success")
    if failed:
        flash(_("%(n)s could not be retried (already handled or not yours).", n=failed), "error")
    return redirect(url_for("incidents.index"))
