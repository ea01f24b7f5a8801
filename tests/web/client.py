"""A person using the portal's pages over real HTTP: signs in, follows links, submits forms with the
CSRF token the page carries. Pages are parsed with lxml."""

from __future__ import annotations

from typing import Any

import lxml.html
import requests


class Person:
    def __init__(self, base_url: str, username: str | None = None) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.username = username

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=20, **kwargs)

    def csrf(self, path: str = "/login") -> str:
        page = lxml.html.fromstring(self.get(path).text)
        return page.xpath("//meta[@name='csrf-token']/@content")[0]

    def post(self, path: str, data: dict | list | None = None, *, token_from: str | None = None, **kwargs):
        """POST a form the way the browser does: with the CSRF token of the page it came from."""
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        fields.append(("csrf_token", self.csrf(token_from or "/login")))
        return self.http.post(self.base_url + path, data=fields, timeout=20, allow_redirects=False, **kwargs)

    def signs_in(self, username: str | None = None, password: str = "catlai-demo") -> requests.Response:
        self.username = username or self.username
        return self.post("/login", {"username": self.username, "password": password})


def page(response: requests.Response):
    return lxml.html.fromstring(response.text)


def texts(response: requests.Response, xpath: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in page(response).xpath(xpath)]
