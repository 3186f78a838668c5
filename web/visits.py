"""A school's curator visit schedule: its municipal or regional coordinator (or an admin) plans visits, moves
one with a reason, cancels one; the curator and everyone above the school read (engine/process/visits.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import FormInvalid
from engine.process import visits
from web.i18n import gettext
from web.inputs import flash_errors, form_date
from web.session import db, me

blueprint = Blueprint("visits", __name__)


@blueprint.route("/schools/<code>/visits")
@login_required
def page(code: str) -> str:
    found = visits.list_visits(db(), code, actor=me())
    return render_template("visits.html", found=found)


@blueprint.route("/schools/<code>/visits", methods=["POST"])
@login_required
def plan(code: str) -> Response:
    try:
        visits.plan_visit(db(), code, planned_on=form_date("planned_on"), note=request.form.get("note", ""), actor=me())
        flash(gettext("Посещение запланировано: куратор получит напоминание."), "info")
    except FormInvalid as err:
        flash_errors(err)
    return redirect(url_for("visits.page", code=code))


@blueprint.route("/schools/<code>/visits/<id:visit_id>/move", methods=["POST"])
@login_required
def move(code: str, visit_id: int) -> Response:
    try:
        visits.move_visit(db(), visit_id, planned_on=form_date("planned_on"), reason=request.form.get("reason"),
                          actor=me())
        flash(gettext("Посещение перенесено."), "info")
    except FormInvalid as err:
        flash_errors(err)
    return redirect(url_for("visits.page", code=code, _anchor=f"visit-{visit_id}"))


@blueprint.route("/schools/<code>/visits/<id:visit_id>/cancel", methods=["POST"])
@login_required
def cancel(code: str, visit_id: int) -> Response:
    try:
        visits.cancel_visit(db(), visit_id, reason=request.form.get("reason"), actor=me())
        flash(gettext("Посещение отменено."), "info")
    except FormInvalid as err:
        flash_errors(err)
    return redirect(url_for("visits.page", code=code, _anchor=f"visit-{visit_id}"))
