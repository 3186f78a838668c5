"""Questionnaires: links for anonymous respondents and response rates (school, curator), the director's
own questionnaire, and the public page a respondent opens from a personal link."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import Conflict, EngineError, FormInvalid
from engine.process import questionnaires
from web.i18n import gettext
from web.inputs import INT32_MAX, InputRejected, optional_int, parse_json
from web.session import client_address, db, me

blueprint = Blueprint("questionnaires", __name__)


def _answers() -> dict[str, Any]:
    try:
        data = parse_json(request.form.get("data") or "{}")
    except InputRejected:
        data = None
    if not isinstance(data, dict):
        unreadable = gettext("Ответы не удалось прочитать; обновите страницу.")
        raise FormInvalid({"_schema": [unreadable]})
    return data


@blueprint.route("/schools/<code>/questionnaires", methods=["GET", "POST"])
@login_required
def manage(code: str) -> str:
    tokens: list[str] = []
    group = request.form.get("group", "")
    if request.method == "POST":
        count = optional_int(request.form, "count", minimum=0, maximum=INT32_MAX) or 0
        try:
            tokens = questionnaires.create_links(db(), code, group, count, actor=me())
        except EngineError as err:
            flash(err.message, "error")
    rates = questionnaires.response_rates(db(), code, actor=me())
    links = [url_for("questionnaires.respond", token=t, _external=True) for t in tokens]
    return render_template("questionnaires.html", code=code, rates=rates, links=links, group=group)


@blueprint.route("/schools/<code>/questionnaires/director", methods=["GET", "POST"])
@login_required
def director(code: str) -> tuple[str, int] | Response:
    form = questionnaires.director_form(db(), code, actor=me())
    if request.method == "POST":
        try:
            questionnaires.submit_response(db(), code, "director", _answers(), actor=me())
        except FormInvalid as err:
            return render_template("respond.html", page=form, errors=err.errors, public=False), 422
        except Conflict as err:
            flash(err.message, "error")
            return redirect(url_for("questionnaires.manage", code=code))
        flash(gettext("Анкета директора принята."), "info")
        return redirect(url_for("questionnaires.manage", code=code))
    return render_template("respond.html", page=form, errors={}, public=False), 200


@blueprint.route("/q/<token>", methods=["GET", "POST"])
def respond(token: str) -> tuple[str, int]:
    """The public page of a personal link: no sign-in, the token is the key; one submission."""
    page = questionnaires.link_page(db(), token, client_address())
    if page.used:
        return render_template("respond_done.html", page=page, again=True), 200
    if not page.open:
        return render_template("respond_done.html", page=page, closed=True), 200
    if request.method == "POST":
        try:
            questionnaires.submit_by_link(db(), token, _answers())
        except FormInvalid as err:
            return render_template("respond.html", page=page, errors=err.errors, public=True), 422
        except Conflict:
            return render_template("respond_done.html", page=page, again=True), 409
        return render_template("respond_done.html", page=page), 200
    return render_template("respond.html", page=page, errors={}, public=True), 200
