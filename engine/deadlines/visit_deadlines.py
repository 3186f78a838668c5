"""A planned visit's deadline row, acted on by the sweep: the reminder goes to the school's curator, each
escalation step (the visit's day passed, not done) up the chain curator → municipal → regional (the manifest's
``visits.escalation`` ``levels_up``), with a link to the school's visits page. Exactly once as every deadline
row: the sweep claims the row before acting on it. A visit done or cancelled meanwhile, or of a roadmap no
longer running, says nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engine import audit
from engine.models import (
    Deadline,
    DeadlineKind,
    InstanceStatus,
    OutboxMessage,
    PlannedVisit,
    ProcessInstance,
    School,
    User,
    VisitStatus,
)
from engine.org.core import users_for_many
from engine.org.scopes import OrgPlace
from engine.process.notifications import Message, notify
from engine.roles import Role, escalation_target


@dataclass(frozen=True)
class VisitNotice:
    school_code: str
    title: str
    recipients: list[str]
    letters: list[OutboxMessage]


@dataclass(frozen=True)
class _Audience:
    visit: PlannedVisit
    school: School
    role: Role
    recipients: list[str]

    @property
    def title(self) -> str:
        return f"Посещение {self.visit.planned_on:%d.%m.%Y}"


def _audience(session: Session, row: Deadline) -> tuple[_Audience, list[User]] | None:
    """Whom the row tells of its visit, or None: the visit is done or cancelled, or its roadmap no longer runs."""
    visit = session.get(PlannedVisit, row.visit_id)
    if visit is None or visit.status is not VisitStatus.PLANNED:
        return None
    instance = session.get(ProcessInstance, visit.instance_id)
    school = session.get(School, visit.school_id)
    assert instance is not None and school is not None
    if instance.status is not InstanceStatus.RUNNING:
        return None
    levels_up = int((row.payload or {}).get("levels_up", row.step)) if row.kind is DeadlineKind.ESCALATION else 0
    role = escalation_target(Role.CURATOR, levels_up) if levels_up else Role.CURATOR
    need = (role, OrgPlace(school.id, school.municipality_id, school.region_id))
    users = users_for_many(session, [need]).get(need, [])
    return _Audience(visit, school, role, [u.login for u in users]), users


def preview_visit(session: Session, row: Deadline) -> VisitNotice | None:
    """What :func:`act_on_visit` would say and to whom, writing nothing (the sweep's preview)."""
    found = _audience(session, row)
    if found is None:
        return None
    audience = found[0]
    return VisitNotice(audience.school.code, audience.title, audience.recipients, [])


def act_on_visit(session: Session, row: Deadline, now: datetime, base_url: str) -> VisitNotice | None:
    found = _audience(session, row)
    if found is None:
        return None
    audience, users = found
    visit = audience.visit
    letters = notify(session, users, _message(row, visit, audience.school, base_url), now=now,
                     key=f"deadline:{row.id}")
    if row.kind is DeadlineKind.ESCALATION:
        audit.record(session, now, "visit.escalated", instance_id=visit.instance_id, visit=visit.id, level=row.step,
                     notified_role=audience.role.value, notified=audience.recipients)
    return VisitNotice(audience.school.code, audience.title, audience.recipients, letters)


def _message(row: Deadline, visit: PlannedVisit, school: School, base_url: str) -> Message:
    where = f"{school.name} ({school.code})"
    day = f"{visit.planned_on:%d.%m.%Y}"
    link = f"{base_url.rstrip('/')}/schools/{school.code}/visits" if base_url else f"/schools/{school.code}/visits"
    if row.kind is DeadlineKind.REMINDER:
        return Message("reminder", f"Напоминание: посещение школы {school.code} — {day}",
                       f"Школа: {where}.\nПо графику посещений куратор посещает школу {day}. После посещения "
                       "заполните отчёт о посещении.", link)
    return Message("escalation", f"Посещение школы не проведено (уровень {row.step}): {where}",
                   f"Школа: {where}.\nПосещение куратора, запланированное на {day}, не проведено: отчёт о "
                   f"посещении не подан. Уровень эскалации: {row.step}.", link)
