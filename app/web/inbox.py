"""The inbox: open work items of the user's organization and role, with SLA colours, filters, paging,
claim / release, and reassignment by supervisors (to a member of the item's team, chosen from a list and
checked again by the command).

Another organization's item answers 404 (a refused hand-over by someone who may see the item, 403); a
task someone else took meanwhile is a message on the inbox, in the reader's language."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app import queries
from app.access import SUPERVISOR_ROLES
from app.engine.commands import ClaimWorkItem, ReassignWorkItem, ReleaseWorkItem
from app.engine.errors import PortalError
from app.i18n import N_

from .auth import current_actor
from .context import portal
from .reasons import reason
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
    actor = current_actor()
    with portal().db.read_session() as db:
        rows, total, steps = queries.inbox_page(
            db,
            actor,
            filters,
            now=sla.now,
            due_soon_before=sla.due_soon_before,
            page=page,
            per_page=PER_PAGE,
        )
        team: dict[str, list[str]] = {}
        if actor.role in SUPERVISOR_ROLES:  # whom each row's item may be handed to
            for role in sorted(
                {row.item.role for row in rows if row.item.organization == actor.organization}
            ):
                team[role] = [u.username for u in queries.team_members(db, actor.organization, role)]
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template(
        "inbox.html",
        rows=rows,
        total=total,
        steps=steps,
        filters=filters,
        page=page,
        pages=pages,
        sla=sla,
        team=team,
    )


def _refused(exc: PortalError, message: str):
    """Another organization's item (404) or an action the role may not take (403) is an error page; a
    task that changed meanwhile (409) is a message on the inbox."""
    if exc.status in (403, 404):
        abort(exc.status, description=reason(exc))
    flash(_(message, reason=reason(exc)), "error")


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
        _refused(exc, N_("Could not take the task: %(reason)s"))
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
        _refused(exc, N_("Could not release the task: %(reason)s"))
    return _back()


@bp.post("/work-items/<int:work_item_id>/reassign")
@login_required
def reassign(work_item_id: int):
    try:
        portal().execute(ReassignWorkItem(work_item_id, request.form.get("assignee", "")), current_actor())
        flash(_("The task was handed over."), "success")
    except PortalError as exc:
        _refused(exc, N_("Could not hand over the task: %(reason)s"))
    return _back()
