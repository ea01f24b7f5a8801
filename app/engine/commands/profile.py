"""A person's own settings and notifications: language, marking notifications read."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from app.i18n import LOCALES
from app.models import Notification, User

from ..errors import PortalError
from ..executor import CommandContext


@dataclass
class SetLanguage:
    locale: str

    def execute(self, ctx: CommandContext) -> None:
        if self.locale not in LOCALES:
            raise PortalError("language must be vi or en", field="locale")
        user = ctx.session.get(User, ctx.actor.user_id)
        if user is not None:
            user.locale = self.locale


@dataclass
class MarkNotificationsRead:
    """Mark the caller's notifications read: the given ones, or all of them when ``ids`` is empty."""

    ids: tuple[int, ...] = ()

    def execute(self, ctx: CommandContext) -> int:
        stmt = update(Notification).where(
            Notification.user_id == ctx.actor.user_id, Notification.read_at.is_(None)
        )
        if self.ids:
            stmt = stmt.where(Notification.id.in_(self.ids))
        result = ctx.session.execute(
            stmt.values(read_at=ctx.now).execution_options(synchronize_session=False)
        )
        return result.rowcount
