"""«Управление маршрутом»: withdraw a school's roadmap, suspend and resume roadmaps of a school, a
municipality or a region. Each action has a confirmation page that states the consequences before
anything happens; the engine authorizes and audits (engine/process/management.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import FormInvalid, SendBackRefused
from engine.process import management
from engine.process.management import WITHDRAW_REASONS, Selection
from web.i18n import gettext, ngettext
from web.session import db, me

blueprint = Blueprint("management", __name__)


def _selection() -> Selection:
    source = request.form if request.method == "POST" else request.args
    return Selection(*(source.get(name) or None for name in ("school", "municipality", "region")))


def _back(selection: Selection) -> Response:
    if selection.school:
        return redirect(url_for("dashboards.school", code=selection.school))
    return redirect(url_for("dashboards.matrix", municipality=selection.municipality, region=selection.region))


@blueprint.route("/schools/<code>/withdraw")
@login_required
def withdraw_page(code: str) -> str:
    roadmap = management.school_roadmap(db(), code, actor=me())
    return render_template("manage_withdraw.html", roadmap=roadmap, reasons=WITHDRAW_REASONS)


@blueprint.route("/schools/<code>/withdraw", methods=["POST"])
@login_required
def withdraw(code: str) -> Response:
    try:
        done = management.withdraw_roadmap(db(), code, reason=request.form.get("reason", ""),
                                           comment=request.form.get("comment", ""), actor=me())
    except FormInvalid:
        flash(gettext("Выберите причину из списка; для «другой причины» опишите её в комментарии."), "error")
        return redirect(url_for(".withdraw_page", code=code))
    flash(ngettext("Маршрут снят с проекта; закрыта {n} открытая задача.",
                   "Маршрут снят с проекта; закрыто открытых задач: {n}.", done.tasks_closed), "info")
    return redirect(url_for("dashboards.school", code=code))


@blueprint.route("/roadmaps/<any(suspend, resume):action>")
@login_required
def suspension_page(action: str) -> str:
    selection = _selection()
    roadmaps = management.preview_suspension(db(), selection, resume=action == "resume", actor=me())
    return render_template("manage_suspension.html", action=action, selection=selection, roadmaps=roadmaps)


@blueprint.route("/roadmaps/<any(suspend, resume):action>", methods=["POST"])
@login_required
def suspension(action: str) -> Response:
    selection = _selection()
    reason = request.form.get("reason", "")
    try:
        if action == "suspend":
            done = management.suspend_roadmaps(db(), selection, reason=reason, actor=me())
        else:
            done = management.resume_roadmaps(db(), selection, reason=reason, actor=me())
    except FormInvalid:
        flash(gettext("Укажите причину."), "error")
        return redirect(url_for(".suspension_page", action=action, **_args(selection)))
    text = (ngettext("Приостановлен {n} маршрут.", "Приостановлено маршрутов: {n}.", len(done)) if action == "suspend"
            else ngettext("Возобновлён {n} маршрут.", "Возобновлено маршрутов: {n}.", len(done)))
    flash(text, "info")
    return _back(selection)


def _args(selection: Selection) -> dict[str, Any]:
    return {name: value for name, value in (("school", selection.school), ("municipality", selection.municipality),
                                            ("region", selection.region)) if value}


@blueprint.route("/schools/<code>/curator")
@login_required
def curator_page(code: str) -> str:
    return render_template("manage_curator.html", choice=management.curator_choice(db(), code, actor=me()))


@blueprint.route("/schools/<code>/curator", methods=["POST"])
@login_required
def curator(code: str) -> Response:
    try:
        [done] = management.change_curator(db(), request.form.get("to", ""), school=code,
                                           reason=request.form.get("reason", ""), actor=me())
    except FormInvalid as err:
        flash(" ".join(message for messages in err.errors.values() for message in messages), "error")
        return redirect(url_for(".curator_page", code=code))
    flash(ngettext("Куратор школы — {login}; передана {n} открытая задача куратора.",
                   "Куратор школы — {login}; передано открытых задач куратора: {n}.", done.tasks_moved,
                   login=done.curator), "info")
    return redirect(url_for("dashboards.school", code=code))


@blueprint.route("/schools/<code>/send-back")
@login_required
def send_back_page(code: str) -> str:
    roadmap, targets = management.send_back_targets(db(), code, actor=me())
    return render_template("manage_send_back.html", roadmap=roadmap, targets=targets)


@blueprint.route("/schools/<code>/send-back", methods=["POST"])
@login_required
def send_back(code: str) -> Response:
    try:
        done = management.send_back(db(), code, request.form.get("element", ""), reason=request.form.get("reason", ""),
                                    whole_branch=request.form.get("whole_branch") == "1", actor=me())
    except (FormInvalid, SendBackRefused) as err:
        flash(err.message if isinstance(err, SendBackRefused) else gettext("Укажите причину."), "error")
        return redirect(url_for(".send_back_page", code=code))
    flash(ngettext("Маршрут возвращён; открыта {n} задача.", "Маршрут возвращён; открыто задач: {n}.",
                   len(done.opened_task_ids)), "info")
    return redirect(url_for("dashboards.school", code=code))


@blueprint.route("/schools/<code>/move")
@login_required
def move_page(code: str) -> str:
    roadmap, targets = management.move_targets(db(), code, actor=me())
    return render_template("manage_move.html", roadmap=roadmap, targets=targets)


@blueprint.route("/schools/<code>/move", methods=["POST"])
@login_required
def move(code: str) -> Response:
    try:
        done = management.move_school(db(), code, request.form.get("municipality", ""),
                                      reason=request.form.get("reason", ""), actor=me())
    except FormInvalid:
        flash(gettext("Укажите причину."), "error")
        return redirect(url_for(".move_page", code=code))
    flash(gettext("Школа переведена в муниципалитет {code}.", code=done.to_municipality), "info")
    return redirect(url_for("dashboards.school", code=code))
