"""What a client needs to fill a task's form without outside knowledge: the fields that name a user or an org
unit (marked in the form definition, with the allowed values for the caller) and the template's cross-field
rules, so it can check before it submits. The engine's ``get_task`` says both; the submission checks them again."""

from __future__ import annotations

import copy
from typing import Any

from flask import url_for

from engine.errors import NotFound
from engine.process import tasks
from engine.process.tasks import TaskDetail
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import ChoiceOut, Problem
from web.session import db

blp = Blueprint("api_task_forms", __name__, url_prefix="/api/v1/tasks", description="Tasks on my desk")
blueprints = [blp]


def described_form(detail: TaskDetail) -> dict[str, Any]:
    """The form-js definition, each field that names a user or an org unit marked with ``x-references``
    (``user``: a login; ``org_unit``: a code), ``x-choices`` (the key of its values in the task's ``choices``)
    and ``x-choices-url`` (the endpoint listing the allowed values for the caller); each select whose options the
    engine supplies (``valuesKey``) with ``x-allowed-values``, the values a submission may carry (e.g. a measure's
    risk direction: one of the directions the school chose)."""
    form = copy.deepcopy(detail.form)
    marks = {ref.field: ref for ref in detail.references}
    for component in _components(form):
        supplied = component.get("valuesKey")
        if isinstance(supplied, str) and isinstance(detail.choices.get(supplied), list):
            component["x-allowed-values"] = [c["value"] for c in detail.choices[supplied] if isinstance(c, dict)]
        ref = marks.get(component.get("key"))  # type: ignore[arg-type]
        if ref is not None:
            component["x-references"] = ref.references
            component["x-choices"] = ref.values_key
            component["x-choices-url"] = url_for("api_task_forms.choices", task_id=detail.task.id, field=ref.field)
    return form


def _components(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for component in node.get("components") or []:
        if isinstance(component, dict):
            found += [component, *_components(component)]
    return found


def rules_of(detail: TaskDetail) -> list[dict[str, str]]:
    return [{"field": rule.field, "check": rule.check, "message": rule.message} for rule in detail.rules]


@blp.route("/<id:task_id>/choices/<field>")
@blp.response(200, ChoiceOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def choices(task_id: int, field: str) -> Any:
    """The values a field that names a user or an org unit accepts from me (label and value: send the value),
    in the order the engine suggests them (for the curator: nearby first, then the fewest open roadmaps). 404
    for a field that names nobody; empty for someone who may only look at the task."""
    detail = tasks.get_task(db(), task_id, actor=api_login())
    ref = next((r for r in detail.references if r.field == field), None)
    if ref is None:
        raise NotFound(f"поле «{field}» этой задачи не ссылается на пользователей или подразделения")
    return detail.choices.get(ref.values_key or "", [])
