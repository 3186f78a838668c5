"""A region's curator pool: the regional coordinator (or an admin) keeps who may be made a school's curator.

The engine authorizes (engine/org/curator_pool.py); these views read the form, call one service, redirect.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import OrgUnitNotFound
from engine.org import curator_pool
from web.i18n import N_, gettext
from web.session import db, me

blueprint = Blueprint("curators", __name__, url_prefix="/regions/<code>/curator-pool")


@blueprint.route("")
@login_required
def pool(code: str) -> str:
    return render_template("curator_pool.html", code=code, entries=curator_pool.list_pool(db(), code, actor=me()))


@blueprint.route("", methods=["POST"])
@login_required
def add(code: str) -> Response:
    login = request.form.get("login", "").strip()
    try:
        added = curator_pool.add_to_pool(db(), code, login, actor=me())
    except OrgUnitNotFound as err:  # the login; an unknown region or a foreign one fails as a page
        flash(err.message, "error")
        return redirect(url_for(".pool", code=code))
    text = N_("{login} добавлен в резерв кураторов.") if added else N_("{login} уже в резерве кураторов.")
    flash(gettext(text, login=login), "info")
    return redirect(url_for(".pool", code=code))


@blueprint.route("/remove", methods=["POST"])
@login_required
def remove(code: str) -> Response:
    login = request.form.get("login", "")
    curator_pool.remove_from_pool(db(), code, login, actor=me())
    flash(gettext("{login} убран из резерва кураторов.", login=login), "info")
    return redirect(url_for(".pool", code=code))
