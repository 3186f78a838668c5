"""The signed-in user as Flask-Login sees it, and small helpers the views share."""

from __future__ import annotations

import re

from flask import current_app, request
from flask_login import UserMixin, current_user

from engine.accounts import SessionUser
from engine.db import Database


class WebUser(UserMixin):  # type: ignore[misc]
    def __init__(self, user: SessionUser) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.user_id)

    @property
    def login(self) -> str:
        return self.user.login

    @property
    def full_name(self) -> str:
        return self.user.full_name


def db() -> Database:
    database = current_app.extensions["roadmap.db"]
    assert isinstance(database, Database)
    return database


def me() -> str:
    """The login of the signed-in user (views are @login_required)."""
    return str(current_user.login)


def client_address() -> str:
    return request.remote_addr or "unknown"


# Browsers drop tabs and newlines anywhere in a URL, trim other control characters and spaces at its ends,
# and read a backslash as a slash: "/\t/evil.example" reaches them as "//evil.example", another site.
# Rather than predict every such rewrite, a target holding any of these characters is refused outright.
_REWRITTEN_BY_BROWSERS = re.compile(r"[\x00-\x1f\x7f\\]")


def local_path(target: str | None, fallback: str = "/") -> str:
    """Where a ``next=`` parameter may send the browser: a path on this site, or ``fallback``.

    Accepted: a path beginning with exactly one ``/`` (so no ``//host``, no scheme, no ``javascript:``),
    with no control characters or backslashes anywhere. The one check for every redirect that
    takes its target from the request (sign-in, the language switch)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if _REWRITTEN_BY_BROWSERS.search(target):
        return fallback
    return target
