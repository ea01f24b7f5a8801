"""Per-user language (Vietnamese or English) and time zone, and the template helpers that format times,
working hours and SLA states in the user's language."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, request, session
from flask_babel import format_datetime, gettext
from flask_login import current_user

from app.i18n import LOCALES, normalize_locale


def select_locale() -> str:
    if "locale" in session:
        return normalize_locale(session["locale"])
    if current_user.is_authenticated:
        return normalize_locale(current_user.locale)
    return request.accept_languages.best_match(LOCALES) or "vi"


def select_timezone() -> str:
    return "Asia/Ho_Chi_Minh"


def _when(value: datetime | None, fmt: str = "short") -> str:
    return format_datetime(value, fmt) if value else ""


def _hours(value: float | None) -> str:
    if value is None:
        return ""
    return gettext("%(hours)s working h", hours=f"{value:.1f}")


def install_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["hours"] = _hours
    app.jinja_env.globals["current_locale"] = select_locale
