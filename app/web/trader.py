"""Trader pages: register a consignment with the same validation as the API; the error summary names each
field by its label ("Container 2", not ``containers[1]``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.consignments.registration import parse_registration
from app.engine.commands import RegisterConsignment
from app.engine.errors import PortalError, ValidationFailed
from app.forms.messages import localized_reason

from .auth import current_actor
from .context import portal

bp = Blueprint("trader", __name__)

BRANCHES = ("02CI", "02AB", "02CX", "02CV")
FIELDS = (
    "declaration_no",
    "declaration_type",
    "customs_branch",
    "goods",
    "hs_codes",
    "containers",
    "awb",
    "bill_of_lading",
    "sampling_place",
)


def _field_label(field: str) -> str:
    """The label a person reads for an error's field (``containers[1]`` is "Container 2")."""
    name, _sep, rest = field.partition("[")
    if rest[:-1].isdigit():
        number = int(rest[:-1]) + 1
        if name == "containers":
            return _("Container %(n)s", n=number)
        if name == "hs_codes":
            return _("HS code %(n)s", n=number)
    labels = {
        "declaration_no": _("Declaration number"),
        "declaration_type": _("Declaration type"),
        "customs_branch": _("Customs branch"),
        "goods": _("Goods"),
        "hs_codes": _("HS codes"),
        "containers": _("Container numbers"),
        "awb": _("Air waybill"),
        "bill_of_lading": _("Bill of lading"),
        "sampling_place": _("Sampling place"),
        "request_preservation": _("I will ask to release the goods for preservation"),
    }
    return labels.get(name, field)


def _payload(form) -> dict:
    """The registration as the API would receive it, from the HTML form."""
    payload: dict = {}
    for name in (
        "declaration_no",
        "declaration_type",
        "customs_branch",
        "goods",
        "awb",
        "bill_of_lading",
        "sampling_place",
    ):
        value = (form.get(name) or "").strip()
        if value:
            payload[name] = value
    payload["hs_codes"] = [
        c.strip() for c in (form.get("hs_codes") or "").replace(";", ",").split(",") if c.strip()
    ]
    payload["containers"] = [
        c.strip() for c in (form.get("containers") or "").replace(",", "\n").splitlines() if c.strip()
    ]
    payload["request_preservation"] = form.get("request_preservation") == "on"
    return payload


@bp.route("/consignments/new", methods=["GET", "POST"])
@login_required
def register():
    if current_user.role not in ("trader", "admin"):
        abort(403)
    if request.method == "GET":
        return _page({}, [])
    values = {name: request.form.get(name, "") for name in FIELDS}
    values["request_preservation"] = request.form.get("request_preservation") == "on"
    try:
        registration = parse_registration(_payload(request.form))
        consignment = portal().execute(RegisterConsignment(registration), current_actor())
    except ValidationFailed as exc:
        errors = [
            {
                "field": e["field"].split("[")[0],
                "message": localized_reason(e, _),
                "label": _field_label(e["field"]),
            }
            for e in exc.errors
        ]
        return _page(values, errors), 422
    except PortalError as exc:
        errors = [
            {
                "field": exc.field or "declaration_no",
                "message": localized_reason({"reason": exc.message}, _),
                "label": _field_label(exc.field or "declaration_no"),
            }
        ]
        return _page(values, errors), exc.status
    flash(_("Consignment %(no)s registered.", no=consignment.declaration_no), "success")
    return redirect(url_for("consignments.show", declaration_no=consignment.declaration_no))


def _page(values: dict, errors: list[dict]) -> str:
    by_field: dict[str, str] = {}
    for error in errors:
        by_field.setdefault(error["field"], error["message"])
    return render_template(
        "register.html", values=values, errors=errors, by_field=by_field, branches=BRANCHES
    )
