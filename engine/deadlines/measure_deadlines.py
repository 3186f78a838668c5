"""A measure's deadline row, acted on by the sweep: the reminder and due notice go to the school, each escalation
step up the chain school → curator → municipal → regional (the manifest's ``levels_up``), with a link to the
school's measures page. Exactly once as every deadline row: the sweep claims the row before acting on it. A row
of a roadmap that is no longer running (completed, cancelled) says nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

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


def act_on_measure(session: Session, row: Deadline, now: datetime, base_url: str) -> MeasureNotice | None:
    """Tell the row's people of the measure, unless it is done, failed or withdrawn meanwhile (its rows are
    closed then; this guards a row claimed in the same moment)."""
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
    levels_up = int((row.payload or {}).get("levels_up", row.step)) if row.kind is DeadlineKind.ESCALATION else 0
    role = escalation_target(Role.SCHOOL, levels_up) if levels_up else Role.SCHOOL
    need = (role, OrgPlace(school.id, school.municipality_id, school.region_id))
    recipients = users_for_many(session, [need]).get(need, [])
    message = _message(row, measure, school, base_url)
    letters = notify(session, recipients, message, now=now, key=f"deadline:{row.id}")
    if row.kind is DeadlineKind.ESCALATION:
        audit.record(session, now, "measure.escalated", instance_id=measure.instance_id, measure=measure.id,
                     level=row.step, notified_role=role.value, notified=[u.login for u in recipients])
    return MeasureNotice(school.code, measure.title, [u.login for u in recipients], letters)


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
