"""Domain errors. Each maps to one HTTP status and a JSON body naming the field and the reason.

A message that names a state, a role or a person is given as a template with ``params``
(``Conflict("work item is %(state)s, not open", params={"state": "claimed"})``): the API answers the
filled-in English text, the pages translate the template and the words separately."""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.template = message
        self.params = dict(params or {})
        if self.params:
            message = message % self.params
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or ([{"field": field, "reason": message}] if field else [])

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
            body["reason"] = self.message
        if self.errors:
            body["errors"] = self.errors
        return body


class ValidationFailed(PortalError):
    status = 422
    code = "validation_failed"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0] if errors else {"field": None, "reason": "invalid input"}
        super().__init__(f"{first['field']}: {first['reason']}", None, errors)
        self.field = first["field"]

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        body["field"] = self.errors[0]["field"] if self.errors else None
        body["reason"] = self.errors[0]["reason"] if self.errors else None
        return body


class NotFound(PortalError):
    status = 404
    code = "not_found"


class Forbidden(PortalError):
    status = 403
    code = "forbidden"


class Conflict(PortalError):
    status = 409
    code = "conflict"


class StaleRevision(Conflict):
    """Someone else changed the process instance first; reload and try again."""

    code = "stale_revision"

    def __init__(self, message: str, field: str = "revision") -> None:
        super().__init__(message, field=field)


class LostRace(StaleRevision):
    """The revision check at write time found that another command saved the instance first."""


class EngineFailure(PortalError):
    """The model could not run (an expression failed, a task is misconfigured): nothing was saved."""

    status = 422
    code = "model_error"
