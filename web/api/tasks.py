"""Tasks: my tasks, one task with its form, save a draft, complete, claim, release, hand over."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from engine.config import Settings
from engine.process import task_context, tasks
from web.api.auth import PreconditionFailed, api_login
from web.api.blueprint import Blueprint
from web.api.forms import described_form, rules_of
from web.api.paging import paged, sql_paging
from web.api.schemas import (
    AreaTaskQuery,
    ColleagueOut,
    CompletedOut,
    FormData,
    Problem,
    Reassign,
    TaskDetailOut,
    TaskListQuery,
    TaskOut,
)
from web.session import db

blp = Blueprint("api_tasks", __name__, url_prefix="/api/v1/tasks", description="Tasks on my desk")
blueprints = [blp]


def _check_version(task_id: int) -> None:
    """If-Match with the instance version seen: refuse to act on a task whose process has moved on."""
    expected = request.headers.get("If-Match", "").strip('"W/ ')
    if expected and expected != str(tasks.instance_version(db(), task_id, actor=api_login())):
        raise PreconditionFailed("процесс изменился с момента чтения задачи (If-Match не совпал)")


@blp.route("")
class TaskList(MethodView):
    @blp.arguments(TaskListQuery, location="query")
    @blp.response(200, TaskOut(many=True))
    @blp.alt_response(401, schema=Problem)
    @blp.alt_response(422, schema=Problem)
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """Tasks I may act on now, most urgent first (filters: stage, school, overdue, search, deadlines,
        assignee); pages by `page` or, exact while tasks are being completed, by the cursor `after`."""
        paging = sql_paging(query, pagination_parameters)
        return paged(tasks.task_page(db(), actor=api_login(), **paging, **query), pagination_parameters)


@blp.route("/area")
@blp.arguments(AreaTaskQuery, location="query")
@blp.response(200, TaskOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
@blp.paginate()
def area_tasks(query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
    """Open tasks of everyone in an area I oversee (coordinators; default: my widest area), nearest deadline
    first; pages as `GET /tasks`."""
    paging = sql_paging(query, pagination_parameters)
    return paged(tasks.area_task_page(db(), actor=api_login(), **paging, **query), pagination_parameters)


@blp.route("/<id:task_id>")
class TaskItem(MethodView):
    @blp.response(200, TaskDetailOut)
    @blp.alt_response(404, schema=Problem)
    def get(self, task_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A task with its form definition (fields naming a user or an org unit marked `x-references`, with
        `x-choices` and `x-choices-url`), the template's cross-field `rules`, current values, the context its
        decision needs (the panels its template declares) and the instance version (also as ETag)."""
        detail = tasks.get_task(db(), task_id, actor=api_login())
        version = tasks.instance_version(db(), task_id, actor=api_login())
        payload = {"task": detail.task, "form": described_form(detail), "rules": rules_of(detail),
                   "values": detail.values, "choices": detail.choices,
                   "context": [task_context.panel_data(panel) for panel in detail.context.panels], "version": version}
        return payload, 200, {"ETag": f'"{version}"'}


@blp.route("/<id:task_id>/draft", methods=["PUT"])
@blp.arguments(FormData)
@blp.response(204)
@blp.alt_response(422, schema=Problem)
def save_draft(body: dict[str, Any], task_id: int) -> None:
    """Keep partly filled form data (every given value must be valid)."""
    tasks.save_draft(db(), task_id, body["data"], actor=api_login())


@blp.route("/<id:task_id>/complete", methods=["POST"])
@blp.arguments(FormData)
@blp.response(200, CompletedOut)
@blp.alt_response(409, schema=Problem)
@blp.alt_response(412, schema=Problem)
@blp.alt_response(422, schema=Problem)
def complete(body: dict[str, Any], task_id: int) -> Any:
    """Complete the task with its form data; 409 if somebody completed it first, 412 on a stale If-Match."""
    _check_version(task_id)
    return tasks.complete_task(db(), task_id, body["data"], actor=api_login())


@blp.route("/<id:task_id>/claim", methods=["POST"])
@blp.response(200, TaskOut)
@blp.alt_response(409, schema=Problem)
def claim(task_id: int) -> Any:
    """Take the task into work."""
    return tasks.claim_task(db(), task_id, actor=api_login())


@blp.route("/<id:task_id>/release", methods=["POST"])
@blp.response(200, TaskOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(409, schema=Problem)
def release(task_id: int) -> Any:
    """Return the task to the common list (its assignee, or a coordinator over the school)."""
    return tasks.release_task(db(), task_id, actor=api_login())


@blp.route("/<id:task_id>/candidates")
@blp.response(200, ColleagueOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.alt_response(409, schema=Problem)
def candidates(task_id: int) -> Any:
    """Whom I may hand the task over to: the others who hold its role for its school, by name."""
    return tasks.handover_candidates(db(), task_id, actor=api_login())


@blp.route("/<id:task_id>/reassign", methods=["POST"])
@blp.arguments(Reassign)
@blp.response(200, TaskOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def reassign(body: dict[str, Any], task_id: int) -> Any:
    """Hand the task to another user who may act on it (they are notified), or release it with `to: null`.

    403 if I may not hand it over or the user may not act on it; 404 for an unknown user."""
    return tasks.reassign_task(db(), task_id, body["to"], actor=api_login(), base_url=Settings.from_env().base_url)
