"""Consignment pages: the page of one consignment (data, timeline, open tasks, attachments, diagram),
its diagram XML and attachments, the evidence bundle (ZIP) and the signed result notice (PDF), search by
declaration / container / bill of lading, and lists."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required
from sqlalchemy import select

from app import queries
from app.models import Organization
from app.signing.export import evidence_zip
from app.signing.notice import published_result, result_notice_pdf
from app.step_names import vietnamese_diagram

from .auth import current_actor
from .context import portal
from .sla import SlaClock

bp = Blueprint("consignments", __name__)

PER_PAGE = 25


def _find(db, declaration_no: str):
    consignment = queries.find_consignment(db, current_actor(), declaration_no)
    if consignment is None:
        abort(404)
    return consignment


@bp.get("/consignments/<declaration_no>")
@login_required
def show(declaration_no: str):
    sla = SlaClock.current(portal())
    with portal().db.read_session() as db:
        consignment = _find(db, declaration_no)
        trader = db.get(Organization, consignment.trader_org_id)
        lead = (
            db.scalar(select(Organization).where(Organization.code == consignment.lead_agency))
            if consignment.lead_agency
            else None
        )
        context = {
            "consignment": consignment,
            "trader": trader,
            "lead": lead,
            "timeline": queries.timeline(db, consignment.id),
            "open_items": queries.open_work(db, consignment.id),
            "files": queries.attachments(db, consignment.id),
            "marks": queries.diagram_marks(db, consignment, sla.now),
        }
        actor = current_actor()
        context["evidence"] = queries.may_read_evidence(actor)
        context["result_published"] = context["evidence"] and published_result(db, consignment) is not None
    return render_template(
        "consignment.html",
        sla=sla,
        my_items={
            w.id
            for w in context["open_items"]
            if (w.organization, w.role) == (actor.organization, actor.role)
        },
        **context,
    )


@bp.get("/consignments/<declaration_no>/diagram.bpmn")
@login_required
def diagram(declaration_no: str):
    with portal().db.read_session() as db:
        consignment = _find(db, declaration_no)
        files = queries.model_files(db, consignment)
    bpmn = next((text for name, text in sorted(files.items()) if name.endswith(".bpmn")), None)
    if bpmn is None:
        abort(404)
    if str(get_locale()) == "vi":  # the diagram names its steps in the reader's language
        bpmn = vietnamese_diagram(bpmn)
    headers = {"Cache-Control": "private, max-age=300", "Vary": "Cookie"}
    return Response(bpmn, mimetype="application/xml", headers=headers)


def _download(body: bytes, kind: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Security-Policy": "default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _party_to(db, declaration_no: str):
    """The consignment, for someone who may read its evidence: 404 when it is not theirs to see, 403
    when they see it without being a party to its decisions (``queries.may_read_evidence``)."""
    consignment = _find(db, declaration_no)
    if not queries.may_read_evidence(current_actor()):
        abort(403)
    return consignment


@bp.get("/consignments/<declaration_no>/evidence.zip")
@login_required
def evidence(declaration_no: str):
    """The evidence bundle of ``portal audit export`` as one ZIP, verifiable offline."""
    with portal().db.read_session() as db:
        consignment = _party_to(db, declaration_no)
        body = evidence_zip(db, portal().settings, consignment.declaration_no)
    return _download(body, "application/zip", f"evidence-{consignment.declaration_no}.zip")


@bp.get("/consignments/<declaration_no>/result-notice.pdf")
@login_required
def result_notice(declaration_no: str):
    """The inspection result notice sealed with the agency's certificate (PAdES), once published."""
    with portal().db.read_session() as db:
        consignment = _party_to(db, declaration_no)
        if published_result(db, consignment) is None:
            abort(404)
        body = result_notice_pdf(db, portal().settings, consignment)
    return _download(body, "application/pdf", f"result-notice-{consignment.declaration_no}.pdf")


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    with portal().db.read_session() as db:
        found = queries.visible_attachment(db, current_actor(), attachment_id)
        if found is None:
            abort(404)
        body, kind, name = found.content, found.content_type, found.filename
    disposition = "inline" if kind in ("application/pdf", "image/png", "image/jpeg") else "attachment"
    return Response(
        body,
        mimetype=kind,
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.get("/search")
@login_required
def search():
    query = (request.args.get("q") or "").strip()[:100]
    rows = []
    if query:
        with portal().db.read_session() as db:
            rows = queries.list_consignments(db, current_actor(), query=query, limit=PER_PAGE)
        if len(rows) == 1:
            return redirect(url_for("consignments.show", declaration_no=rows[0].declaration_no))
    return render_template("search.html", query=query, rows=rows)


@bp.get("/consignments")
@login_required
def mine():
    status = request.args.get("status") or None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with portal().db.read_session() as db:
        rows = queries.list_consignments(
            db, current_actor(), status=status, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
        )
        total = queries.count_consignments(db, current_actor(), status=status)
    return render_template(
        "consignments.html",
        rows=rows,
        status=status,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        total=total,
        can_register=current_user.role in ("trader", "admin"),
    )
