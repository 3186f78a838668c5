"""Engine actions that templates name in their manifest, run when a user task is completed.

Templates cannot carry code; when a step needs the engine to do something beyond the workflow (bind
the curator an official chose, aggregate questionnaire answers), the manifest names one of these.
Each runs inside the completion's transaction and returns data for the workflow, or raises
``FormInvalid`` to send the user back to the form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.bpmn.manifest import TaskAction
from engine.bpmn.spec import TemplateSpec
from engine.errors import FormInvalid
from engine.models import ProcessInstance, RoleGrant, Task, User
from engine.questionnaires import aggregate_indicators, response_counts
from engine.roles import Role


@dataclass(frozen=True)
class ActionContext:
    session: Session
    now: datetime
    actor_id: int
    instance: ProcessInstance
    task: Task
    spec: TemplateSpec


Action = Callable[[ActionContext, Mapping[str, str], Mapping[str, Any]], dict[str, Any]]


def bind_curator(ctx: ActionContext, params: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """Grant the curator role for this school to the user named in the form field ``params['field']``."""
    field = params["field"]
    login = data.get(field)
    if not login:
        return {}
    user = ctx.session.scalar(select(User).where(User.login == login, User.is_active.is_(True)))
    if user is None:
        raise FormInvalid({field: [f"Пользователь «{login}» не найден."]})
    school_id = ctx.instance.school_id
    exists = ctx.session.scalar(select(RoleGrant.id).filter_by(user_id=user.id, role=Role.CURATOR,
                                                               school_id=school_id))
    if exists is None:
        ctx.session.add(RoleGrant(user_id=user.id, role=Role.CURATOR, school_id=school_id))
        audit.record(ctx.session, ctx.now, "org.curator_bound", actor_id=ctx.actor_id,
                     instance_id=ctx.instance.id, task_id=ctx.task.id, curator=login)
    return {"curator": {"login": user.login, "name": user.full_name}}


def aggregate_questionnaires(ctx: ActionContext, params: Mapping[str, str],
                             data: Mapping[str, Any]) -> dict[str, Any]:
    """Response counts per respondent group and every declared indicator, into the process data."""
    indicators = ctx.spec.sections.indicators.values()
    return {"responses": response_counts(ctx.session, ctx.instance.id),
            "indicators": aggregate_indicators(ctx.session, ctx.instance.id, indicators)}


def prepare_risk_inputs(ctx: ActionContext, params: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """One input per factor of the template's risk catalogue, for the decision table to rate."""
    indicators = data.get("indicators") or {}
    factors = ctx.spec.sections.risk_factors
    return {
        "risk_inputs": [{"factor": f.key, "title": f.title, "value": indicators.get(f.indicator)} for f in factors],
        "risk_titles": {f.key: f.title for f in factors},
        "risk_catalogue_version": ctx.spec.sections.risk_catalogue_version,
    }


ACTIONS: dict[str, Action] = {
    "bind_curator": bind_curator,
    "aggregate_questionnaires": aggregate_questionnaires,
    "prepare_risk_inputs": prepare_risk_inputs,
}


def run_actions(ctx: ActionContext, actions: Sequence[TaskAction], data: Mapping[str, Any]) -> dict[str, Any]:
    """Run the task's actions in order; each sees the form data plus what earlier ones produced."""
    produced: dict[str, Any] = {}
    for action in actions:
        produced.update(ACTIONS[action.action](ctx, action.params, {**data, **produced}))
    return produced
