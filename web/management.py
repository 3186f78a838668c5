"""«Управление маршрутом»: withdraw a school's roadmap, suspend and resume roadmaps of a school, a
municipality or a region. Each action has a confirmation page that states the consequences before
anything happens; the engine authorizes and audits (engine/process/management.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine import labels
from engine.errors import Conflict, FormInvalid, SendBackRefused
from engine.process import batches, management, merges
from engine.process.management import WITHDRAW_REASONS, Selection
from engine.templates.versions import all_stage_titles
from web.api.management import batch_params
from web.i18n import gettext, ngettext
from web.session import db, me, queue
from workers import jobs

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


# --- batch operations -----------------------------------------------------------------------------------

_BATCH_FIELDS = ("operation", "region", "municipality", "stage", "overdue", "reason", "comment", "to", "from_login",
                 "element", "whole_branch", "target_municipality")


def _batch_form() -> dict[str, Any]:
    source = request.form if request.method == "POST" else request.args
    form: dict[str, Any] = {name: (source.get(name) or "").strip() for name in _BATCH_FIELDS}
    form["overdue"] = source.get("overdue") == "1"
    form["whole_branch"] = source.get("whole_branch") == "1"
    return form


def _batch_filter(form: dict[str, Any]) -> batches.BatchFilter:
    return batches.BatchFilter(form["region"] or None, form["municipality"] or None, form["stage"] or None,
                               form["overdue"])


@blueprint.route("/roadmaps/batches")
@login_required
def batches_page() -> str:
    """The filter and the operation; once both are chosen, the schools they pick (before any dry run)."""
    form = _batch_form()
    picked, problem = None, None
    if form["operation"] and (form["region"] or form["municipality"]):
        try:
            picked = batches.select_schools(db(), form["operation"], _batch_filter(form), actor=me())
        except FormInvalid as err:
            problem = " ".join(m for messages in err.errors.values() for m in messages)
    return render_template("manage_batches.html", form=form, picked=picked, problem=problem,
                           operations=batches.OPERATIONS, reasons=WITHDRAW_REASONS,
                           stages=all_stage_titles(db(), preferred="roadmap-500"),
                           runs=batches.list_batches(db(), actor=me()), run_words=labels.BATCH_RUNS)


@blueprint.route("/roadmaps/batches", methods=["POST"])
@login_required
def batch_start() -> Response:
    """The dry run: recorded, run in the background; its page shows each school's verdict and then asks."""
    form = _batch_form()
    try:
        run = batches.start_batch(db(), form["operation"], batch_params(form), _batch_filter(form), actor=me(),
                                  dry_run=True)
    except (FormInvalid, Conflict) as err:
        words = err.message if isinstance(err, Conflict) else " ".join(
            m for messages in err.errors.values() for m in messages)
        flash(words, "error")
        return redirect(url_for(".batches_page", **{k: v for k, v in form.items() if v}))
    queue().enqueue(jobs.run_batch, run.id)
    return redirect(url_for(".batch_run", run_id=run.id))


@blueprint.route("/roadmaps/batches/<id:run_id>/confirm", methods=["POST"])
@login_required
def batch_confirm(run_id: int) -> Response:
    """The run itself, over the schools the dry run said it would be done for (the page named them)."""
    run = batches.confirm_batch(db(), run_id, actor=me())
    queue().enqueue(jobs.run_batch, run.id)
    return redirect(url_for(".batch_run", run_id=run.id))


@blueprint.route("/roadmaps/batches/<id:run_id>/resume", methods=["POST"])
@login_required
def batch_resume(run_id: int) -> Response:
    batches.resume_batch(db(), run_id, actor=me())
    queue().enqueue(jobs.run_batch, run_id)
    return redirect(url_for(".batch_run", run_id=run_id))


@blueprint.route("/roadmaps/batches/<id:run_id>")
@login_required
def batch_run(run_id: int) -> str:
    return render_template("manage_batch_run.html", run=batches.get_batch(db(), run_id, actor=me()),
                           operations=batches.OPERATIONS, run_words=labels.BATCH_RUNS)


@blueprint.route("/roadmaps/batches/<id:run_id>.json")
@login_required
def batch_progress(run_id: int) -> Response:
    run = batches.get_batch(db(), run_id, actor=me())
    return jsonify({"id": run.id, "status": run.status, "total": run.total, "done": run.done, "moved": run.done,
                    "failed": run.failed, "processed": run.processed, "finished": run.finished,
                    "interrupted": run.interrupted})


# --- merging two schools --------------------------------------------------------------------------------


@blueprint.route("/schools/<code>/merge")
@login_required
def merge_page(code: str) -> str:
    school, candidates = merges.merge_candidates(db(), code, actor=me())
    return render_template("manage_merge.html", school=school, candidates=candidates,
                           into=request.args.get("into", ""),
                           stages=all_stage_titles(db(), preferred="roadmap-500"))


@blueprint.route("/schools/<code>/merge", methods=["POST"])
@login_required
def merge(code: str) -> Response:
    into = request.form.get("into", "").strip()
    try:
        done = merges.merge_schools(db(), code, into, reason=request.form.get("reason", ""), actor=me())
    except (FormInvalid, Conflict) as err:
        words = err.message if isinstance(err, Conflict) else " ".join(
            m for messages in err.errors.values() for m in messages)
        flash(words, "error")
        return redirect(url_for(".merge_page", code=code, into=into))
    flash(gettext("Школа {code} присоединена к школе {into}.", code=done.absorbed, into=done.survivor), "info")
    return redirect(url_for("dashboards.school", code=done.survivor))
