"""Fixtures for the page tests: people signed in over real HTTP against the live portal."""

from __future__ import annotations

import pytest

from tests.web.client import Person


@pytest.fixture
def person(live_portal):
    """Make a signed-in person: ``person("officer.raho6")``."""

    def sign_in(username: str) -> Person:
        someone = Person(live_portal, username)
        response = someone.signs_in()
        assert response.status_code == 302, f"{username} could not sign in: {response.status_code}"
        return someone

    return sign_in
