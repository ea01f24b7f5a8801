"""API: incidents (failed jobs) and their retry, escalations, the simulated clock, health."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify

from app import queries, reports
from app.access import DASHBOARD_ROLES, INCIDENT_ROLES
from app.engine.clock import SimulatedClock
from app.engine.commands import RetryIncident
from app.engine.errors import NotFound, PortalError, ValidationFailed

from . import bp
from .auth import current_actor, require_token
from .context import portal
from .errors import json_body


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/incidents")
@require_token(*INCIDENT_ROLES)
def list_incidents():
    with portal().db.session() as session:
        rows = queries.incidents(session, current_actor())
        return jsonify({"items": [queries.job_json(job, c.declaration_no) for job, c in rows]})


@bp.post("/incidents/<int:job_id>/retry")
@require_token(*INCIDENT_ROLES)
def retry_incident(job_id: int):
    with portal().db.session() as session:
        visible = {job.id for job, _ in queries.incidents(session, current_actor(), limit=10_000)}
    if job_id not in visible:
        raise NotFound("no such incident that you may see", field="job_id")
    job = portal().execute(RetryIncident(job_id), current_actor())
    return jsonify(queries.job_json(job))


@bp.get("/escalations")
@require_token(*DASHBOARD_ROLES)
def list_escalations():
    """The open escalations of the caller's dashboard: the same scope, the same rows."""
    with portal().db.session() as session:
        rows = reports.open_escalations(session, reports.scope_of(session, current_actor()), limit=500)
        return jsonify(
            {
                "items": [
                    {
                        "id": e.id,
                        "kind": e.kind,
                        "declaration_no": c.declaration_no,
                        "organization": e.organization,
                        "raised_at": e.raised_at.isoformat(),
                    }
                    for e, c in rows
                ]
            }
        )


@bp.get("/clock")
@require_token()
def get_clock():
    return jsonify({"now": portal().clock.now().isoformat(), "mode": portal().settings.clock})


@bp.post("/clock/advance")
@require_token("admin")
def advance_clock():
    clock = portal().clock
    if not isinstance(clock, SimulatedClock):
        raise PortalError("the clock can only be moved when PORTAL_CLOCK=simulated", field="clock")
    body = json_body()
    hours = body.get("hours") if isinstance(body, dict) else None
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 <= hours <= 24 * 366:
        raise ValidationFailed([{"field": "hours", "reason": "must be a number of hours between 0 and 8784"}])
    now = clock.advance(timedelta(hours=hours))
    return jsonify({"now": now.isoformat()})
