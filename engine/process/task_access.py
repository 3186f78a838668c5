"""Who may touch a task, and which form it has: shared by task, attachment and questionnaire services."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.errors import NotAllowed
from engine.forms import FormDefinition
from engine.models import Task
from engine.org.core import Actor
from engine.org.scopes import OrgPlace
from engine.roles import Role
from engine.templates.versions import compiled_version


def place_of_task(task: Task) -> OrgPlace:
    return OrgPlace(task.school_id, task.municipality_id, task.region_id)


def may_open(actor: Actor, role: Role, place: OrgPlace) -> bool:
    """May the actor open the page of a task of ``role`` at the school at ``place``: act on it, or oversee the
    school (coordinators see it read-only). Pages link a task only when this holds (``tasks.get_task``'s rule)."""
    return actor.scope.can_act(role, place) or actor.scope.oversees(place)


def authorize(actor: Actor, task: Task) -> None:
    if not actor.scope.can_act(task.role, place_of_task(task)):
        raise NotAllowed("эта задача вне вашей зоны ответственности")
    if task.assignee_id is not None and task.assignee_id != actor.user_id:
        raise NotAllowed("задача закреплена за другим исполнителем")


def form_of(session: Session, task: Task) -> FormDefinition:
    return compiled_version(session, task.instance.template_version_id).form(task.form_key)
