"""The manager dashboard: stalled consignments, open escalations and incidents, SLA breaches per agency
and per branch, time per step, and the clearance-time trend against the 2016 baseline, as charts with their
tables; CSV exports. Step and organization names in the reader's language."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import reports
from app.access import DASHBOARD_ROLES

from .auth import current_actor
from .context import portal
from .labels import org_label, step_label
from .sla import SlaClock

bp = Blueprint("dashboard", __name__)


def _require_manager() -> None:
    if current_user.role not in DASHBOARD_ROLES:
        abort(403)


def _figures(db, now):
    scope = reports.scope_of(db, current_actor())
    breaches = reports.sla_breaches_by_kind(db, scope, now, ("agency", "customs"))
    return {
        "headline": reports.headline(db, scope, now),
        "agency_breaches": breaches["agency"],
        "branch_breaches": breaches["customs"],
        "steps": reports.step_times(db, scope),
        "trend": reports.clearance_trend(db, scope, portal().calendar.hours_per_day),
        "stalled": reports.stalled_consignments(db, scope),
        "escalations": reports.open_escalations(db, scope),
        "incident_rows": reports.incidents(db, scope),
    }


def _breaches_chart(rows: list[reports.BreachRow]) -> str:
    """A stacked bar per organization: tasks with a deadline done or open on time, and late."""
    chart = {
        "type": "bar",
        "data": {
            "labels": [b.organization for b in rows],
            "datasets": [
                {"label": _("On time"), "data": [b.items - b.breached for b in rows]},
                {"label": _("Late"), "data": [b.breached for b in rows]},
            ],
        },
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}},
    }
    return json.dumps(chart, ensure_ascii=False)


@bp.get("/dashboard")
@login_required
def index():
    _require_manager()
    now = SlaClock.current(portal()).now
    with portal().db.read_session() as db:
        figures = _figures(db, now)
    trend = figures["trend"]
    trend_chart = {
        "type": "line",
        "data": {
            "labels": [p.period for p in trend],
            "datasets": [
                {"label": _("Mean clearance time (working days)"), "data": [p.mean_days for p in trend]},
                {"label": _("2016 baseline"), "data": [reports.BASELINE_DAYS] * len(trend)},
                {"label": _("Target"), "data": [reports.TARGET_DAYS] * len(trend)},
            ],
        },
    }
    steps_chart = {
        "type": "bar",
        "data": {
            "labels": [step_label(s.step_id, s.step_name) for s in figures["steps"]],
            "datasets": [
                {"label": _("Median (working h)"), "data": [s.median for s in figures["steps"]]},
                {"label": _("p90 (working h)"), "data": [s.p90 for s in figures["steps"]]},
            ],
        },
    }
    return render_template(
        "dashboard.html",
        now=now,
        baseline=reports.BASELINE_DAYS,
        target=reports.TARGET_DAYS,
        trend_chart=json.dumps(trend_chart, ensure_ascii=False),
        steps_chart=json.dumps(steps_chart, ensure_ascii=False),
        agency_chart=_breaches_chart(figures["agency_breaches"]),
        branch_chart=_breaches_chart(figures["branch_breaches"]),
        **figures,
    )


@bp.get("/dashboard/<figure>.csv")
@login_required
def export(figure: str):
    _require_manager()
    now = SlaClock.current(portal()).now
    with portal().db.read_session() as db:
        scope = reports.scope_of(db, current_actor())
        if figure == "step-times":
            header = [
                "step_id",
                "step_name",
                "step_label",
                "count",
                "median_working_hours",
                "p90_working_hours",
            ]
            rows = [
                [s.step_id, s.step_name, step_label(s.step_id, s.step_name), s.count, s.median, s.p90]
                for s in reports.step_times(db, scope)
            ]
        elif figure in ("agency-breaches", "branch-breaches"):
            kind = "agency" if figure == "agency-breaches" else "customs"
            header = ["organization", "name", "items_with_deadline", "breached", "share"]
            rows = [
                [b.organization, org_label(b.name, b.name_vi), b.items, b.breached, round(b.share, 4)]
                for b in reports.sla_breaches(db, scope, now, kind)
            ]
        elif figure == "clearance-trend":
            header = ["week", "cleared", "mean_working_days", "baseline_days", "target_days"]
            rows = [
                [p.period, p.cleared, p.mean_days, reports.BASELINE_DAYS, reports.TARGET_DAYS]
                for p in reports.clearance_trend(db, scope, portal().calendar.hours_per_day)
            ]
        elif figure == "stalled":
            header = ["declaration_no", "status", "current_step", "raised_at", "last_activity_at"]
            rows = [
                [
                    c.declaration_no,
                    c.status,
                    c.current_step or "",
                    e.raised_at.isoformat(),
                    c.last_activity_at.isoformat(),
                ]
                for e, c in reports.stalled_consignments(db, scope, limit=10_000)
            ]
        elif figure == "incidents":
            header = ["declaration_no", "step_id", "topic", "attempts", "last_error", "created_at"]
            rows = [
                [
                    c.declaration_no,
                    j.step_id,
                    j.topic,
                    j.attempts,
                    j.last_error or "",
                    j.created_at.isoformat(),
                ]
                for j, c in reports.incidents(db, scope, limit=10_000)
            ]
        else:
            abort(404)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(_safe_cells(rows))
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{figure}.csv"'},
    )


def _safe_cells(rows):
    """Neutralize spreadsheet formulas in text cells (CSV injection)."""
    for row in rows:
        yield [
            "'" + cell if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@") else cell for cell in row
        ]
