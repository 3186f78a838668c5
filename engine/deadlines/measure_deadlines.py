"""A measure's deadline row, acted on by the sweep: the reminder and due notice go to the school, each escalation
step up the chain school → curator → municipal → regional (the manifest's ``levels_up``), with a link to the
school's measures page. Exactly once as every deadline row: the sweep claims the row before acting on it. A row
of a roadmap that is no longer running (completed, cancelled) says nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from engine import audit
from engine.bpmn.manifest import MeasuresSection
from engine.models import (
    Deadline,
    DeadlineKind,
    InstanceStatus,
    Measure,
    OutboxMessage,
    ProcessInstance,
    School,
    TemplateVersion,
    User,
)
from engine.org.core import users_for_many
from engine.org.scopes import OrgPlace
from engine.process.notifications import Message, notify
from engine.roles import Role, escalation_target
from engine.templates.versions import compiled_version


@dataclass(frozen=True)
class MeasureNotice:
    school_code: str
    title: str
    recipients: list[str]
    letters: list[OutboxMessage]


@dataclass(frozen=True)
class _Audience:
    measure: Measure
    school: School
    role: Role
    recipients: list[str]


def _audience(session: Session, row: Deadline, users: Mapping[tuple[Role, OrgPlace], list[User]] | None = None
              ) -> tuple[_Audience, list[User]] | None:
    """Whom the row tells of its measure, or None when nothing is to be said: the measure is done, failed or
    withdrawn meanwhile (its rows are closed then; this guards a row claimed in the same moment), or its roadmap
    no longer runs. ``users``: the recipients the sweep's batch loaded for ``measure_need``
    (``preload_measures``), else they are looked up here."""
    measure = session.get(Measure, row.measure_id)
    if measure is None or measure.withdrawn_at is not None:
        return None
    instance = session.get(ProcessInstance, measure.instance_id)
    school = session.get(School, measure.school_id)
    assert instance is not None and school is not None
    if instance.status is not InstanceStatus.RUNNING:  # a roadmap completed or cancelled reminds of nothing
        return None
    section: MeasuresSection | None = compiled_version(session, instance.template_version_id).spec.sections.measures
    status = section.status(measure.status) if section is not None else None
    if status is not None and status.outcome:
        return None
    need = measure_need(row, school)
    found = users[need] if users is not None and need in users else users_for_many(session, [need]).get(need, [])
    return _Audience(measure, school, need[0], [u.login for u in found]), found


def preview_measure(session: Session, row: Deadline) -> MeasureNotice | None:
    """What :func:`act_on_measure` would say and to whom, writing nothing (the sweep's preview)."""
    found = _audience(session, row)
    if found is None:
        return None
    audience = found[0]
    return MeasureNotice(audience.school.code, audience.measure.title, audience.recipients, [])


def act_on_measure(session: Session, row: Deadline, now: datetime, base_url: str,
                   users: Mapping[tuple[Role, OrgPlace], list[User]] | None = None) -> MeasureNotice | None:
    """Tell the row's people of the measure, unless there is nothing to say (:func:`_audience`)."""
    found = _audience(session, row, users)
    if found is None:
        return None
    audience, recipients = found
    measure = audience.measure
    letters = notify(session, recipients, _message(row, measure, audience.school, base_url), now=now,
                     key=f"deadline:{row.id}")
    if row.kind is DeadlineKind.ESCALATION:
        audit.record(session, now, "measure.escalated", instance_id=measure.instance_id, measure=measure.id,
                     level=row.step, notified_role=audience.role.value, notified=audience.recipients)
    return MeasureNotice(audience.school.code, measure.title, audience.recipients, letters)


def measure_need(row: Deadline, school: School) -> tuple[Role, OrgPlace]:
    """Who a measure's row speaks to: the school, or the level ``levels_up`` above it."""
    levels_up = int((row.payload or {}).get("levels_up", row.step)) if row.kind is DeadlineKind.ESCALATION else 0
    role = escalation_target(Role.SCHOOL, levels_up) if levels_up else Role.SCHOOL
    return role, OrgPlace(school.id, school.municipality_id, school.region_id)


@dataclass
class MeasuresOfBatch:
    """What ``preload_measures`` loaded. The session holds its objects only weakly: the batch keeps this so that
    ``act_on_measure``'s ``session.get`` finds them instead of asking the database again."""

    needs: list[tuple[Role, OrgPlace]]
    loaded: list[object]


def preload_measures(session: Session, rows: Iterable[Deadline]) -> MeasuresOfBatch:
    """Load the measures of a sweep batch's rows, their roadmaps' states, template versions and schools in four
    queries, and say who the rows speak to. Row by row it was four to six queries a row: 25 of the 44 s a sweep
    of 1,000 national rows took went to its 400 measure rows (bench/national_year.py on a busy shared machine,
    docs/performance.md)."""
    rows = [row for row in rows if row.measure_id is not None]
    if not rows:
        return MeasuresOfBatch([], [])
    measures = {m.id: m for m in session.scalars(select(Measure).where(Measure.id.in_({r.measure_id for r in rows})))}
    # Only what act_on_measure reads of the roadmap: not its workflow document.
    instances = list(session.scalars(select(ProcessInstance).options(load_only(
        ProcessInstance.status, ProcessInstance.template_version_id)).where(
        ProcessInstance.id.in_({m.instance_id for m in measures.values()}))))
    versions = list(session.scalars(select(TemplateVersion).where(
        TemplateVersion.id.in_({i.template_version_id for i in instances}))))
    schools = {s.id: s for s in session.scalars(select(School).where(
        School.id.in_({m.school_id for m in measures.values()})))}
    needs = [measure_need(row, schools[measures[row.measure_id].school_id]) for row in rows
             if row.measure_id in measures]
    return MeasuresOfBatch(needs, [*measures.values(), *instances, *versions, *schools.values()])


def _message(row: Deadline, measure: Measure, school: School, base_url: str) -> Message:
    where = f"{school.name} ({school.code})"
    due = f"{measure.due_date:%d.%m.%Y}"
    link = f"{base_url.rstrip('/')}/schools/{school.code}/measures" if base_url else f"/schools/{school.code}/measures"
    if row.kind is DeadlineKind.REMINDER:
        return Message("reminder", f"Напоминание: срок мероприятия «{measure.title}» — {due}",
                       f"Школа: {where}.\nМероприятие дорожной карты «{measure.title}» должно быть выполнено до {due} "
                       f"(ответственный: {measure.responsible}).", link)
    if row.kind is DeadlineKind.DUE:
        return Message("due", f"Срок мероприятия «{measure.title}» наступил",
                       f"Школа: {where}.\nСрок мероприятия «{measure.title}» — {due} — наступил; оно не отмечено "
                       "выполненным.", link)
    return Message("escalation", f"Просрочено мероприятие «{measure.title}» (уровень {row.step}): {where}",
                   f"Школа: {where}.\nМероприятие дорожной карты «{measure.title}» не выполнено в срок {due} "
                   f"(ответственный: {measure.responsible}). Уровень эскалации: {row.step}.", link)
