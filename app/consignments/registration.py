"""Validate a trader's registration of a consignment (the same rules for the API, the web form and the
CLI): every problem is reported with the field it concerns, and nothing is written until all pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.engine.errors import ValidationFailed
from app.forms.json_safety import unsafe_values

from .identifiers import (
    air_waybill_problem,
    container_number_problem,
    customs_branch_problem,
    declaration_number_problem,
    declaration_type_problem,
    hs_code_problem,
    normalize_container_number,
    normalize_customs_branch,
)

ALLOWED_FIELDS = {
    "declaration_no",
    "declaration_type",
    "customs_branch",
    "goods",
    "hs_codes",
    "containers",
    "awb",
    "bill_of_lading",
    "sampling_place",
    "request_preservation",
    "trader",
}
MAX_CONTAINERS = 200
MAX_ITEMS = 500


@dataclass(frozen=True)
class Registration:
    declaration_no: str
    declaration_type: str
    customs_branch: str
    goods: str
    hs_codes: list[str]
    containers: list[str] = field(default_factory=list)
    awb: str | None = None
    bill_of_lading: str | None = None
    sampling_place: str | None = None
    request_preservation: bool = False
    trader: str | None = None

    def process_variables(self, trader_code: str, registered_at: datetime) -> dict[str, Any]:
        """The variables the model starts with (see bpmn/README.md)."""
        return {
            "registered_at": registered_at.isoformat(),
            "declaration_no": self.declaration_no,
            "declaration_type": self.declaration_type,
            "customs_branch": self.customs_branch,
            "trader_org": trader_code,
            "goods": self.goods,
            "hs_codes": list(self.hs_codes),
            "hs": self.hs_codes[0],
            "containers": list(self.containers),
            "container_count": len(self.containers),
            "awb": self.awb,
            "bill_of_lading": self.bill_of_lading or "",
            "sampling_place": self.sampling_place or "",
            "request_preservation": self.request_preservation,
        }


def parse_registration(payload: object) -> Registration:
    """Check a registration payload.

    :raises ValidationFailed: listing every field that is wrong and why.
    """
    if not isinstance(payload, dict):
        raise ValidationFailed([{"field": "body", "reason": "must be a JSON object"}])
    errors: list[dict[str, str]] = unsafe_values(payload)
    if errors:
        raise ValidationFailed(errors)

    def problem(name: str, reason: str | None) -> None:
        if reason:
            errors.append({"field": name, "reason": reason})

    for unknown in sorted(set(payload) - ALLOWED_FIELDS):
        problem(unknown, "unknown field")

    declaration_no = payload.get("declaration_no")
    problem(
        "declaration_no",
        "is required" if declaration_no is None else declaration_number_problem(declaration_no),
    )
    declaration_type = payload.get("declaration_type")
    problem(
        "declaration_type",
        "is required" if declaration_type is None else declaration_type_problem(declaration_type),
    )

    raw_branch = payload.get("customs_branch")
    branch = normalize_customs_branch(raw_branch) if isinstance(raw_branch, str) else None
    if raw_branch is None:
        problem("customs_branch", "is required")
    else:
        problem("customs_branch", customs_branch_problem(branch if branch else raw_branch))

    goods = payload.get("goods")
    if not isinstance(goods, str) or not goods.strip():
        problem("goods", "is required: describe the goods")
    elif len(goods) > 500:
        problem("goods", "must be at most 500 characters")

    hs_codes = payload.get("hs_codes")
    if isinstance(hs_codes, str):
        hs_codes = [hs_codes]
    if not isinstance(hs_codes, list) or not hs_codes:
        problem("hs_codes", "needs at least one 8-digit HS code")
        hs_codes = []
    elif len(hs_codes) > MAX_ITEMS:
        problem("hs_codes", f"at most {MAX_ITEMS} goods items")
    else:
        for i, code in enumerate(hs_codes):
            problem(f"hs_codes[{i}]", hs_code_problem(code))

    containers = payload.get("containers", [])
    awb = payload.get("awb")
    if containers is None:
        containers = []
    if not isinstance(containers, list):
        problem("containers", "must be a list of container numbers")
        containers = []
    elif len(containers) > MAX_CONTAINERS:
        problem("containers", f"at most {MAX_CONTAINERS} containers")
    else:
        containers = [normalize_container_number(c) if isinstance(c, str) else c for c in containers]
        for i, number in enumerate(containers):
            problem(f"containers[{i}]", container_number_problem(number))
        seen: set[str] = set()
        for i, number in enumerate(containers):
            if not isinstance(number, str):
                continue
            if number in seen:
                problem(f"containers[{i}]", f"{number} is listed twice")
            seen.add(number)
    if awb is not None:
        problem("awb", air_waybill_problem(awb))
    if not containers and awb is None:
        problem("containers", "give the container numbers, or an air waybill (awb) for air cargo")

    for name, limit in (("bill_of_lading", 64), ("sampling_place", 200), ("trader", 32)):
        value = payload.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problem(name, f"must be text of at most {limit} characters")
    preservation = payload.get("request_preservation", False)
    if not isinstance(preservation, bool):
        problem("request_preservation", "must be true or false")

    if errors:
        raise ValidationFailed(errors)
    return Registration(
        declaration_no=declaration_no,
        declaration_type=declaration_type,
        customs_branch=branch or raw_branch,
        goods=goods.strip(),
        hs_codes=list(hs_codes),
        containers=list(containers),
        awb=awb.replace("-", "")[:3] + "-" + awb.replace("-", "")[3:] if awb else None,
        bill_of_lading=payload.get("bill_of_lading"),
        sampling_place=payload.get("sampling_place"),
        request_preservation=preservation,
        trader=payload.get("trader"),
    )
