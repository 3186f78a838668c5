"""Redirects whose target comes from the request (``?next=`` after sign-in and after switching the
language) stay on this site, whatever a browser would make of the target."""

from __future__ import annotations

import pytest
from flask import Flask

from engine.db import Database
from tests.conftest import Org
from tests.helpers import PASSWORD, set_password
from web.app import create_app

# As they appear in the query string (percent-encoded where a browser would send them so).
BYPASSES = [
    "//evil.example/", "/\\evil.example/", "\\/evil.example/", "/%09/evil.example/", "/%0d%0a/evil.example/",
    "/%0a/evil.example/", "///evil.example/", "////evil.example/", "https://evil.example/", "http:/evil.example/",
    "http:evil.example", "javascript:alert(1)", "JavaScript:alert(1)", "/%5Cevil.example/", "%2F%2Fevil.example/",
    "%2F%5Cevil.example/", "/%2F/evil.example/", "%09//evil.example/", "/%09%09/evil.example/", "/%0B/evil.example/",
    "/%7F/evil.example/", "/%1F/evil.example/", "/tasks%5C..%5C%5Cevil.example", "/ok%0d%0aSet-Cookie:%20x=1",
    "evil.example", "@evil.example", "//user:pass@evil.example/", "/%2F%2Fevil.example/", "data:text/html,x", "",
]


def _visible_target(location: str) -> str:
    """What a browser does with a Location before resolving it: tabs and newlines go, backslashes are slashes."""
    return location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/").strip()


def _stays_here(location: str) -> bool:
    seen = _visible_target(location)
    return seen.startswith("/") and not seen.startswith("//")


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                       "SESSION_COOKIE_SECURE": False})


@pytest.mark.parametrize("target", BYPASSES)
def test_language_switch_never_leaves_the_site(app: Flask, target: str) -> None:
    response = app.test_client().get(f"/lang/en?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/", target


def test_sign_in_never_leaves_the_site(app: Flask, db: Database, org: Org) -> None:
    set_password(db, org.curator)
    for target in BYPASSES:
        client = app.test_client()
        response = client.post(f"/login?next={target}", data={"login": org.curator, "password": PASSWORD},
                               environ_base={"REMOTE_ADDR": "198.51.100.40"})
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target
        assert _stays_here(response.headers["Location"])


@pytest.mark.parametrize("target", ["/tasks/12", "/schools/S1/questionnaires?group=parents",
                                    "/admin/users?search=%D0%98%D0%B2%D0%B0%D0%BD", "/a/b%2Fc"])
def test_local_paths_are_followed(app: Flask, target: str) -> None:
    response = app.test_client().get(f"/lang/ru?next={target.replace('?', '%3F').replace('&', '%26')}")
    assert response.status_code == 302
    assert _stays_here(response.headers["Location"]) and response.headers["Location"] != "/"
