"""API: register a consignment, read one (status, timeline, open tasks), search them, download its
inspection result notice signed by the agency (PDF)."""

from __future__ import annotations

from flask import Response, jsonify, request

from app import queries
from app.consignments.registration import parse_registration
from app.engine.commands import RegisterConsignment
from app.engine.errors import Forbidden, NotFound
from app.models import Organization
from app.signing.notice import result_notice_pdf

from . import bp, params
from .auth import current_actor, require_token
from .context import portal
from .errors import json_body


@bp.post("/consignments")
@require_token("trader", "admin")
def register_consignment():
    registration = parse_registration(json_body())
    consignment = portal().execute(RegisterConsignment(registration), current_actor())
    return _consignment_response(consignment.declaration_no), 201


@bp.get("/consignments/<declaration_no>")
@require_token()
def get_consignment(declaration_no: str):
    return _consignment_response(declaration_no)


@bp.get("/consignments")
@require_token()
def list_consignments():
    limit, offset = params.page()
    status = params.choice_arg("status", None, params.CONSIGNMENT_STATUSES)
    with portal().db.session() as session:
        rows = queries.list_consignments(
            session,
            current_actor(),
            status=status,
            query=request.args.get("q"),
            limit=limit,
            offset=offset,
        )
        return jsonify(
            {"items": [queries.consignment_json(c) for c in rows], "limit": limit, "offset": offset}
        )


@bp.get("/consignments/<declaration_no>/result-notice.pdf")
@require_token()
def get_result_notice(declaration_no: str):
    """The inspection result notice sealed with the lead agency's certificate (PAdES), once published."""
    actor = current_actor()
    with portal().db.session() as session:
        consignment = queries.find_consignment(session, actor, declaration_no)
        if consignment is None:
            raise NotFound(
                "no consignment with this declaration number that you may see", field="declaration_no"
            )
        if not queries.may_read_evidence(actor):
            raise Forbidden("only the parties to the decision may download the result notice", field="role")
        body = result_notice_pdf(session, portal().settings, consignment)  # NotFound until published
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="result-notice-{consignment.declaration_no}.pdf"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _consignment_response(declaration_no: str):
    with portal().db.session() as session:
        consignment = queries.find_consignment(session, current_actor(), declaration_no)
        if consignment is None:
            raise NotFound(
                "no consignment with this declaration number that you may see", field="declaration_no"
            )
        trader = session.get(Organization, consignment.trader_org_id)
        body = queries.consignment_json(consignment, trader.code if trader else None)
        settings = portal().settings
        body.update(
            queries.consignment_clock(
                session, consignment, portal().runtime.calendar, settings.stalled_after_working_hours
            )
        )
        body["timeline"] = queries.timeline_json(session, consignment.id)
        body["open_tasks"] = [
            queries.work_item_json(w, declaration_no) for w in queries.open_work(session, consignment.id)
        ]
        return jsonify(body)
