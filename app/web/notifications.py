"""In-app notifications: the user's list, newest first, and marking them read."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required

from app import queries
from app.engine.commands import MarkNotificationsRead
from app.engine.notifications import describe, for_reading
from app.step_names import deployed_step_names

from .auth import current_actor
from .context import portal

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index():
    locale = str(get_locale())
    with portal().db.read_session() as db:
        rows = queries.notifications_for(db, current_user.id)
        names = deployed_step_names(db)
    items = [
        {
            "row": n,
            "text": describe(n.kind, for_reading(n.params, declaration_no, names), locale),
            "declaration_no": declaration_no,
        }
        for n, declaration_no in rows
    ]
    return render_template("notifications.html", items=items)


@bp.post("/notifications/read")
@login_required
def mark_read():
    ids = tuple(int(v) for v in request.form.getlist("id") if v.isdigit())
    portal().execute(MarkNotificationsRead(ids), current_actor())
    return redirect(url_for("notifications.index"))
