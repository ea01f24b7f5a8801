"""Load organizations and users from ``config/seed.json`` (idempotent: existing rows are left as they are,
except that an existing organization gains the ``details`` keys the seed added since it was created, and
its Vietnamese name when it has none)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiToken, Organization, User
from app.security.credentials import hash_password, hash_token


def load_seed(session: Session, seed_file: Path) -> dict[str, int]:
    """Insert the organizations and users of the seed file that are not there yet."""
    seed = json.loads(Path(seed_file).read_text(encoding="utf-8"))
    created = {"organizations": 0, "users": 0}
    orgs = {o.code: o for o in session.scalars(select(Organization))}
    for entry in seed["organizations"]:
        if entry["code"] in orgs:
            existing_org = orgs[entry["code"]]
            missing = {k: v for k, v in entry.get("details", {}).items() if k not in existing_org.details}
            if missing:
                existing_org.details = {**existing_org.details, **missing}
            if orgs[entry["code"]].name_vi is None and entry.get("name_vi"):
                orgs[entry["code"]].name_vi = entry["name_vi"]
            continue
        org = Organization(
            code=entry["code"],
            name=entry["name"],
            name_vi=entry.get("name_vi"),
            kind=entry["kind"],
            details=entry.get("details", {}),
        )
        session.add(org)
        orgs[org.code] = org
        created["organizations"] += 1
    session.flush()
    existing = set(session.scalars(select(User.username)))
    password_hash = hash_password(seed["demo_password"])  # one hash for all demo users keeps init fast
    now = datetime.now(UTC)
    for entry in seed["users"]:
        if entry["username"] in existing:
            continue
        user = User(
            username=entry["username"],
            display_name=entry["display_name"],
            password_hash=password_hash,
            organization_id=orgs[entry["organization"]].id,
            role=entry["role"],
            locale=entry.get("locale", "vi"),
            email=entry.get("email") or _demo_email(seed, entry["username"]),
        )
        session.add(user)
        session.flush()
        if entry.get("api_token"):
            session.add(
                ApiToken(
                    user_id=user.id, token_hash=hash_token(entry["api_token"]), name="demo", created_at=now
                )
            )
        created["users"] += 1
    return created


def _demo_email(seed: dict, username: str) -> str | None:
    """Demo users get an address on the seed's demo domain (notifications go to the SMTP sink)."""
    domain = seed.get("demo_email_domain")
    return f"{username}@{domain}" if domain else None
