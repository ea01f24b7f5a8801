"""Organizations (traders, inspection agencies, customs branches, the port operator), their users and
the users' API tokens (stored as SHA-256 hashes only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base

ORG_KINDS = ("trader", "agency", "customs", "port", "portal")
ROLES = (
    "trader",
    "agency_officer",
    "customs_officer",
    "branch_head",
    "port_operator",
    "manager",
    "analyst",
    "admin",
)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))  # English
    name_vi: Mapped[str | None] = mapped_column(String(300))  # Vietnamese (pages show it in Vietnamese)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    email: Mapped[str | None] = mapped_column(String(200))

    organization: Mapped[Organization] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")
