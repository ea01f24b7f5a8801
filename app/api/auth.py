"""Bearer-token authentication for the API: the token's SHA-256 is looked up, never the token itself."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request
from sqlalchemy import bindparam, select

from app.engine.errors import Forbidden, PortalError
from app.engine.executor import Actor
from app.models import ApiToken, Organization, User
from app.security.credentials import hash_token

from .context import portal

_ACTOR_BY_TOKEN = (
    select(User.id, User.username, User.role, Organization.code)
    .join(ApiToken, ApiToken.user_id == User.id)
    .join(Organization, Organization.id == User.organization_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)


class Unauthorized(PortalError):
    status = 401
    code = "unauthorized"


def current_actor() -> Actor:
    return g.actor


def require_token(*roles: str) -> Callable:
    """Authenticate the request's bearer token; optionally require one of ``roles``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("send an API token: Authorization: Bearer <token>", field="Authorization")
            # One Core query per request (every inbox poll pays it): no ORM objects needed here.
            with portal().db.engine.connect() as conn:
                row = conn.execute(_ACTOR_BY_TOKEN, {"token_hash": hash_token(token.strip())}).first()
            if row is None:
                raise Unauthorized("unknown or revoked API token", field="Authorization")
            g.actor = Actor(row.username, row.code, row.role, row.id)
            if roles and g.actor.role not in roles:
                raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}", field="role")
            return view(*args, **kwargs)

        return wrapper

    return decorator
