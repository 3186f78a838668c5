"""A school's roadmap of measures: the school moves them on (status, evidence, reschedule with a reason), its
curator accepts or returns the evidence, coordinators read (engine/process/measures.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import FormInvalid
from engine.process import measures
from web.i18n import gettext
from web.inputs import flash_errors, form_date
from web.session import db, me

blueprint = Blueprint("measures", __name__)


@blueprint.route("/schools/<code>/measures")
@login_required
def page(code: str) -> str:
    found = measures.list_measures(db(), code, actor=me())
    return render_template("measures.html", found=found)


@blueprint.route("/schools/<code>/measures/<id:measure_id>", methods=["POST"])
@login_required
def update(code: str, measure_id: int) -> Response:
    form = request.form
    try:
        measures.update_measure(db(), measure_id, status=form.get("status") or None, due_date=form_date("due_date"),
                                reason=form.get("reason"), evidence_link=form.get("evidence_link"),
                                evidence_note=form.get("evidence_note"), actor=me())
        flash(gettext("Мероприятие обновлено."), "info")
    except FormInvalid as err:
        flash_errors(err)
    return redirect(url_for("measures.page", code=code, _anchor=f"measure-{measure_id}"))


@blueprint.route("/schools/<code>/measures/new", methods=["POST"])
@login_required
def add(code: str) -> Response:
    form = request.form
    try:
        measures.add_measure(db(), code, title=form.get("title", ""), due_date=form_date("due_date"),
                             responsible=form.get("responsible", ""), reason=form.get("reason", ""),
                             direction=form.get("direction") or None, actor=me())
        flash(gettext("Мероприятие добавлено и ждёт согласования куратора."), "info")
    except FormInvalid as err:
        flash_errors(err)
    return redirect(url_for("measures.page", code=code))


@blueprint.route("/schools/<code>/measures/<id:measure_id>/agreement", methods=["POST"])
@login_required
def agreement(code: str, measure_id: int) -> Response:
    agree = request.form.get("decision") == "agree"
    try:
        measures.agree_addition(db(), measure_id, agree=agree, comment=request.form.get("comment", ""), actor=me())
        flash(gettext("Мероприятие согласовано.") if agree else gettext("Мероприятие не согласовано."), "info")
    except FormInvalid as err:
        flash_errors(err)
    return redirect(url_for("measures.page", code=code, _anchor=f"measure-{measure_id}"))


@blueprint.route("/schools/<code>/measures/<id:measure_id>/review", methods=["POST"])
@login_required
def review(code: str, measure_id: int) -> Response:
    accept = request.form.get("decision") == "accept"
    try:
        measures.review_measure(db(), measure_id, accept=accept, comment=request.form.get("comment", ""), actor=me())
        flash(gettext("Подтверждение принято.") if accept else gettext("Подтверждение возвращено школе."), "info")
    except FormInvalid as err:
        flash_errors(err)
    return redirect(url_for("measures.page", code=code, _anchor=f"measure-{measure_id}"))
