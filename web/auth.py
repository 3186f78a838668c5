"""Sign in, sign out, change one's password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from engine.errors import EngineError
from engine.org import api_tokens
from engine.org.accounts import change_password, sign_in, sign_out
from web.i18n import gettext
from web.inputs import parse_id
from web.session import WebUser, client_address, db, local_path, me

blueprint = Blueprint("auth", __name__)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | tuple[str, int] | Response:
    if current_user.is_authenticated:
        return redirect(url_for("tasks.inbox"))
    if request.method == "POST":
        try:
            signed = sign_in(db(), request.form.get("login", ""), request.form.get("password", ""), client_address())
        except EngineError as err:
            flash(err.message, "error")
            return render_template("login.html", login=request.form.get("login", "")), 401
        user = WebUser.load(db(), f"{signed.user_id}:{signed.session_token}")
        assert user is not None
        login_user(user)
        start = url_for("admin.home") if user.user.is_admin else url_for("tasks.inbox")  # admins: their start page
        return redirect(local_path(request.args.get("next"), start))
    return render_template("login.html", login="")


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    sign_out(db(), current_user.session_token)
    logout_user()
    flash(gettext("Вы вышли из системы."), "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> str | tuple[str, int] | Response:
    if request.method == "POST":
        try:
            change_password(db(), request.form.get("old", ""), request.form.get("new", ""),
                            keep_session=current_user.session_token, actor=me())
        except EngineError as err:
            flash(err.message, "error")
            return render_template("password.html"), 400
        flash(gettext("Пароль изменён."), "info")
        return redirect(url_for("tasks.inbox"))
    return render_template("password.html")


@blueprint.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> str:
    """Personal tokens for the REST API: create (shown once) and revoke."""
    created = None
    if request.method == "POST":
        revoke = parse_id(request.form["revoke"], "revoke") if request.form.get("revoke") else None
        try:
            if revoke is not None:
                api_tokens.revoke_token(db(), revoke, actor=me())
            else:
                created = api_tokens.create_token(db(), request.form.get("name", ""), actor=me())[1]
        except EngineError as err:
            flash(err.message, "error")
    return render_template("tokens.html", tokens=api_tokens.list_tokens(db(), actor=me()), created=created)
