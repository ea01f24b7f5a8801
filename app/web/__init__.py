"""The server-rendered portal for officers, traders, managers and analysts (Flask + Jinja2).

``init_web`` wires sign-in (Flask-Login), CSRF (Flask-WTF), languages (Flask-Babel), rate limits
(Flask-Limiter) and security headers, and registers the page blueprints. Pages are thin: they read through
``app.queries`` / ``app.reports`` and change state only through commands."""

from __future__ import annotations

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from app.settings import PROJECT_ROOT

from .extensions import babel, csrf, limiter, login_manager


def init_web(app: Flask) -> None:
    from app.i18n import TRANSLATIONS_DIR

    settings = app.extensions["portal"].settings
    app.config.update(
        BABEL_DEFAULT_LOCALE="vi",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS_DIR),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="catlai_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage,
        RATELIMIT_HEADERS_ENABLED=True,
    )
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(PROJECT_ROOT / "app" / "templates")),
            FileSystemLoader(str(PROJECT_ROOT / "app" / "forms")),
        ]
    )
    from . import auth, i18n_setup

    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app, locale_selector=i18n_setup.select_locale, timezone_selector=i18n_setup.select_timezone
    )
    i18n_setup.install_template_helpers(app)

    from app.api import bp as api_bp

    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, never with the session cookie

    from . import (
        consignments,
        dashboard,
        inbox,
        incidents,
        notifications,
        pages,
        port,
        studio,
        tasks,
        trader,
    )

    for module in (
        auth,
        pages,
        inbox,
        tasks,
        consignments,
        trader,
        dashboard,
        incidents,
        port,
        notifications,
        studio,
    ):
        app.register_blueprint(module.bp)

    _install_error_pages(app)

    from app import access

    @app.context_processor
    def _access_rules():
        """The navigation shows each page to the roles that may open it (``app.access``)."""
        return {"access": access}

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _install_error_pages(app: Flask) -> None:
    """HTML error pages for the portal's pages; the API keeps its JSON bodies."""
    from flask import render_template, request
    from flask_babel import gettext as _
    from werkzeug.exceptions import HTTPException

    from app.api.errors import _http_error, _portal_error
    from app.engine.errors import PortalError

    from .reasons import reason

    titles = {
        400: _("The request could not be understood"),
        403: _("You may not open this page"),
        404: _("Not found"),
        413: _("The upload is too large"),
        429: _("Too many attempts"),
    }

    def page(code: int, message: str):
        title = titles.get(code, _("Something went wrong"))
        return render_template("error.html", code=code, title=title, message=message), code

    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return _http_error(exc)
        return page(exc.code or 500, _(exc.description or ""))

    def portal_error(exc: PortalError):
        if request.path.startswith("/api/"):
            return _portal_error(exc)
        return page(exc.status, reason(exc) if exc.params else _(exc.message))

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(PortalError, portal_error)
