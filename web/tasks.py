"""My tasks, one task's page (form, documents, history), notifications."""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from engine.config import Settings
from engine.errors import EngineError, FormInvalid, NotAllowed, OrgUnitNotFound, StepFailed
from engine.process import attachments, measures, notifications, tasks
from engine.reports.admin_home import admin_home
from engine.reports.dashboards import school_timeline
from web import inbox_filters
from web.i18n import gettext
from web.inputs import posted_form_data
from web.session import db, me

blueprint = Blueprint("tasks", __name__)
#: Rows per inbox page; the next ones come by a cursor link (SQL reads the page, never the whole list).
INBOX_PAGE = 50


@blueprint.app_template_filter("runs")
def runs(events: Iterable[Any]) -> list[tuple[Any, int]]:
    """Consecutive history entries of the same event, task and person as one (the first) with their count."""
    grouped: list[tuple[Any, int]] = []
    for event in events:
        if grouped and _same(grouped[-1][0], event):
            grouped[-1] = (grouped[-1][0], grouped[-1][1] + 1)
        else:
            grouped.append((event, 1))
    return grouped


def _same(one: Any, other: Any) -> bool:
    return bool((one.action, one.task, one.actor) == (other.action, other.task, other.actor))


@blueprint.app_context_processor
def unread_count() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {}
    # Read with the signed-in user when the request began; marking read redirects to a new request.
    return {"unread": current_user.user.unread, "now": db().now()}


@blueprint.route("/")
@login_required
def inbox() -> str | Response:
    """My tasks, filtered as the query string says; without one, as this browser last filtered them."""
    if "reset" in request.args:
        response = redirect(url_for("tasks.inbox"))
        inbox_filters.forget(response)
        return response
    if not request.args and (saved := inbox_filters.remembered(request.cookies, me())):
        return redirect(f"{url_for('tasks.inbox')}?{saved}")
    filters = inbox_filters.parse(request.args)
    after = inbox_filters.cursor(request.args)
    page = tasks.task_page(db(), actor=me(), limit=INBOX_PAGE, after=after, **filters)
    found = page.tasks
    if not request.args and not found and current_user.user.is_admin:
        # Not an empty inbox: an admin's work is elsewhere (templates, incidents, users). Shown here rather
        # than redirected, so "/" stays a page of its own for every user.
        return render_template("admin_home.html", home=admin_home(db(), actor=me()))
    query = inbox_filters.query_string(filters)
    # A school's late measures are named first when no task is late: the roadmap is its work too.
    late_measures = measures.my_late_measures(db(), actor=me()) \
        if not query and "school" in current_user.user.roles else {}
    response = make_response(render_template("inbox.html", tasks=found, filters=filters, filtered=bool(query),
                                             late_measures=late_measures, next_cursor=page.next_cursor,
                                             first_page=not after, query=query))
    if request.args:
        inbox_filters.remember(response, me(), query, secure=request.is_secure)
    return response


def _page(task_id: int, *, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
          status: int = 200) -> tuple[str, int]:
    detail = tasks.get_task(db(), task_id, actor=me())
    documents = attachments.for_task(db(), task_id, actor=me())
    timeline = school_timeline(db(), detail.task.school_code, actor=me())
    fields = attachments.document_fields_of(detail.form)
    # The form's data: its values, and the option lists its selects read by valuesKey (never submitted).
    shown = {**(values if values is not None else detail.values), **detail.choices}
    page = render_template("task.html", detail=detail, values=shown, errors=errors or {}, documents=documents,
                           timeline=timeline, document_fields=fields, context=detail.context)
    return page, status


@blueprint.route("/tasks/<id:task_id>")
@login_required
def task(task_id: int) -> tuple[str, int]:
    return _page(task_id)


@blueprint.route("/tasks/<id:task_id>", methods=["POST"])
@login_required
def submit(task_id: int) -> tuple[str, int] | Response:
    data = posted_form_data() if request.form.get("data") is not None else {}
    try:
        if request.form.get("action") == "draft":
            tasks.save_draft(db(), task_id, data, actor=me())
            flash(gettext("Черновик сохранён."), "info")
            return redirect(url_for("tasks.task", task_id=task_id))
        done = tasks.complete_task(db(), task_id, data, actor=me())
    except FormInvalid as err:
        flash(gettext("Форма заполнена с ошибками — исправьте отмеченные поля."), "error")
        return _page(task_id, values=data, errors=err.errors, status=422)
    except StepFailed as err:
        flash(err.message, "error")  # the data is the task's draft now: the page shows it again
        return redirect(url_for("tasks.task", task_id=task_id))
    message = gettext("Задача выполнена.")
    if done.instance_completed:
        message += " " + gettext("Маршрут школы завершён.")
    if done.incident_id is not None:
        flash(message + " " + gettext("Данные сохранены, но следующий шаг маршрута не выполнился. Администраторы "
                                        "видят эту ошибку и исправят её; повторять ничего не нужно."), "error")
        return redirect(url_for("tasks.inbox"))
    flash(message, "info")
    return redirect(url_for("tasks.inbox"))


@blueprint.route("/tasks/<id:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int) -> Response:
    tasks.claim_task(db(), task_id, actor=me())
    flash(gettext("Задача взята в работу."), "info")
    return redirect(url_for("tasks.task", task_id=task_id))


@blueprint.route("/tasks/<id:task_id>/release", methods=["POST"])
@login_required
def release(task_id: int) -> Response:
    tasks.release_task(db(), task_id, actor=me())
    flash(gettext("Задача возвращена в общий список: её может взять любой исполнитель."), "info")
    return redirect(url_for("tasks.task", task_id=task_id))


@blueprint.route("/tasks/<id:task_id>/handover", methods=["POST"])
@login_required
def hand_over(task_id: int) -> Response:
    to = request.form.get("to", "").strip()
    if not to:
        flash(gettext("Выберите, кому передать задачу."), "error")
        return redirect(url_for("tasks.task", task_id=task_id))
    try:  # someone who may not take the task, or no longer exists: said on the task's page
        done = tasks.reassign_task(db(), task_id, to, actor=me(), base_url=Settings.from_env().base_url)
    except (NotAllowed, OrgUnitNotFound) as err:
        flash(err.message, "error")
        return redirect(url_for("tasks.task", task_id=task_id))
    flash(gettext("Задача передана: {name}.", name=done.assignee_name or to), "info")
    return redirect(url_for("tasks.task", task_id=task_id))


@blueprint.route("/tasks/<id:task_id>/documents", methods=["POST"])
@login_required
def upload(task_id: int) -> tuple[str, int] | Response:
    file = request.files.get("file")
    field = request.form.get("field", "")
    try:  # no early return for a missing file: the service authorizes first, then says the file is empty
        saved = attachments.upload(db(), task_id, field, file.filename or "" if file else "",
                                   file.read() if file else b"", actor=me())
    except FormInvalid as err:
        flash(" ".join(m for messages in err.errors.values() for m in messages), "error")
        return _page(task_id, status=422)
    except EngineError as err:
        flash(err.message, "error")
        return _page(task_id, status=400)
    flash(gettext("Документ «{filename}» загружен (версия {version}).", filename=saved.filename,
                  version=saved.version), "info")
    return redirect(url_for("tasks.task", task_id=task_id))


@blueprint.route("/documents/<id:attachment_id>")
@login_required
def download(attachment_id: int) -> Response:
    view, content = attachments.download(db(), attachment_id, actor=me())
    return send_file(BytesIO(content), mimetype=view.content_type, as_attachment=True, download_name=view.filename)


@blueprint.route("/notifications")
@login_required
def notifications_page() -> str:
    items, unread = notifications.list_notifications(db(), limit=200, actor=me())
    return render_template("notifications.html", items=items, unread_here=unread)


@blueprint.route("/notifications/read", methods=["POST"])
@login_required
def mark_read() -> Response:
    notifications.mark_read(db(), actor=me())
    return redirect(url_for("tasks.notifications_page"))
