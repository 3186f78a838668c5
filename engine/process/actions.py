"""Engine actions that templates name in their manifest, run when a user task is completed.

Templates cannot carry code; when a step needs the engine to do something beyond the workflow (bind
the curator an official chose, aggregate questionnaire answers), the manifest names one of these.
Each runs inside the completion's transaction and returns data for the workflow, or raises
``FormInvalid`` to send the user back to the form. An action may also offer the form its choices
(``form_choices``): a ``select`` with ``valuesKey`` shows them, and the action still checks the choice.

Who may be made a curator (``bind_curator``): an active user who already curates a school of the same
region, or whom an admin or the regional coordinator put into the region's curator pool — and never a
user of the school itself. A login typed into the form is no authority: without this rule a regional
coordinator's form could make anyone (the school's own account) the school's curator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.bpmn.manifest import TaskAction
from engine.bpmn.spec import TemplateSpec
from engine.errors import FormInvalid
from engine.forms import FormDefinition
from engine.models import (
    CuratorPoolEntry,
    InstanceStatus,
    Municipality,
    ProcessInstance,
    RoleGrant,
    School,
    Task,
    User,
)
from engine.process import report_files
from engine.process.measures import school_measures, track_planned
from engine.process.questionnaires import aggregate_indicators, response_counts
from engine.process.visits import link_report
from engine.roles import Role
from engine.templates.versions import compiled_version


@dataclass(frozen=True)
class ActionContext:
    session: Session
    now: datetime
    actor_id: int
    instance: ProcessInstance
    task: Task
    spec: TemplateSpec
    #: The process data as the task saw it before this submission (what earlier steps decided, e.g. the
    #: school's chosen risk directions): for actions that check a choice against it.
    process_data: Mapping[str, Any] = field(default_factory=dict)


Action = Callable[[ActionContext, Mapping[str, str], Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class CuratorCandidate:
    login: str
    full_name: str
    municipalities: tuple[str, ...]  # where the schools they curate are
    schools: int  # their load: schools they curate whose roadmap is open (running)
    short_name: str = ""  # «Иванова М. П.»; with the login added when two candidates would read alike

    @property
    def label(self) -> str:
        """«Иванова М. П. — Тайгинский ГО, 3 школы»: who, where they already work, how loaded they are."""
        where = ", ".join(self.municipalities) or "пока без школ"
        return f"{self.short_name or self.full_name} — {where}, {schools_word(self.schools)}"


def schools_word(count: int) -> str:
    """«1 школа», «3 школы», «5 школ», «21 школа»."""
    tens, ones = count % 100, count % 10
    word = "школ" if 11 <= tens <= 14 else {1: "школа", 2: "школы", 3: "школы", 4: "школы"}.get(ones, "школ")
    return f"{count} {word}"


def short_name(full_name: str) -> str:
    """«Иванова Марина Петровна» → «Иванова М. П.»; a name not in that shape is left as it is."""
    surname, *given = full_name.split()
    if not given or len(given) > 2 or not all(part[:1].isupper() and part.isalpha() for part in given):
        return full_name
    return " ".join([surname, *(f"{part[0]}." for part in given)])


def _may_curate(school: School) -> list[ColumnElement[bool]]:
    """Conditions on ``User`` for a curator of ``school`` (see the module's docstring)."""
    curates_in_region = (select(RoleGrant.user_id).join(School, School.id == RoleGrant.school_id)
                         .where(RoleGrant.role == Role.CURATOR, School.region_id == school.region_id))
    pooled = select(CuratorPoolEntry.user_id).where(CuratorPoolEntry.region_id == school.region_id)
    of_the_school = select(RoleGrant.user_id).where(RoleGrant.role == Role.SCHOOL, RoleGrant.school_id == school.id)
    return [User.is_active.is_(True), or_(User.id.in_(curates_in_region), User.id.in_(pooled)),
            User.id.not_in(of_the_school)]


def curator_candidates(session: Session, school: School) -> list[CuratorCandidate]:
    """Who may be bound as the school's curator, with where they curate and how many open roadmaps they
    already curate: two queries whatever the number of candidates (the users, then everyone's load).

    Order: those who already curate in the school's municipality first (a curator works at a school
    nearby), then the least loaded, then by name."""
    users = session.execute(select(User.id, User.login, User.full_name).where(*_may_curate(school))).all()
    places: dict[int, set[str]] = {user_id: set() for user_id, _, _ in users}
    load = dict.fromkeys(places, 0)
    open_roadmap = (select(ProcessInstance.id).where(ProcessInstance.school_id == School.id,
                                                     ProcessInstance.status == InstanceStatus.RUNNING).exists())
    query = (select(RoleGrant.user_id, Municipality.name, open_roadmap).join(School, School.id == RoleGrant.school_id)
             .join(Municipality, Municipality.id == School.municipality_id)
             .where(RoleGrant.role == Role.CURATOR, RoleGrant.user_id.in_(list(places))))
    for user_id, municipality, is_open in session.execute(query):
        places[user_id].add(municipality)
        load[user_id] += bool(is_open)
    shorts = {user_id: short_name(name) for user_id, _, name in users}
    alike = Counter(shorts.values())
    found = [CuratorCandidate(login, name, tuple(sorted(places[user_id])), load[user_id],
                              shorts[user_id] if alike[shorts[user_id]] == 1 else f"{shorts[user_id]} ({login})")
             for user_id, login, name in users]
    nearby = school.municipality.name
    return sorted(found, key=lambda c: (nearby not in c.municipalities, c.schools, c.full_name, c.login))


def bind_curator(ctx: ActionContext, params: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """Grant the curator role for this school to the candidate chosen in the form field ``params['field']``."""
    field = params["field"]
    login = data.get(field)
    if not login:
        return {}
    user = ctx.session.scalar(select(User).where(User.login == login, User.is_active.is_(True)))
    if user is None:
        raise FormInvalid({field: [f"Пользователь «{login}» не найден."]})
    school = ctx.instance.school
    if ctx.session.scalar(select(User.id).where(User.id == user.id, *_may_curate(school))) is None:
        raise FormInvalid({field: [_not_a_candidate(ctx.session, user, school)]})
    exists = ctx.session.scalar(select(RoleGrant.id).filter_by(user_id=user.id, role=Role.CURATOR,
                                                               school_id=school.id))
    if exists is None:
        ctx.session.add(RoleGrant(user_id=user.id, role=Role.CURATOR, school_id=school.id))
        audit.record(ctx.session, ctx.now, "org.curator_bound", actor_id=ctx.actor_id,
                     instance_id=ctx.instance.id, task_id=ctx.task.id, curator=login)
    return {"curator": {"login": user.login, "name": user.full_name}}


def _not_a_candidate(session: Session, user: User, school: School) -> str:
    own = session.scalar(select(RoleGrant.id).filter_by(user_id=user.id, role=Role.SCHOOL, school_id=school.id))
    if own is not None:
        return f"«{user.login}» — пользователь этой школы и не может быть её куратором."
    return (f"«{user.login}» не входит в число кандидатов в кураторы региона: выберите куратора из списка. "
            "Кандидата добавляет администратор или региональный координатор.")


def bind_curator_choices(session: Session, task: Task, params: Mapping[str, str],
                         form: FormDefinition) -> dict[str, Any]:
    """The region's candidates, under the ``valuesKey`` of the form's select for ``params['field']``."""
    key = next((f.values_key for f in form.fields if f.key == params["field"] and f.values_key), None)
    if key is None:
        return {}
    return {key: [{"label": c.label, "value": c.login} for c in curator_candidates(session, task.school)]}


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


def track_measures(ctx: ActionContext, params: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """The planned list becomes the school's tracked measures (manifest ``measures``; engine/process/measures.py).
    With ``directions_from``, each measure's risk direction must be one the school chose (FormInvalid by item)."""
    section = ctx.spec.sections.measures
    if section is None:  # the validator requires the section with the action
        return {}
    if section.directions_from and "direction" in section.fields:
        allowed = {str(key) for key in ctx.process_data.get(section.directions_from) or []}
        name = section.fields["direction"]
        errors = {f"{section.list}[{index}].{name}": ["Выберите одно из направлений рисков, выбранных школой."]
                  for index, item in enumerate(data.get(section.list) or [])
                  if isinstance(item, dict) and item.get(name) not in (None, "") and str(item.get(name)) not in allowed}
        if errors:
            raise FormInvalid(errors)
    return {"measures_planned": track_planned(ctx.session, ctx.now, ctx.actor_id, ctx.instance, section, data)}


def count_measures(ctx: ActionContext, params: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """The school's execution of its measures so far, for the evaluation stage's forms and decision rules:
    ``measures_execution`` the percentage (None while nothing is due), ``measures_counts`` the counts."""
    _, _, counts = school_measures(ctx.session, ctx.instance.id, ctx.now)
    return {"measures_execution": counts.percent,
            "measures_counts": {"on_time": counts.on_time, "late": counts.late, "overdue": counts.overdue,
                                "planned": counts.planned}}


def link_visit(ctx: ActionContext, params: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """The curator's visit report links to the nearest open planned visit of its half-year, which is done
    (manifest ``visits``; engine/process/visits.py). ``planned_visit``: that visit's id, None if none was open."""
    section = ctx.spec.sections.visits
    if section is None:  # the validator requires the section with the action
        return {}
    return {"planned_visit": link_report(ctx.session, ctx.now, ctx.instance, ctx.task.id, section, data)}
def attach_school_report(ctx: ActionContext, params: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """The school's «Отчёт о выполнении дорожной карты» (DOCX and PDF) as the task's documents, sent to the
    municipal coordinators (engine/process/report_files.py); the process data gets the documents' ids."""
    rows = report_files.attach(ctx.session, ctx.now, ctx.actor_id, ctx.task, data,
                               params.get("field") or report_files.GENERATED_FIELD)
    report_files.send_to_municipality(ctx.session, ctx.now, ctx.task, rows)
    return {"school_report_files": [row.id for row in rows]}


ACTIONS: dict[str, Action] = {
    "link_visit": link_visit,
    "track_measures": track_measures,
    "attach_school_report": attach_school_report,
    "count_measures": count_measures,
    "bind_curator": bind_curator,
    "aggregate_questionnaires": aggregate_questionnaires,
    "prepare_risk_inputs": prepare_risk_inputs,
}


def direction_choices(session: Session, task: Task, params: Mapping[str, str], form: FormDefinition,
                      data: Mapping[str, Any]) -> dict[str, Any]:
    """The risk directions the school chose (manifest ``measures.directions_from``), titled by the template's risk
    catalogue, under the ``valuesKey`` of the measures list's direction select."""
    spec = compiled_version(session, task.instance.template_version_id).spec
    measures = spec.sections.measures
    if measures is None or not measures.directions_from or "direction" not in measures.fields:
        return {}
    items = next((f.children for f in form.fields if f.key == measures.list), ())
    key = next((f.values_key for f in items if f.key == measures.fields["direction"] and f.values_key), None)
    if key is None:
        return {}
    titles = {factor.key: factor.title for factor in spec.sections.risk_factors}
    return {key: [{"label": titles.get(str(value), str(value)), "value": value}
                  for value in data.get(measures.directions_from) or []]}


#: Actions that offer the form choices: (session, task, the action's params, form, the process data) → data for
#: the form.
Choices = Callable[[Session, Task, Mapping[str, str], FormDefinition, Mapping[str, Any]], dict[str, Any]]
CHOICES: dict[str, Choices] = {"bind_curator": lambda session, task, params, form, _: bind_curator_choices(
    session, task, params, form), "track_measures": direction_choices}
#: What the values an action offers name, by action: a client of the API learns that the field wants a user's
#: login (not free text) and where the allowed ones are. Kinds: ``user`` (a login), ``org_unit`` (a code).
REFERENCES: dict[str, str] = {"bind_curator": "user"}


@dataclass(frozen=True)
class FieldReference:
    field: str
    references: str  # user or org_unit
    values_key: str | None  # the select's valuesKey: its allowed values are ``choices[values_key]``


def form_references(actions: Sequence[TaskAction], form: FormDefinition) -> list[FieldReference]:
    """The form's fields whose values name people or org units, as the task's actions declare them."""
    keys = {f.key: f.values_key for f in form.fields}
    return [FieldReference(action.params["field"], REFERENCES[action.action], keys[action.params["field"]])
            for action in actions if action.action in REFERENCES and action.params.get("field") in keys]


def form_choices(session: Session, task: Task, actions: Sequence[TaskAction], form: FormDefinition,
                 data: Mapping[str, Any]) -> dict[str, Any]:
    """What the task's actions offer its form (option lists by ``valuesKey``), to show with its values."""
    offered: dict[str, Any] = {}
    for action in actions:
        if action.action in CHOICES:
            offered.update(CHOICES[action.action](session, task, action.params, form, data))
    return offered


def run_actions(ctx: ActionContext, actions: Sequence[TaskAction], data: Mapping[str, Any]) -> dict[str, Any]:
    """Run the task's actions in order; each sees the form data plus what earlier ones produced."""
    produced: dict[str, Any] = {}
    for action in actions:
        produced.update(ACTIONS[action.action](ctx, action.params, {**data, **produced}))
    return produced
