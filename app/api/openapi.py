"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

import re

from flask import jsonify

from app.access import DASHBOARD_ROLES, INCIDENT_ROLES
from app.url_ids import LARGEST_ID

from . import bp
from .params import CONSIGNMENT_STATUSES, MAX_OFFSET, PAGE_LIMIT, WORK_ITEM_STATES

_ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, tag: str, body: dict | None = None, ok: int = 200, roles: str = "any") -> dict:
    op = {
        "summary": summary,
        "tags": [tag],
        "description": f"Roles: {roles}. Every query is scoped to the caller's organization.",
        "responses": {
            str(ok): {"description": "OK"},
            "401": {
                "description": "missing or unknown token",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "403": {"description": "role not allowed", "content": {"application/json": {"schema": _ERROR}}},
            "404": {
                "description": "not found or not visible",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "409": {
                "description": "conflict: not open, already done, or stale revision",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "422": {
                "description": "invalid input; `field` and `reason` say what",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _pdf(op: dict) -> dict:
    """An operation whose answer is a PDF file."""
    op["responses"]["200"] = {
        "description": "the signed PDF (served with X-Content-Type-Options: nosniff)",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
    return op


REGISTRATION = {
    "type": "object",
    "required": ["declaration_no", "declaration_type", "customs_branch", "goods", "hs_codes"],
    "properties": {
        "declaration_no": {"type": "string", "pattern": "^[0-9]{12}$"},
        "declaration_type": {"type": "string", "examples": ["A11"]},
        "customs_branch": {"type": "string", "examples": ["02CI"]},
        "goods": {"type": "string", "maxLength": 500},
        "hs_codes": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{8}$"}, "minItems": 1},
        "containers": {"type": "array", "items": {"type": "string", "description": "ISO 6346"}},
        "awb": {"type": "string", "examples": ["618-44172030"]},
        "bill_of_lading": {"type": "string"},
        "sampling_place": {"type": "string"},
        "request_preservation": {"type": "boolean"},
        "trader": {"type": "string", "description": "trader organization code (operators only)"},
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Cat Lai specialized inspection portal API", "version": "1"},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": ["string", "null"]},
                    "reason": {"type": ["string", "null"]},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                        },
                    },
                },
            },
            "Registration": REGISTRATION,
        },
    },
    "paths": {
        "/consignments": {
            "post": _op(
                "Register a consignment",
                "consignments",
                {"$ref": "#/components/schemas/Registration"},
                201,
                "trader, admin",
            ),
            "get": _op("Search consignments (q = declaration, container or bill of lading)", "consignments"),
        },
        "/consignments/{declaration_no}": {
            "get": _op("A consignment with status, timeline and open tasks", "consignments"),
        },
        "/consignments/{declaration_no}/result-notice.pdf": {
            "get": _pdf(
                _op(
                    "The inspection result notice, a PDF sealed with the lead agency's certificate (PAdES); "
                    "404 until the result is published",
                    "consignments",
                    roles="the consignment's trader, customs and agencies, admin (not the port or analysts)",
                )
            ),
        },
        "/work-items": {"get": _op("The caller's inbox (its organization and role)", "work")},
        "/work-items/{work_item_id}": {
            "get": _op(
                "One work item with its form (JSON Schema), revision and `countersigns`: for a countersign "
                "step, the signed record each reference field confirms (the portal fills the reference in)",
                "work",
            )
        },
        "/work-items/{work_item_id}/claim": {"post": _op("Claim a work item", "work")},
        "/work-items/{work_item_id}/release": {"post": _op("Release a claimed work item", "work")},
        "/work-items/{work_item_id}/complete": {
            "post": _op(
                "Complete a work item with form data; a signed step also needs `pin`, or `signature` + "
                "`certificate` + `signed_at` (from signing-payload)",
                "work",
                {
                    "type": "object",
                    "properties": {
                        "data": {"type": "object"},
                        "expected_revision": {"type": "integer"},
                        "pin": {"type": "string", "description": "signing PIN (the portal signs)"},
                        "signature": {"type": "string", "description": "base64 detached signature"},
                        "certificate": {"type": "string", "description": "signer certificate, PEM"},
                        "signed_at": {"type": "string", "description": "as returned by signing-payload"},
                    },
                },
            ),
        },
        "/work-items/{work_item_id}/signing-payload": {
            "post": _op(
                "The exact bytes to sign (payload_base64) and the signed_at to send back",
                "work",
                {"type": "object", "properties": {"data": {"type": "object"}}},
            ),
            "get": _op("Same, with the form data as ?data=<JSON>", "work"),
        },
        "/port/container-positioned": {
            "post": _op(
                "Port callback: containers are in the sampling area (consignments at the caller's terminal; "
                "a repeat answers `duplicate: true` and is not delivered again)",
                "callbacks",
                {
                    "type": "object",
                    "required": ["declaration_no", "positions"],
                    "properties": {
                        "declaration_no": {"type": "string"},
                        "move_ref": {"type": "string"},
                        "positions": {"type": "array", "items": {"type": "object"}},
                    },
                },
                202,
                "port_operator",
            ),
        },
        "/incidents": {"get": _op("Failed jobs", "operations", roles=", ".join(INCIDENT_ROLES))},
        "/incidents/{job_id}/retry": {
            "post": _op("Retry a failed job", "operations", roles=", ".join(INCIDENT_ROLES))
        },
        "/escalations": {"get": _op("Open escalations", "operations", roles=", ".join(DASHBOARD_ROLES))},
        "/clock": {"get": _op("The portal clock", "operations")},
        "/health": {
            "get": {
                "summary": "Liveness: the web process answers (no token needed)",
                "tags": ["operations"],
                "security": [],
                "responses": {"200": {"description": "OK"}},
            }
        },
        "/clock/advance": {
            "post": _op(
                "Move the simulated clock forward",
                "operations",
                {"type": "object", "properties": {"hours": {"type": "number"}}},
                roles="admin",
            )
        },
    },
}


_PATH_PARAMETERS = {
    "work_item_id": {"type": "integer", "minimum": 1, "maximum": LARGEST_ID},
    "job_id": {"type": "integer", "minimum": 1, "maximum": LARGEST_ID, "description": "the failed job"},
    "declaration_no": {"type": "string", "description": "the customs declaration number (12 digits)"},
}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_PAGE = [
    _query(
        "limit",
        {"type": "integer", "minimum": PAGE_LIMIT[0], "maximum": PAGE_LIMIT[1], "default": 50},
        "page size",
    ),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}, "rows to skip"),
]
_QUERY_PARAMETERS = {
    ("/consignments", "get"): [
        *_PAGE,
        _query("status", {"type": "string", "enum": list(CONSIGNMENT_STATUSES)}, "only consignments in it"),
        _query("q", {"type": "string"}, "a declaration number, container number or bill of lading"),
    ],
    ("/work-items", "get"): [
        *_PAGE,
        _query(
            "state",
            {"type": "string", "enum": list(WORK_ITEM_STATES), "default": "open"},
            "open (with the claimed ones), claimed, completed or cancelled",
        ),
    ],
    ("/work-items/{work_item_id}/signing-payload", "get"): [
        _query("data", {"type": "string"}, "the form data as JSON (default {})"),
    ],
}


def _declare_parameters(paths: dict) -> None:
    """Each operation lists its path parameters (from the template) and its query parameters."""
    for path, operations in paths.items():
        names = re.findall(r"{(\w+)}", path)
        for method, operation in operations.items():
            declared = [
                {"name": n, "in": "path", "required": True, "schema": _PATH_PARAMETERS[n]} for n in names
            ]
            declared += _QUERY_PARAMETERS.get((path, method), [])
            if declared:
                operation["parameters"] = declared


_declare_parameters(DOCUMENT["paths"])


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
