"""Signing in and out: argon2-hashed passwords, rate limits, a secure session cookie, CSRF on every form,
safe redirects, the language switch."""

from __future__ import annotations

import threading
from http.cookies import SimpleCookie

import lxml.html
import pytest
import requests
from argon2 import PasswordHasher
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import create_app
from app.models import Consignment, User, WorkItem
from app.services import build_portal
from app.settings import Settings
from app.stack import free_port
from tests.procedure import registration, trader_registers, work_item, worker_settles
from tests.web.client import Person, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


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


def test_passwords_are_stored_as_argon2_hashes(portal):
    with portal.db.session() as db:
        hashes = db.scalars(select(User.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any("catlai-demo" in h for h in hashes)
    assert PasswordHasher().verify(hashes[0], "catlai-demo")


def test_the_session_cookie_is_secure_when_the_portal_runs_behind_https(database_url, pki_dir):
    settings = Settings.from_env(
        {"PORTAL_SECURE_COOKIES": "true"}, database_url=database_url, pki_dir=pki_dir
    )
    services = build_portal(settings)
    server = make_server("127.0.0.1", free_port(), create_app(settings, portal=services), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        form = requests.get(base + "/login", timeout=10)
        token = lxml.html.fromstring(form.text).xpath("//meta[@name='csrf-token']/@content")[0]
        cookie = SimpleCookie(form.headers["Set-Cookie"])["catlai_session"]
        # A browser sends a Secure cookie back over HTTPS only; the test sends it by hand.
        signed_in = requests.post(
            base + "/login",
            data={"username": "officer.raho6", "password": "catlai-demo", "csrf_token": token},
            headers={"Cookie": f"catlai_session={cookie.value}"},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302
        session = SimpleCookie(signed_in.headers["Set-Cookie"])["catlai_session"]
        assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    finally:
        server.shutdown()
        server.server_close()
        services.close()


def test_the_session_cookie_is_not_marked_secure_by_default(live_portal):
    response = Person(live_portal, "officer.raho6").signs_in()
    session = SimpleCookie(response.headers["Set-Cookie"])["catlai_session"]
    assert not session["secure"] and session["httponly"]


def test_a_form_without_its_csrf_token_changes_nothing(live_portal, person, portal, worker):
    number = trader_registers(portal, "C10")  # air cargo: straight to MIC's sampling
    worker_settles(worker, portal, number)
    item = work_item(portal, number, "record_sampling")

    def without_token(someone: Person, path: str, data: dict) -> int:
        return someone.http.post(live_portal + path, data=data, allow_redirects=False, timeout=10).status_code

    stranger = Person(live_portal, "officer.mic")
    stranger.get("/login")  # has a session, but posts without the page's token
    assert without_token(stranger, "/login", {"username": "officer.mic", "password": "catlai-demo"}) == 400
    assert stranger.get("/inbox", allow_redirects=False).status_code == 302  # not signed in

    trader = person("trader.t01")
    assert without_token(trader, "/language", {"locale": "en"}) == 400
    new = registration("C01", declaration_no="106865790001")
    assert without_token(trader, "/consignments/new", {**new, "hs_codes": new["hs_codes"][0]}) == 400

    officer = person("officer.mic")
    assert without_token(officer, f"/work-items/{item.id}/claim", {}) == 400
    assert without_token(officer, f"/work-items/{item.id}", {"sample_count": "3"}) == 400
    assert without_token(officer, "/logout", {}) == 400
    assert officer.get("/inbox", allow_redirects=False).status_code == 200  # still signed in

    with portal.db.session() as db:
        assert db.scalar(select(User.locale).where(User.username == "trader.t01")) == "vi"
        assert db.scalar(select(func.count()).select_from(Consignment)) == 1
        assert (db.get(WorkItem, item.id).state, db.get(WorkItem, item.id).assignee_id) == ("open", None)


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
