"""A session ends on the server: a copied session cookie stops working after its owner signs out, after
a password change (the other sessions; the browser that changed it stays signed in) and after an admin
resets the password (all of them)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.db import Database
from engine.models import User
from tests.conftest import Org
from tests.helpers import PASSWORD, set_password
from web.app import create_app

NEW_PASSWORD = "новый-пароль-123"
COOKIE = "session"


@pytest.fixture
def app(db: Database, org: Org) -> Flask:
    set_password(db, org.curator, org.admin)
    return create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})


def _csrf(client: FlaskClient, page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True))
    assert match
    return match.group(1)


def signed_in(app: Flask, login: str) -> FlaskClient:
    client = app.test_client()
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": _csrf(client, "/login")},
                         environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding the same session cookie (stolen, or copied from a shared computer)."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def signed_in_still(client: FlaskClient) -> bool:
    answer = client.get("/")
    assert answer.status_code in (200, 302)
    return answer.status_code == 200


def test_signing_out_ends_the_session_for_its_copies_too(app: Flask, org: Org) -> None:
    client = signed_in(app, org.curator)
    thief = copy_of(app, client)
    assert signed_in_still(thief)
    assert client.post("/logout", data={"csrf_token": _csrf(client, "/")}).status_code == 302
    assert not signed_in_still(thief)
    assert not signed_in_still(client)


def test_a_password_change_ends_the_other_sessions(app: Flask, org: Org) -> None:
    laptop, phone = signed_in(app, org.curator), signed_in(app, org.curator)
    thief = copy_of(app, phone)
    answer = laptop.post("/account/password", data={"old": PASSWORD, "new": NEW_PASSWORD,
                                                     "csrf_token": _csrf(laptop, "/account/password")})
    assert answer.status_code == 302
    assert signed_in_still(laptop)  # the browser that changed the password stays signed in
    assert not signed_in_still(phone) and not signed_in_still(thief)


def test_an_admin_reset_ends_every_session(app: Flask, org: Org) -> None:
    laptop, phone = signed_in(app, org.curator), signed_in(app, org.curator)
    thief = copy_of(app, laptop)
    admin = signed_in(app, org.admin)
    answer = admin.post(f"/admin/users/{org.curator}/reset", data={"csrf_token": _csrf(admin, "/admin/users")})
    assert answer.status_code == 200 and "Новый пароль" in answer.get_data(as_text=True)
    assert not signed_in_still(laptop) and not signed_in_still(phone) and not signed_in_still(thief)
    assert signed_in_still(admin)


def test_a_cookie_without_a_session_token_is_not_signed_in(app: Flask, org: Org, db: Database) -> None:
    client = app.test_client()
    with db.reading() as session:
        user_id = session.query(User.id).filter(User.login == org.curator).scalar()
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)  # what a cookie signed before sessions were stored held
        session["_fresh"] = True
    assert not signed_in_still(client)
