"""A school's roadmap of measures, tracked: what the template's measures task planned, kept as rows.

The template says which task's dynamic list plans the measures, which item fields hold the title, due
date, responsible person and risk direction, and which statuses there are (manifest ``measures``, see
engine/bpmn/manifest.py). The ``track_measures`` action turns the submitted list into ``measure`` rows when
that task completes; submitted again after a rework it updates them by their key (the title, normalised),
withdraws the ones no longer planned and keeps every change in ``measure_change``.

Afterwards the school moves its measures through the statuses (a reason where the status asks for one, a
new due date where it reschedules, evidence where it counts as done) and its curator accepts the evidence
or returns it. Coordinators above the school read.

Execution (``Execution``), counted on the school's local date: a measure done on or before its due date is
*done on time*, after it *done late*; one not done whose due date has passed (or that failed) is *overdue*;
the rest are *planned*. The execution percentage is done (on time or late) over every measure due so far
(done, overdue or failed): what was promised by today and kept. None while nothing is due yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.bpmn.manifest import MeasuresSection, MeasureStatus
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.errors import FormInvalid, NotAllowed, NotFound
from engine.forms import stored_date
from engine.models import (
    Deadline,
    DeadlineKind,
    InstanceStatus,
    Measure,
    MeasureChange,
    ProcessInstance,
    Region,
    RoleGrant,
    School,
    User,
)
from engine.org.core import Actor, load_user
from engine.org.scopes import OrgPlace
from engine.process.schedule import offset
from engine.roles import Role
from engine.templates.versions import compiled_version
from engine.timing.due import end_of_day
from engine.timing.production_calendar import load_calendar
from engine.timing.zones import zone

MAX_LINK = 1000
MAX_NOTE = 1000
MAX_REASON = 2000
_LINK = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
ON_TIME, LATE, OVERDUE, PLANNED = "on_time", "late", "overdue", "planned"


@dataclass(frozen=True)
class Execution:
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    planned: int = 0
    #: Done (on time or late) over all due so far, rounded; None while nothing is due. A field, so the JSON of
    #: ``roadmap status --json`` and the API carry it.
    percent: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "percent", round(100 * (self.on_time + self.late) / self.due) if self.due else None)

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.overdue

    def add(self, timing: str) -> Execution:
        counts = {ON_TIME: self.on_time, LATE: self.late, OVERDUE: self.overdue, PLANNED: self.planned}
        counts[timing] += 1
        return Execution(**counts)

    def __add__(self, other: Execution) -> Execution:
        return Execution(self.on_time + other.on_time, self.late + other.late, self.overdue + other.overdue,
                         self.planned + other.planned)


@dataclass(frozen=True)
class MeasureView:
    id: int
    key: str
    title: str
    direction: str | None
    due_date: date
    responsible: str
    status: str
    status_title: str
    outcome: str
    done_on: date | None
    timing: str  # on_time, late, overdue, planned
    evidence: tuple[Mapping[str, Any], ...]
    accepted_by: str | None
    accepted_at: datetime | None
    proposed: bool = False  # added later and waiting for the curator's agreement: not counted yet
    direction_title: str | None = None  # the risk direction as the template's risk catalogue names it


@dataclass(frozen=True)
class ChangeView:
    at: datetime
    who: str | None
    what: str
    details: Mapping[str, Any]
    reason: str | None


@dataclass(frozen=True)
class SchoolMeasures:
    school_code: str
    school_name: str
    today: date
    statuses: tuple[MeasureStatus, ...]
    measures: tuple[MeasureView, ...]
    execution: Execution
    can_update: bool  # the school's own users
    can_review: bool  # its curators
    #: The risk directions a measure may serve (the template's ``directions_from``: those the school chose), as
    #: (key, title); given to the school's own users, for a measure they add. Empty: no choice asked.
    directions: tuple[tuple[str, str], ...] = ()


def chosen_directions(session: Session, instance: ProcessInstance,
                      section: MeasuresSection | None) -> tuple[tuple[str, str], ...]:
    """The directions the school chose (``section.directions_from`` in the roadmap's data), titled by the
    template's risk catalogue; empty when the template asks for none."""
    if section is None or not section.directions_from or "direction" not in section.fields:
        return ()
    compiled = compiled_version(session, instance.template_version_id)
    data = WorkflowRun.restore(compiled, instance.workflow_json).data
    titles = {f.key: f.title for f in compiled.spec.sections.risk_factors}
    return tuple((str(key), titles.get(str(key), str(key))) for key in data.get(section.directions_from) or [])


def timing_of(row: Measure, status: MeasureStatus | None, today: date) -> str:
    outcome = status.outcome if status is not None else ""
    if outcome == "done":
        return ON_TIME if row.done_on is not None and row.done_on <= row.due_date else LATE
    if outcome == "failed" or row.due_date < today:
        return OVERDUE
    return PLANNED


def local_today(session: Session, school: School, now: datetime) -> date:
    name = session.scalar(select(Region.time_zone).where(Region.id == school.region_id))
    return now.astimezone(zone(name)).date()


def _place(school: School) -> OrgPlace:
    return OrgPlace(school.id, school.municipality_id, school.region_id)


def _section(session: Session, instance: ProcessInstance) -> MeasuresSection:
    section = compiled_version(session, instance.template_version_id).spec.sections.measures
    if section is None:
        raise NotFound("шаблон этой дорожной карты не ведёт мероприятия")
    return section


def _key(title: str) -> str:
    return " ".join(title.casefold().split())[:180]


# --- planning: the track_measures action ------------------------------------------------------------------


def track_planned(session: Session, now: datetime, actor_id: int | None, instance: ProcessInstance,
                  section: MeasuresSection, data: Mapping[str, Any]) -> int:
    """Rows for the submitted list: new ones planned, known ones (by key) updated, dropped ones withdrawn;
    each change in the history. Returns how many measures the plan holds."""
    items = data.get(section.list) or []
    names = section.fields
    existing = {row.key: row for row in session.scalars(select(Measure).where(Measure.instance_id == instance.id))}
    seen: set[str] = set()
    for position, item in enumerate(i for i in items if isinstance(i, dict)):
        title = str(item.get(names["title"]) or "").strip()
        due = stored_date(item.get(names["due_date"]))
        if not title or due is None:
            continue
        key, n = _key(title), 2
        while key in seen:
            key, n = f"{_key(title)} #{n}", n + 1
        seen.add(key)
        values = {"title": title[:500], "due_date": due,
                  "responsible": str(item.get(names["responsible"]) or "").strip()[:200],
                  "direction": (str(item.get(names["direction"])) or None) if "direction" in names
                  and item.get(names["direction"]) else None,
                  "position": position}
        row = existing.get(key)
        if row is None:
            row = Measure(instance_id=instance.id, school_id=instance.school_id, key=key,
                          status=section.statuses[0].key, evidence=[], created_at=now, updated_at=now, **values)
            session.add(row)
            session.flush()
            _change(session, row, now, actor_id, "planned", {"title": row.title, "due_date": due.isoformat()})
            schedule_measure(session, row, now)
            continue
        changed = {name: [_shown(getattr(row, name)), _shown(value)] for name, value in values.items()
                   if name != "position" and getattr(row, name) != value}
        back = row.withdrawn_at is not None
        if back:
            row.withdrawn_at = None
            changed["withdrawn"] = [True, False]
        row.position = position
        if changed:
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            _change(session, row, now, actor_id, "changed", changed)
            status = section.status(row.status)
            if (back or "due_date" in changed) and not (status is not None and status.outcome):
                close_measure_deadlines(session, row.id, now)
                session.flush()
                schedule_measure(session, row, now, catch_up="due_date" in changed)
    for key, row in existing.items():
        if key not in seen and row.withdrawn_at is None and not row.added_later:
            row.withdrawn_at = row.updated_at = now
            _change(session, row, now, actor_id, "withdrawn", {"title": row.title})
            close_measure_deadlines(session, row.id, now)
    return len(seen)


# --- deadlines ------------------------------------------------------------------------------------------------


def schedule_measure(session: Session, row: Measure, now: datetime, *, catch_up: bool = True) -> None:
    """The measure's reminder, due and escalation rows, on the machinery of tasks (the manifest's
    ``escalation``: reminders before, steps after, in working days of the school's zone). ``catch_up``: one
    reminder whose moment has passed comes at once (as for a task that opens late); without it (a measure
    returned to work) only moments still ahead are written, so nothing already said is said again."""
    instance = session.get(ProcessInstance, row.instance_id)
    assert instance is not None
    sections = compiled_version(session, instance.template_version_id).spec.sections
    name = session.scalar(select(Region.time_zone).join(School, School.region_id == Region.id)
                          .where(School.id == row.school_id))
    workdays = load_calendar(session).in_zone(name)
    due = end_of_day(row.due_date, zone(name)).astimezone(UTC)
    rows: list[tuple[DeadlineKind, int, datetime, dict[str, Any] | None]] = [(DeadlineKind.DUE, 0, due, None)]
    passed: list[int] = []
    for step, rule in enumerate(sections.reminders_before, start=1):
        moment = offset(due, rule, workdays, before=True)
        if moment > now:
            rows.append((DeadlineKind.REMINDER, step, moment, None))
        else:
            passed.append(step)
    if catch_up and passed and due > now:
        rows.append((DeadlineKind.REMINDER, min(passed), now, None))
    for step, escalation in enumerate(sections.escalation_steps, start=1):
        rows.append((DeadlineKind.ESCALATION, step, offset(due, escalation.after, workdays),
                     {"levels_up": escalation.levels_up, "federal_overdue": escalation.federal_overdue}))
    for kind, step, fire_at, payload in rows:
        if catch_up or fire_at > now:
            session.add(Deadline(instance_id=row.instance_id, task_id=None, measure_id=row.id, kind=kind, step=step,
                                 fire_at=fire_at, fired_at=None, cancelled=False, payload=payload))


def close_measure_deadlines(session: Session, measure_id: int, now: datetime) -> None:
    """A measure done, failed, withdrawn or rescheduled needs none of its unfired rows any more."""
    session.execute(update(Deadline).where(Deadline.measure_id == measure_id, Deadline.fired_at.is_(None))
                    .values(cancelled=True, fired_at=now).execution_options(synchronize_session=False))


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _change(session: Session, row: Measure, now: datetime, actor_id: int | None, what: str,
            details: Mapping[str, Any], reason: str | None = None) -> None:
    session.add(MeasureChange(measure_id=row.id, at=now, actor_id=actor_id, what=what, details=dict(details),
                              reason=reason))


# --- reading ----------------------------------------------------------------------------------------------


def _latest_instance(session: Session, school: School) -> ProcessInstance | None:
    """The school's roadmap whose measures are shown: its newest one that is not cancelled."""
    return session.scalar(select(ProcessInstance).where(ProcessInstance.school_id == school.id,
                                                        ProcessInstance.status != InstanceStatus.CANCELLED)
                          .order_by(ProcessInstance.id.desc()).limit(1))


def list_measures(db: Database, school_code: str, *, actor: Who) -> SchoolMeasures:
    """The school's measures with their state and the execution count; for anyone whose scope covers it."""
    with db.reading() as session:
        user = load_user(session, actor)
        school = session.scalar(select(School).where(School.code == school_code))
        if school is None or not user.scope.sees(_place(school)):
            raise NotFound(f"школа «{school_code}» не найдена")
        today = local_today(session, school, db.now())
        instance = _latest_instance(session, school)
        statuses: tuple[MeasureStatus, ...] = ()
        views: list[MeasureView] = []
        execution = Execution()
        directions: tuple[tuple[str, str], ...] = ()
        place = _place(school)
        if instance is not None:
            section = compiled_version(session, instance.template_version_id).spec.sections.measures
            if user.scope.can_act(Role.SCHOOL, place) and instance.status is InstanceStatus.RUNNING:
                directions = chosen_directions(session, instance, section)
            statuses = section.statuses if section is not None else ()
            views = _views(session, instance.id, section, today)
            for view in views:
                execution = execution if view.proposed else execution.add(view.timing)
        return SchoolMeasures(school.code, school.name, today, statuses, tuple(views), execution,
                              user.scope.can_act(Role.SCHOOL, place), user.scope.can_act(Role.CURATOR, place),
                              directions)


def _titles(session: Session, instance_id: int) -> dict[str, str]:
    """The risk directions' titles (the template's risk catalogue), by key."""
    instance = session.get(ProcessInstance, instance_id)
    assert instance is not None
    return {f.key: f.title for f in compiled_version(session, instance.template_version_id).spec.sections.risk_factors}


def _views(session: Session, instance_id: int, section: MeasuresSection | None, today: date) -> list[MeasureView]:
    rows = session.execute(select(Measure, User.login).outerjoin(User, User.id == Measure.accepted_by_id)
                           .where(Measure.instance_id == instance_id, Measure.withdrawn_at.is_(None))
                           .order_by(Measure.position, Measure.id)).all()
    titles = _titles(session, instance_id)
    return [_view(row, accepted_by, section, today, titles) for row, accepted_by in rows]


def _view(row: Measure, accepted_by: str | None, section: MeasuresSection | None, today: date,
          titles: Mapping[str, str] | None = None) -> MeasureView:
    status = section.status(row.status) if section is not None else None
    return MeasureView(row.id, row.key, row.title, row.direction, row.due_date, row.responsible, row.status,
                       status.title if status is not None else row.status, status.outcome if status else "",
                       row.done_on, timing_of(row, status, today), tuple(row.evidence or ()), accepted_by,
                       row.accepted_at, row.proposed_at is not None,
                       (titles or {}).get(row.direction, row.direction) if row.direction else None)


def school_measures(session: Session, instance_id: int, now: datetime) -> tuple[date, tuple[MeasureView, ...],
                                                                              Execution]:
    """The measures of one roadmap with their count, for a reader already authorized (a task's context panel)."""
    instance = session.get(ProcessInstance, instance_id)
    assert instance is not None
    today = local_today(session, instance.school, now)
    section = compiled_version(session, instance.template_version_id).spec.sections.measures
    views = _views(session, instance_id, section, today)
    execution = Execution()
    for view in views:
        execution = execution if view.proposed else execution.add(view.timing)
    return today, tuple(views), execution


def history(db: Database, measure_id: int, *, actor: Who) -> list[ChangeView]:
    """What happened to one measure, oldest first."""
    with db.reading() as session:
        user = load_user(session, actor)
        _, school = _measure_in_scope(session, user, measure_id)
        rows = session.execute(select(MeasureChange, User.login).outerjoin(User, User.id == MeasureChange.actor_id)
                               .where(MeasureChange.measure_id == measure_id)
                               .order_by(MeasureChange.at, MeasureChange.id)).all()
        return [ChangeView(c.at, who, c.what, c.details, c.reason) for c, who in rows]


def execution_of_schools(session: Session, school_ids: list[int], now: datetime) -> dict[int, Execution]:
    """Each school's execution count (its newest roadmap that tracks measures), for status and dashboards."""
    found: dict[int, Execution] = {}
    if not school_ids:
        return found
    zones = dict(session.execute(select(School.id, Region.time_zone).join(Region, Region.id == School.region_id)
                                 .where(School.id.in_(school_ids))).all())
    rows = session.execute(select(Measure, ProcessInstance.template_version_id)
                           .join(ProcessInstance, ProcessInstance.id == Measure.instance_id)
                           .where(Measure.school_id.in_(school_ids), Measure.withdrawn_at.is_(None),
                                  Measure.proposed_at.is_(None),
                                  ProcessInstance.status != InstanceStatus.CANCELLED)).all()
    sections: dict[int, MeasuresSection | None] = {}
    for row, version_id in rows:
        if version_id not in sections:
            sections[version_id] = compiled_version(session, version_id).spec.sections.measures
        section = sections[version_id]
        today = now.astimezone(zone(zones.get(row.school_id))).date()
        status = section.status(row.status) if section is not None else None
        found[row.school_id] = found.get(row.school_id, Execution()).add(timing_of(row, status, today))
    return found


def my_late_measures(db: Database, *, actor: Who) -> dict[str, int]:
    """For a school's own user: the schools whose roadmap has measures past due and not done, and how many —
    what the inbox names first when no task is late (one query for the grants, one for the measures)."""
    with db.reading() as session:
        user = load_user(session, actor)
        own = dict(session.execute(select(School.id, School.code).join(RoleGrant, RoleGrant.school_id == School.id)
                                   .where(RoleGrant.user_id == user.user_id, RoleGrant.role == Role.SCHOOL)).all())
        counts = execution_of_schools(session, list(own), db.now())
        return {own[school_id]: found.overdue for school_id, found in counts.items() if found.overdue}


# --- acting -----------------------------------------------------------------------------------------------


def _measure_in_scope(session: Session, user: Actor, measure_id: int) -> tuple[Measure, School]:
    row = session.get(Measure, measure_id)
    school = session.get(School, row.school_id) if row is not None else None
    if row is None or school is None or not user.scope.sees(_place(school)):
        raise NotFound(f"мероприятие {measure_id} не найдено")
    return row, school


def update_measure(db: Database, measure_id: int, *, actor: Who, status: str | None = None,
                   due_date: date | None = None, reason: str | None = None, evidence_link: str | None = None,
                   evidence_note: str | None = None) -> MeasureView:
    """The school moves a measure on: adds evidence (a link with a note) and/or sets a status; a status that
    reschedules needs a later due date, one that asks for a reason a reason, one that asks for evidence
    evidence. New evidence or a new status takes back the curator's acceptance."""
    with db.transaction() as session:
        user = load_user(session, actor)
        row, school = _measure_in_scope(session, user, measure_id)
        if not user.scope.can_act(Role.SCHOOL, _place(school)):
            raise NotAllowed("мероприятия дорожной карты ведёт сама школа")
        if row.withdrawn_at is not None:
            raise NotFound(f"мероприятие {measure_id} снято с дорожной карты")
        if row.proposed_at is not None:
            raise FormInvalid({"status": ["Мероприятие ждёт согласования куратора."]})
        instance = session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        section = _section(session, instance)
        now = db.now()
        today = local_today(session, school, now)
        reason = (reason or "").strip() or None
        errors: dict[str, list[str]] = {}
        if reason is not None and len(reason) > MAX_REASON:
            errors["reason"] = [f"Не длиннее {MAX_REASON} символов."]
        link = (evidence_link or "").strip()
        note = (evidence_note or "").strip()
        if link and (len(link) > MAX_LINK or not _LINK.match(link)):
            errors["evidence_link"] = ["Ссылка вида https://…"]
        if len(note) > MAX_NOTE:
            errors["evidence_note"] = [f"Не длиннее {MAX_NOTE} символов."]
        if note and not link:
            errors["evidence_link"] = ["Укажите ссылку на подтверждающий документ."]
        target = section.status(status) if status else None
        if status and target is None:
            errors["status"] = [f"Статуса «{status}» нет; есть: {', '.join(s.key for s in section.statuses)}"]
        if target is not None:
            if target.needs_reason and reason is None:
                errors["reason"] = [f"Для статуса «{target.title}» нужно обоснование."]
            if target.reschedules and (due_date is None or due_date <= row.due_date):
                errors["due_date"] = [f"Новый срок позже прежнего ({row.due_date:%d.%m.%Y})."]
            if target.needs_evidence and not (row.evidence or link):
                errors["evidence_link"] = [f"Для статуса «{target.title}» нужно подтверждение: ссылка на документ."]
        if due_date is not None and (target is None or not target.reschedules):
            errors["due_date"] = ["Срок меняется только переносом (статус с обоснованием)."]
        if not link and target is None and not errors:
            errors["status"] = ["Укажите новый статус или добавьте подтверждение."]
        if errors:
            raise FormInvalid(errors)
        if link:
            row.evidence = [*(row.evidence or []), {"link": link, "note": note, "at": now.isoformat(),
                                                    "by": user.login}]
            _change(session, row, now, user.user_id, "evidence", {"link": link, "note": note})
        if target is not None:
            if target.reschedules and due_date is not None:
                _change(session, row, now, user.user_id, "rescheduled",
                        {"due_date": [row.due_date.isoformat(), due_date.isoformat()]}, reason)
                row.due_date = due_date
                close_measure_deadlines(session, row.id, now)  # the old due date's rows go, the new one's come
                session.flush()
                schedule_measure(session, row, now)
            elif target.outcome:
                close_measure_deadlines(session, row.id, now)  # done or failed: nothing more to remind of
            if target.key != row.status:
                _change(session, row, now, user.user_id, "status", {"status": [row.status, target.key]}, reason)
            row.status = target.key
            row.done_on = today if target.outcome == "done" else None
        row.accepted_by_id, row.accepted_at, row.updated_at = None, None, now
        session.flush()
        audit.record(session, now, "measure.updated", actor_id=user.user_id, instance_id=row.instance_id,
                     measure=row.id, status=row.status, evidence=bool(link))
        return _view(row, None, section, today, _titles(session, row.instance_id))


def review_measure(db: Database, measure_id: int, *, actor: Who, accept: bool, comment: str = "") -> MeasureView:
    """The curator accepts the measure's evidence, or returns it with a comment: a returned measure that was
    done goes back to the first open status after the initial one (the «500+» template's «выполняется»)."""
    with db.transaction() as session:
        user = load_user(session, actor)
        row, school = _measure_in_scope(session, user, measure_id)
        if not user.scope.can_act(Role.CURATOR, _place(school)):
            raise NotAllowed("подтверждения мероприятий принимает куратор школы")
        instance = session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        section = _section(session, instance)
        comment = comment.strip()
        if not row.evidence:
            raise FormInvalid({"evidence_link": ["Школа ещё не добавила подтверждение."]})
        if not accept and not comment:
            raise FormInvalid({"comment": ["Напишите школе, что доработать."]})
        if len(comment) > MAX_REASON:
            raise FormInvalid({"comment": [f"Не длиннее {MAX_REASON} символов."]})
        now = db.now()
        if accept:
            row.accepted_by_id, row.accepted_at = user.user_id, now
            _change(session, row, now, user.user_id, "accepted", {}, comment or None)
        else:
            row.accepted_by_id, row.accepted_at = None, None
            current = section.status(row.status)
            if current is not None and current.outcome == "done":
                back = next((s for s in section.statuses[1:] if not s.outcome and not s.reschedules),
                            section.statuses[0])
                _change(session, row, now, user.user_id, "status", {"status": [row.status, back.key]}, comment)
                row.status, row.done_on = back.key, None
                session.flush()
                schedule_measure(session, row, now, catch_up=False)  # open again: what is still ahead
            _change(session, row, now, user.user_id, "returned", {}, comment)
        row.updated_at = now
        session.flush()
        audit.record(session, now, "measure.accepted" if accept else "measure.returned", actor_id=user.user_id,
                     instance_id=row.instance_id, measure=row.id)
        today = local_today(session, school, now)
        return _view(row, user.login if accept else None, section, today, _titles(session, row.instance_id))


def add_measure(db: Database, school_code: str, *, actor: Who, title: str, due_date: date | None,
                responsible: str, reason: str, direction: str | None = None) -> MeasureView:
    """The school proposes a measure beyond its plan, with why; it counts and is reminded once the curator agrees."""
    with db.transaction() as session:
        user = load_user(session, actor)
        school = session.scalar(select(School).where(School.code == school_code))
        if school is None or not user.scope.sees(_place(school)):
            raise NotFound(f"школа «{school_code}» не найдена")
        if not user.scope.can_act(Role.SCHOOL, _place(school)):
            raise NotAllowed("мероприятия дорожной карты ведёт сама школа")
        instance = _latest_instance(session, school)
        if instance is None:
            raise NotFound("у школы нет дорожной карты")
        section = _section(session, instance)
        now = db.now()
        today = local_today(session, school, now)
        title, responsible, reason = title.strip(), responsible.strip(), reason.strip()
        errors: dict[str, list[str]] = {}
        if not title or len(title) > 500:
            errors["title"] = ["Название мероприятия (до 500 символов)."]
        if due_date is None or due_date < today:
            errors["due_date"] = ["Срок — сегодня или позже."]
        if not responsible or len(responsible) > 200:
            errors["responsible"] = ["Ответственный (до 200 символов)."]
        if not reason or len(reason) > MAX_REASON:
            errors["reason"] = ["Почему мероприятие добавляется (для куратора)."]
        chosen = chosen_directions(session, instance, section)
        direction = (direction or "").strip() or None
        if chosen and direction not in {key for key, _ in chosen}:
            errors["direction"] = ["Направление риска — одно из выбранных школой."]
        key = _key(title)
        if title and session.scalar(select(Measure.id).where(Measure.instance_id == instance.id, Measure.key == key)):
            errors["title"] = ["Такое мероприятие уже есть в дорожной карте."]
        if errors:
            raise FormInvalid(errors)
        assert due_date is not None
        position = (session.scalar(select(func.max(Measure.position)).where(Measure.instance_id == instance.id))
                    or 0) + 1
        row = Measure(instance_id=instance.id, school_id=school.id, key=key, position=position, title=title,
                      direction=(direction or "")[:64] or None, due_date=due_date, responsible=responsible,
                      status=section.statuses[0].key, evidence=[], added_later=True, proposed_at=now, created_at=now,
                      updated_at=now)
        session.add(row)
        session.flush()
        _change(session, row, now, user.user_id, "proposed", {"title": title, "due_date": due_date.isoformat()}, reason)
        audit.record(session, now, "measure.proposed", actor_id=user.user_id, instance_id=instance.id, measure=row.id)
        return _view(row, None, section, today, _titles(session, row.instance_id))


def agree_addition(db: Database, measure_id: int, *, actor: Who, agree: bool, comment: str = "") -> MeasureView:
    """The curator agrees to a measure the school added (it then counts and is reminded), or declines it with a
    comment (it is withdrawn, its history kept)."""
    with db.transaction() as session:
        user = load_user(session, actor)
        row, school = _measure_in_scope(session, user, measure_id)
        if not user.scope.can_act(Role.CURATOR, _place(school)):
            raise NotAllowed("добавление мероприятия согласует куратор школы")
        if row.proposed_at is None or row.withdrawn_at is not None:
            raise FormInvalid({"measure": ["Это мероприятие не ждёт согласования."]})
        comment = comment.strip()
        if not agree and not comment:
            raise FormInvalid({"comment": ["Напишите школе, почему мероприятие не согласовано."]})
        instance = session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        section = _section(session, instance)
        now = db.now()
        row.proposed_at, row.updated_at = None, now
        if agree:
            _change(session, row, now, user.user_id, "agreed", {}, comment or None)
            session.flush()
            schedule_measure(session, row, now)
        else:
            row.withdrawn_at = now
            _change(session, row, now, user.user_id, "declined", {}, comment)
        audit.record(session, now, "measure.agreed" if agree else "measure.declined", actor_id=user.user_id,
                     instance_id=row.instance_id, measure=row.id)
        return _view(row, None, section, local_today(session, school, now), _titles(session, row.instance_id))
