"""The signed-in user as Flask-Login sees it, and small helpers the views share."""

from __future__ import annotations

import re

from flask import current_app, g, request
from flask_login import UserMixin, current_user

from engine.db import Database
from engine.org.accounts import SessionUser, session_user
from engine.org.regions import viewer_zone
from engine.timing.zones import DEFAULT_ZONE
from workers.queue import JobQueue


class WebUser(UserMixin):  # type: ignore[misc]
    """The user of one session: the cookie keeps ``get_id()``, the user's id and the session's token, and
    every request loads the user through both (a session ended on the server no longer loads)."""

    def __init__(self, user: SessionUser, session_token: str) -> None:
        self.user = user
        self.session_token = session_token

    def get_id(self) -> str:
        return f"{self.user.user_id}:{self.session_token}"

    @classmethod
    def load(cls, db: Database, cookie_id: str) -> WebUser | None:
        text, _, token = cookie_id.partition(":")
        # ASCII digits only (str.isdigit() also takes «²», which int() refuses), within a BIGINT id.
        if not (text.isascii() and text.isdigit() and len(text) <= 18) or not token:
            return None
        found = session_user(db, int(text), token)
        return cls(found, token) if found else None

    @property
    def login(self) -> str:
        return self.user.login

    @property
    def full_name(self) -> str:
        return self.user.full_name


def project_template() -> str:
    """The installation's project template (setting ``PROJECT_TEMPLATE``): what pages show by default."""
    return str(current_app.config["PROJECT_TEMPLATE"])


def chosen_template(asked: str | None) -> str:
    """The template a page or call asked for (``template=KEY``), else the project's; an unknown key is
    refused where it is looked up (404)."""
    asked = (asked or "").strip()
    return asked[:64] if asked else project_template()


def db() -> Database:
    database = current_app.extensions["roadmap.db"]
    assert isinstance(database, Database)
    return database


def queue() -> JobQueue:
    """The app's queue for background jobs (``create_app(queue=...)``)."""
    jobs: JobQueue = current_app.extensions["roadmap.jobs"]
    return jobs


def me() -> str:
    """The login of the signed-in user (views are @login_required)."""
    return str(current_user.login)


def viewer_zone_name() -> str:
    """The zone the signed-in person reads times in (once per request): their region's — a school's, curator's,
    municipal or regional coordinator's; Moscow's for federal and admin users and for anyone signed out.

    One zone per reader rather than one per school: a page then reads consistently («сегодня», «осталось 2
    дня» and the hours agree), and every time names its zone, so a federal reader sees a Kamchatka school's
    23:59 as «14:59 (МСК)» — the same moment, said in the reader's own time."""
    name = g.get("viewer_zone")
    if name is None:
        name = DEFAULT_ZONE
        if current_user and getattr(current_user, "is_authenticated", False):
            name = viewer_zone(db(), actor=current_user.login)
        g.viewer_zone = name
    return str(name)


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
