"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import jsonify

from app.access import DASHBOARD_ROLES, INCIDENT_ROLES

from . import bp

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
        "/work-items/{id}": {
            "get": _op(
                "One work item with its form (JSON Schema), revision and `countersigns`: for a countersign "
                "step, the signed record each reference field confirms (the portal fills the reference in)",
                "work",
            )
        },
        "/work-items/{id}/claim": {"post": _op("Claim a work item", "work")},
        "/work-items/{id}/release": {"post": _op("Release a claimed work item", "work")},
        "/work-items/{id}/complete": {
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
        "/work-items/{id}/signing-payload": {
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
        "/incidents/{id}/retry": {
            "post": _op("Retry a failed job", "operations", roles=", ".join(INCIDENT_ROLES))
        },
        "/escalations": {"get": _op("Open escalations", "operations", roles=", ".join(DASHBOARD_ROLES))},
        "/clock": {"get": _op("The portal clock", "operations")},
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


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
