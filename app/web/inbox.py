"""The inbox: open work items of the user's organization and role, with SLA colours, filters, paging,
claim / release, and reassignment by supervisors."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app import queries
from app.engine.commands import ClaimWorkItem, ReassignWorkItem, ReleaseWorkItem
from app.engine.errors import PortalError

from .auth import current_actor
from .context import portal
from .sla import SlaClock

bp = Blueprint("inbox", __name__)

PER_PAGE = 25


@bp.get("/inbox")
@login_required
def index():
    args = request.args
    filters = queries.InboxFilters(
        state=args.get("state", "open")
        if args.get("state") in ("open", "mine", "claimed", "open_only")
        else "open",
        step=args.get("step") or None,
        sla=args.get("sla") if args.get("sla") in ("overdue", "due_soon", "on_time") else None,
        declaration_no=args.get("q") or None,
        team=args.get("team") == "1",
    )
    page = max(args.get("page", 1, type=int) or 1, 1)
    sla = SlaClock.current(portal())
    with portal().db.read_session() as db:
        rows, total, steps = queries.inbox_page(
            db,
            current_actor(),
            filters,
            now=sla.now,
            due_soon_before=sla.due_soon_before,
            page=page,
            per_page=PER_PAGE,
        )
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template(
        "inbox.html", rows=rows, total=total, steps=steps, filters=filters, page=page, pages=pages, sla=sla
    )


def _back():
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/inbox") else url_for("inbox.index"))


@bp.post("/work-items/<int:work_item_id>/claim")
@login_required
def claim(work_item_id: int):
    try:
        portal().execute(ClaimWorkItem(work_item_id), current_actor())
        flash(_("You took the task."), "success")
    except PortalError as exc:
        flash(_("Could not take the task: %(reason)s", reason=_(exc.message)), "error")
    if request.form.get("open") == "1":
        return redirect(url_for("tasks.show", work_item_id=work_item_id))
    return _back()


@bp.post("/work-items/<int:work_item_id>/release")
@login_required
def release(work_item_id: int):
    try:
        portal().execute(ReleaseWorkItem(work_item_id), current_actor())
        flash(_("The task is back in the shared inbox."), "success")
    except PortalError as exc:
        flash(_("Could not release the task: %(reason)s", reason=_(exc.message)), "error")
    return _back()


@bp.post("/work-items/<int:work_item_id>/reassign")
@login_required
def reassign(work_item_id: int):
    try:
        portal().execute(ReassignWorkItem(work_item_id, request.form.get("assignee", "")), current_actor())
        flash(_("The task was handed over."), "success")
    except PortalError as exc:
        flash(_("Could not hand over the task: %(reason)s", reason=_(exc.message)), "error")
    return _back()
