"""Sign-in and sign-out with username and password (argon2), rate-limited; the signed-in user as an
``Actor`` for commands and scoped queries; the language switch."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from app.engine.executor import Actor
from app.i18n import LOCALES
from app.models import User
from app.security.credentials import verify_password

from .context import portal
from .extensions import limiter, login_manager
from .labels import org_label

bp = Blueprint("auth", __name__)

# A hash verified when the username is unknown, so both answers take the same time.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$0hTQk1fL8x8oMyWbMVjY0q2o1o0bQfRjYyVn4vYQ3yU"
)


@dataclass
class WebUser:
    """The signed-in person as the pages see it (Flask-Login's user protocol)."""

    id: int
    username: str
    display_name: str
    organization: str
    organization_name_en: str
    organization_name_vi: str | None
    role: str
    locale: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    @property
    def organization_name(self) -> str:
        """The organization's name in the language of this request."""
        return org_label(self.organization_name_en, self.organization_name_vi)

    def get_id(self) -> str:
        return str(self.id)

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.organization, self.role, self.id)

    @property
    def is_supervisor(self) -> bool:
        return self.role in ("manager", "branch_head", "admin")


def _web_user(user: User) -> WebUser:
    return WebUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        organization=user.organization.code,
        organization_name_en=user.organization.name,
        organization_name_vi=user.organization.name_vi,
        role=user.role,
        locale=user.locale,
    )


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    if not user_id.isdigit():
        return None
    with portal().db.read_session() as db:
        user = db.get(User, int(user_id))
        return _web_user(user) if user is not None else None


def current_actor() -> Actor:
    return current_user.actor


def _login_limit() -> str:
    return current_app.extensions["portal"].settings.login_rate_limit


def _ip_limit() -> str:
    # One address may carry many people (an agency's office behind NAT): three times the per-user limit.
    count, _, period = _login_limit().partition(" ")
    return f"{int(count) * 3} {period}" if count.isdigit() else _login_limit()


def _failed(response) -> bool:
    """Only failed sign-ins count against the limits."""
    return response.status_code != 302


def _username_key() -> str:
    return "login:" + (request.form.get("username") or "").strip().lower()[:64]


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], key_func=_username_key, deduct_when=_failed)
def login():
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    with portal().db.read_session() as db:
        user = db.scalar(select(User).where(User.username == username)) if username else None
        stored = user.password_hash if user is not None else _DUMMY_HASH
        valid = verify_password(stored, password) and user is not None
        web_user = _web_user(user) if valid else None
    if web_user is None:
        return (
            render_template(
                "auth/login.html",
                next=request.form.get("next", ""),
                username=username,
                error=_("Wrong username or password."),
            ),
            401,
        )
    session.clear()
    login_user(web_user)
    session["locale"] = web_user.locale
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        abort(400, description="locale must be vi or en")
    session["locale"] = locale
    if current_user.is_authenticated:
        from app.engine.commands.profile import SetLanguage

        portal().execute(SetLanguage(locale), current_actor())
    return redirect(_safe_next(request.form.get("next")))
