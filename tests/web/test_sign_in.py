"""Signing in and out: argon2-checked passwords, rate limits, CSRF on every form, safe redirects,
the language switch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import User
from tests.web.client import Person, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_officer_signs_in_and_lands_in_the_inbox(live_portal):
    officer = Person(live_portal, "officer.raho6")
    response = officer.signs_in()
    assert response.status_code == 302
    inbox = officer.get(response.headers["Location"].replace(live_portal, ""), allow_redirects=True)
    assert inbox.url.endswith("/inbox")
    assert "Hộp việc" in inbox.text or "Inbox" in inbox.text
    cookie = next(c for c in officer.http.cookies if c.name == "catlai_session")
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(live_portal):
    someone = Person(live_portal, "officer.raho6")
    wrong_password = someone.signs_in(password="not-the-password")
    unknown_user = Person(live_portal, "nobody.here").signs_in()
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert texts(wrong_password, "//div[@class='error-summary']") == texts(
        unknown_user, "//div[@class='error-summary']"
    )
    assert someone.get("/inbox", allow_redirects=False).status_code == 302  # still signed out


def test_repeated_wrong_passwords_are_rate_limited(live_portal):
    attacker = Person(live_portal, "head.02ci")
    codes = [attacker.signs_in(password=f"guess-{i}").status_code for i in range(12)]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]
    # the right password is refused too while the limit lasts: no oracle for guessing
    assert attacker.signs_in().status_code == 429


def test_a_form_without_its_csrf_token_changes_nothing(live_portal, person, portal):
    trader = person("trader.t01")
    response = trader.http.post(
        live_portal + "/language", data={"locale": "en"}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 400
    with portal.db.session() as db:
        assert db.scalar(select(User.locale).where(User.username == "trader.t01")) == "vi"


def test_sign_in_never_redirects_to_another_site(live_portal):
    someone = Person(live_portal, "trader.t01")
    response = someone.post(
        "/login", {"username": "trader.t01", "password": "catlai-demo", "next": "//evil.example/x"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", live_portal + "/")


def test_trader_switches_to_english_and_it_is_remembered(live_portal, person, portal):
    trader = person("trader.t01")
    assert "Lô hàng của tôi" in trader.get("/consignments").text
    response = trader.post("/language", {"locale": "en", "next": "/consignments"}, token_from="/consignments")
    assert response.status_code == 302
    assert "My consignments" in trader.get("/consignments").text
    with portal.db.session() as db:
        assert db.scalar(select(User.locale).where(User.username == "trader.t01")) == "en"
    again = Person(live_portal, "trader.t01")
    again.signs_in()
    assert "My consignments" in again.get("/consignments").text


def test_signing_out_ends_the_session(live_portal, person):
    officer = person("officer.raho6")
    assert officer.post("/logout", token_from="/inbox").status_code == 302
    assert officer.get("/inbox", allow_redirects=False).status_code == 302
