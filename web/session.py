"""The signed-in user as Flask-Login sees it, and small helpers the views share."""

from __future__ import annotations

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
