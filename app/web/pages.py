"""The landing page (each role starts where its work is) and the template context every page shares."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required

from app import queries

from .context import portal

bp = Blueprint("pages", __name__)

START_PAGE = {
    "trader": "consignments.mine",
    "manager": "dashboard.index",
    "admin": "incidents.index",
    "analyst": "studio.index",
}


@bp.get("/")
@login_required
def home():
    return redirect(url_for(START_PAGE.get(current_user.role, "inbox.index")))


@bp.app_context_processor
def _shared_context():
    if not current_user.is_authenticated:
        return {"unread_notifications": 0}
    with portal().db.read_session() as db:
        return {"unread_notifications": queries.unread_notifications(db, current_user.id)}


@bp.get("/healthz")
def health():
    return {"status": "ok"}
