"""The API's OpenAPI document: valid OpenAPI 3.1 (checked with openapi-spec-validator), and it describes
exactly the routes the portal serves under /api/v1, with their path and query parameters."""

from __future__ import annotations

import re

import requests
from openapi_spec_validator import validate

from app import create_app


def test_the_openapi_document_is_valid_and_describes_every_api_route(portal, live_portal):
    document = requests.get(f"{live_portal}/api/v1/openapi.json", timeout=10).json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema and its rules

    served: dict[str, set[str]] = {}
    for rule in create_app(portal=portal).url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi_document":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            served.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    described = {path: set(operations) for path, operations in document["paths"].items()}
    assert described == served

    for path, operations in document["paths"].items():
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path
    inbox = {p["name"]: p for p in document["paths"]["/work-items"]["get"]["parameters"]}
    assert inbox["limit"]["schema"]["maximum"] == 200
    assert "claimed" in inbox["state"]["schema"]["enum"]
