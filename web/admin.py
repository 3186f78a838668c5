"""Admins: users and password resets."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from engine.accounts import list_users, reset_password
from web.session import db, me

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.route("/users")
@login_required
def users() -> str:
    search = request.args.get("q", "")
    return render_template("admin_users.html", users=list_users(db(), me(), search=search), search=search,
                           reset=None)


@blueprint.route("/users/<login>/reset", methods=["POST"])
@login_required
def reset(login: str) -> str:
    password = reset_password(db(), me(), login)
    return render_template("admin_users.html", users=list_users(db(), me()), search="",
                           reset=(login, password))
