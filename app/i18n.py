"""Languages of the portal: Vietnamese (default) and English, from the gettext catalogs in
``app/translations`` (Babel). The web pages use them through Flask-Babel; e-mails and other text made
outside a request use ``translator`` directly."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"


def normalize_locale(value: str | None) -> str:
    """Return a supported locale for ``value`` (unknown or empty values fall back to Vietnamese)."""
    if value and value[:2].lower() in LOCALES:
        return value[:2].lower()
    return DEFAULT_LOCALE


@lru_cache(maxsize=len(LOCALES))
def translator(locale: str) -> NullTranslations:
    """The gettext catalog for ``locale`` (English messages are the msgids themselves)."""
    locale = normalize_locale(locale)
    if locale == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [locale])


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction only"
    """Mark ``message`` for the catalog without translating it here."""
    return message
