"""The Vietnamese catalog covers every message of the pages and e-mails, and its compiled form is current."""

from __future__ import annotations

import io

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app.i18n import TRANSLATIONS_DIR
from app.settings import PROJECT_ROOT

METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2"), ("forms/**.html", "jinja2")]


def _catalog():
    with open(TRANSLATIONS_DIR / "vi" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle)


def test_every_message_of_the_portal_has_vietnamese_text():
    catalog = _catalog()
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "lazy_gettext": None}
    found = {
        (message if isinstance(message, str) else message[0])
        for _file, _line, message, _comments, _context in extract_from_dir(
            PROJECT_ROOT / "app", METHOD_MAP, keywords=keywords
        )
    }
    assert len(found) > 150
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert missing == []


def test_the_compiled_catalog_matches_its_source():
    source = {m.id: m.string for m in _catalog() if m.id and not m.fuzzy}
    with open(TRANSLATIONS_DIR / "vi" / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = {m.id: m.string for m in read_mo(io.BytesIO(handle.read())) if m.id}
    assert compiled == source


def test_vietnamese_text_keeps_its_diacritics():
    catalog = _catalog()
    assert catalog.get("Inbox").string == "Hộp việc"
    assert catalog.get("Wrong username or password.").string == "Sai tên đăng nhập hoặc mật khẩu."
