"""Bearer-token authentication for the API: the token's SHA-256 is looked up, never the token itself."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request
from sqlalchemy import select

from app.engine.errors import Forbidden, PortalError
from app.engine.executor import Actor
from app.models import ApiToken
from app.security.credentials import hash_token

from .context import portal


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
            with portal().db.session() as session:
                row = session.scalar(
                    select(ApiToken).where(
                        ApiToken.token_hash == hash_token(token.strip()), ApiToken.revoked_at.is_(None)
                    )
                )
                if row is None:
                    raise Unauthorized("unknown or revoked API token", field="Authorization")
                user = row.user
                g.actor = Actor(user.username, user.organization.code, user.role, user.id)
            if roles and g.actor.role not in roles:
                raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}", field="role")
            return view(*args, **kwargs)

        return wrapper

    return decorator
