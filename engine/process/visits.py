"""The curator visit schedule: the municipal coordinator plans the curator's visits to a school on dates.

Who plans, moves (with a reason) and cancels a school's visits: the municipal coordinator of the school's
municipality, the regional coordinator of its region, an admin. Everyone whose scope covers the school reads.

A planned visit belongs to the school's running roadmap whose template has the manifest's ``visits`` section;
its deadline rows (``deadline.visit_id``) run on the machinery of tasks and measures: reminders to the school's
curator before the visit's day (by default 2 working days), and, the visit not done, escalation steps after it
up the chain curator → municipal → regional (by default +3 and +7 working days), each row exactly once, in
working days of the school's zone. Moving a visit rewrites its rows; cancelling or doing it closes them.

The curator's visit report (the section's ``report_task``, with the ``link_visit`` action) links to the open
planned visit of the report's half-year nearest to the visit's date: that visit is done. Half-years are the
school year's: the first September to December, the second January to August («I полугодие 2026/27»).

``visits_of_school`` gives the school's visits as plain data, for reports that print them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.bpmn.manifest import VisitsSection
from engine.db import Database
from engine.errors import FormInvalid, NotAllowed, NotFound
from engine.forms import stored_date
from engine.models import (
    Deadline,
    DeadlineKind,
    InstanceStatus,
    PlannedVisit,
    ProcessInstance,
    Region,
    RoleGrant,
    School,
    User,
    VisitStatus,
)
from engine.org.core import Actor, load_user
from engine.org.scopes import OrgPlace
from engine.process.schedule import offset
from engine.roles import Role
from engine.templates.versions import compiled_version
from engine.timing.due import end_of_day
from engine.timing.production_calendar import load_calendar
from engine.timing.zones import zone

MAX_NOTE = 1000
MAX_REASON = 2000
#: How far ahead a visit may be planned: the roadmap's two school years.
MAX_DAYS_AHEAD = 2 * 366

STATUS_TITLES = {VisitStatus.PLANNED: "Запланировано", VisitStatus.DONE: "Проведено",
                 VisitStatus.CANCELLED: "Отменено"}


def half_year(day: date) -> str:
    """The school year's half a day is in: «2026/27-1» (September–December), «2026/27-2» (January–August)."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}-{1 if day.month >= 9 else 2}"


def half_year_title(key: str) -> str:
    """«I полугодие 2026/27»."""
    years, _, half = key.partition("-")
    return f"{'I' if half == '1' else 'II'} полугодие {years}"


@dataclass(frozen=True)
class VisitTally:
    """Planned (not cancelled) and done visits of one half-year."""

    planned: int = 0
    done: int = 0

    def __add__(self, other: VisitTally) -> VisitTally:
        return VisitTally(self.planned + other.planned, self.done + other.done)


def add_tallies(a: Mapping[str, VisitTally], b: Mapping[str, VisitTally]) -> dict[str, VisitTally]:
    return {key: a.get(key, VisitTally()) + b.get(key, VisitTally()) for key in sorted({*a, *b})}


def sum_tallies(many: Iterable[Mapping[str, VisitTally]]) -> dict[str, VisitTally]:
    """Schools' (or areas') half-year counts summed: an area's."""
    total: dict[str, VisitTally] = {}
    for one in many:
        total = add_tallies(total, one)
    return total


@dataclass(frozen=True)
class VisitMove:
    at: str
    by: str | None
    moved_from: date
    moved_to: date
    reason: str


@dataclass(frozen=True)
class VisitView:
    id: int
    school_code: str
    planned_on: date
    half_year: str
    half_year_title: str
    status: str
    status_title: str
    note: str
    visited_on: date | None
    report_task_id: int | None
    cancel_reason: str | None
    overdue: bool  # planned, its day passed (on the school's local date) and not done
    moves: tuple[VisitMove, ...]


@dataclass(frozen=True)
class SchoolVisits:
    school_code: str
    school_name: str
    today: date
    visits: tuple[VisitView, ...]
    tallies: Mapping[str, VisitTally]  # by half-year key, oldest first
    can_plan: bool  # the municipal or regional coordinator over the school, an admin
    schedules: bool  # the school's roadmap keeps a visit schedule (its template has ``visits``)
    curators: tuple[str, ...] = ()  # the school's curators' names, who visit


def _place(school: School) -> OrgPlace:
    return OrgPlace(school.id, school.municipality_id, school.region_id)


def may_plan(user: Actor, place: OrgPlace) -> bool:
    return (user.scope.is_admin or user.scope.can_act(Role.MUNICIPAL_COORDINATOR, place)
            or user.scope.can_act(Role.REGIONAL_COORDINATOR, place))


def _zone_name(session: Session, school_id: int) -> str | None:
    return session.scalar(select(Region.time_zone).join(School, School.region_id == Region.id)
                          .where(School.id == school_id))


def _today(session: Session, school_id: int, now: datetime) -> date:
    return now.astimezone(zone(_zone_name(session, school_id))).date()


def _instance(session: Session, school: School) -> tuple[ProcessInstance, VisitsSection] | None:
    """The school's newest running roadmap, with its template's visits section (None if it keeps none)."""
    instance = session.scalar(select(ProcessInstance).where(ProcessInstance.school_id == school.id,
                                                            ProcessInstance.status == InstanceStatus.RUNNING)
                              .order_by(ProcessInstance.id.desc()).limit(1))
    if instance is None:
        return None
    section = compiled_version(session, instance.template_version_id).spec.sections.visits
    return (instance, section) if section is not None else None


def _section_of(session: Session, instance_id: int) -> VisitsSection | None:
    instance = session.get(ProcessInstance, instance_id)
    assert instance is not None
    return compiled_version(session, instance.template_version_id).spec.sections.visits


# --- deadlines ------------------------------------------------------------------------------------------------


def schedule_visit(session: Session, row: PlannedVisit, section: VisitsSection, now: datetime) -> None:
    """The visit's reminder and escalation rows, counted from the end of its day in the school's zone, in its
    working days. A reminder whose moment has passed (a visit planned for the day after tomorrow) comes at once,
    as for a task that opens late; escalations are always written (they fire only if the visit is not done)."""
    name = _zone_name(session, row.school_id)
    workdays = load_calendar(session).in_zone(name)
    day_end = end_of_day(row.planned_on, zone(name)).astimezone(UTC)
    rows: list[tuple[DeadlineKind, int, datetime, dict[str, Any] | None]] = []
    passed: list[int] = []
    for step, rule in enumerate(section.reminders_before, start=1):
        moment = offset(day_end, rule, workdays, before=True)
        if moment > now:
            rows.append((DeadlineKind.REMINDER, step, moment, None))
        else:
            passed.append(step)
    if passed and day_end > now:
        rows.append((DeadlineKind.REMINDER, min(passed), now, None))
    for step, escalation in enumerate(section.escalation_steps, start=1):
        rows.append((DeadlineKind.ESCALATION, step, offset(day_end, escalation.after, workdays),
                     {"levels_up": escalation.levels_up}))
    for kind, step, fire_at, payload in rows:
        session.add(Deadline(instance_id=row.instance_id, task_id=None, visit_id=row.id, kind=kind, step=step,
                             fire_at=fire_at, fired_at=None, cancelled=False, payload=payload))


def close_visit_deadlines(session: Session, visit_id: int, now: datetime) -> None:
    """A visit done, cancelled or moved needs none of its unfired rows any more."""
    session.execute(update(Deadline).where(Deadline.visit_id == visit_id, Deadline.fired_at.is_(None))
                    .values(cancelled=True, fired_at=now).execution_options(synchronize_session=False))


# --- reading ----------------------------------------------------------------------------------------------


def _view(row: PlannedVisit, school_code: str, today: date) -> VisitView:
    key = half_year(row.visited_on or row.planned_on)
    moves = tuple(VisitMove(str(m["at"]), m.get("by"), date.fromisoformat(m["from"]), date.fromisoformat(m["to"]),
                            str(m.get("reason", ""))) for m in (row.history or []))
    return VisitView(row.id, school_code, row.planned_on, key, half_year_title(key), row.status.value,
                     STATUS_TITLES[row.status], row.note, row.visited_on, row.report_task_id, row.cancel_reason,
                     row.status is VisitStatus.PLANNED and row.planned_on < today, moves)


def tallies_of(rows: list[PlannedVisit]) -> dict[str, VisitTally]:
    """Planned (every visit not cancelled) and done per half-year; a done visit counts in its visit's half-year."""
    found: dict[str, VisitTally] = {}
    for row in rows:
        if row.status is VisitStatus.CANCELLED:
            continue
        key = half_year(row.visited_on or row.planned_on)
        found[key] = found.get(key, VisitTally()) + VisitTally(1, int(row.status is VisitStatus.DONE))
    return dict(sorted(found.items()))


def list_visits(db: Database, school_code: str, *, actor: Who) -> SchoolVisits:
    """The school's planned visits (every one, cancelled ones with their reason) and the half-year counts."""
    with db.reading() as session:
        user = load_user(session, actor)
        school = _school_in_scope(session, user, school_code)
        today = _today(session, school.id, db.now())
        rows = list(session.scalars(select(PlannedVisit).where(PlannedVisit.school_id == school.id)
                                    .order_by(PlannedVisit.planned_on, PlannedVisit.id)))
        curators = tuple(session.scalars(select(User.full_name).join(RoleGrant, RoleGrant.user_id == User.id)
                                         .where(RoleGrant.role == Role.CURATOR, RoleGrant.school_id == school.id)
                                         .order_by(User.full_name)))
        return SchoolVisits(school.code, school.name, today, tuple(_view(r, school.code, today) for r in rows),
                            tallies_of(rows), may_plan(user, _place(school)), _instance(session, school) is not None,
                            curators)


def visits_of_school(session: Session, school_id: int) -> list[dict[str, Any]]:
    """The school's visits as plain data (for reports): date planned, half-year, status, date visited, the
    report task's id, the cancellation's reason and the moves; oldest first."""
    rows = session.scalars(select(PlannedVisit).where(PlannedVisit.school_id == school_id)
                           .order_by(PlannedVisit.planned_on, PlannedVisit.id))
    return [{"id": r.id, "planned_on": r.planned_on, "half_year": half_year(r.visited_on or r.planned_on),
             "half_year_title": half_year_title(half_year(r.visited_on or r.planned_on)),
             "status": r.status.value, "status_title": STATUS_TITLES[r.status], "note": r.note,
             "visited_on": r.visited_on, "report_task_id": r.report_task_id, "cancel_reason": r.cancel_reason,
             "moves": list(r.history or [])} for r in rows]


def tallies_of_schools(session: Session, school_ids: list[int]) -> dict[int, dict[str, VisitTally]]:
    """Each school's planned and done visits per half-year, for status and dashboards."""
    found: dict[int, list[PlannedVisit]] = {}
    if not school_ids:
        return {}
    for row in session.scalars(select(PlannedVisit).where(PlannedVisit.school_id.in_(school_ids),
                                                          PlannedVisit.status != VisitStatus.CANCELLED)):
        found.setdefault(row.school_id, []).append(row)
    return {school_id: tallies_of(rows) for school_id, rows in found.items()}


def _school_in_scope(session: Session, user: Actor, school_code: str) -> School:
    school = session.scalar(select(School).where(School.code == school_code))
    if school is None or not user.scope.sees(_place(school)):
        raise NotFound(f"школа «{school_code}» не найдена")
    return school


def _visit_in_scope(session: Session, user: Actor, visit_id: int) -> tuple[PlannedVisit, School]:
    row = session.get(PlannedVisit, visit_id)
    school = session.get(School, row.school_id) if row is not None else None
    if row is None or school is None or not user.scope.sees(_place(school)):
        raise NotFound(f"посещение {visit_id} не найдено")
    return row, school


def _check_day(day: date | None, today: date, name: str = "planned_on") -> date:
    if day is None:
        raise FormInvalid({name: ["Дата посещения вида ГГГГ-ММ-ДД."]})
    if day < today:
        raise FormInvalid({name: ["Дата посещения — сегодня или позже."]})
    if (day - today).days > MAX_DAYS_AHEAD:
        raise FormInvalid({name: ["Посещение планируется не дальше чем на два года вперёд."]})
    return day


# --- planning -------------------------------------------------------------------------------------------------


def plan_visit(db: Database, school_code: str, *, actor: Who, planned_on: date | None, note: str = "") -> VisitView:
    """A curator's visit to the school on ``planned_on`` (the school's local date, today or later)."""
    with db.transaction() as session:
        user = load_user(session, actor)
        school = _school_in_scope(session, user, school_code)
        if not may_plan(user, _place(school)):
            raise NotAllowed("посещения кураторов планирует муниципальный или региональный координатор")
        found = _instance(session, school)
        if found is None:
            raise NotFound("у школы нет действующей дорожной карты с графиком посещений")
        instance, section = found
        now = db.now()
        today = _today(session, school.id, now)
        day = _check_day(planned_on, today)
        note = (note or "").strip()
        if len(note) > MAX_NOTE:
            raise FormInvalid({"note": [f"Не длиннее {MAX_NOTE} символов."]})
        row = PlannedVisit(school_id=school.id, instance_id=instance.id, planned_on=day, status=VisitStatus.PLANNED,
                           note=note, history=[], created_by_id=user.user_id, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        schedule_visit(session, row, section, now)
        audit.record(session, now, "visit.planned", actor_id=user.user_id, instance_id=instance.id, visit=row.id,
                     planned_on=day.isoformat())
        return _view(row, school.code, today)


def _open_visit(session: Session, user: Actor, visit_id: int) -> tuple[PlannedVisit, School]:
    row, school = _visit_in_scope(session, user, visit_id)
    if not may_plan(user, _place(school)):
        raise NotAllowed("посещения кураторов планирует муниципальный или региональный координатор")
    if row.status is not VisitStatus.PLANNED:
        raise FormInvalid({"visit": ["Посещение уже проведено или отменено."]})
    return row, school


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise FormInvalid({"reason": [f"Укажите причину (до {MAX_REASON} символов)."]})
    return text


def move_visit(db: Database, visit_id: int, *, actor: Who, planned_on: date | None, reason: str | None) -> VisitView:
    """The visit moved to another day, with why; the move is kept in its history and its reminders rewritten."""
    with db.transaction() as session:
        user = load_user(session, actor)
        row, school = _open_visit(session, user, visit_id)
        now = db.now()
        today = _today(session, school.id, now)
        day = _check_day(planned_on, today)
        text = _reason(reason)
        if day == row.planned_on:
            raise FormInvalid({"planned_on": ["Посещение уже запланировано на этот день."]})
        section = _section_of(session, row.instance_id)
        row.history = [*(row.history or []), {"at": now.isoformat(), "by": user.login,
                                               "from": row.planned_on.isoformat(), "to": day.isoformat(),
                                               "reason": text}]
        audit.record(session, now, "visit.moved", actor_id=user.user_id, instance_id=row.instance_id, visit=row.id,
                     moved_from=row.planned_on.isoformat(), moved_to=day.isoformat())
        row.planned_on, row.updated_at = day, now
        close_visit_deadlines(session, row.id, now)
        session.flush()
        if section is not None:
            schedule_visit(session, row, section, now)
        return _view(row, school.code, today)


def cancel_visit(db: Database, visit_id: int, *, actor: Who, reason: str | None) -> VisitView:
    """The visit will not take place: kept with the reason, its reminders and escalations closed."""
    with db.transaction() as session:
        user = load_user(session, actor)
        row, school = _open_visit(session, user, visit_id)
        now = db.now()
        row.status, row.cancel_reason, row.updated_at = VisitStatus.CANCELLED, _reason(reason), now
        close_visit_deadlines(session, row.id, now)
        audit.record(session, now, "visit.cancelled", actor_id=user.user_id, instance_id=row.instance_id,
                     visit=row.id)
        return _view(row, school.code, _today(session, school.id, now))


# --- the visit report: the link_visit action ----------------------------------------------------------------


def link_report(session: Session, now: datetime, instance: ProcessInstance, task_id: int, section: VisitsSection,
                data: Mapping[str, Any]) -> int | None:
    """The curator's report links to the open planned visit of its half-year nearest to the visit's date, which
    is then done (its rows closed). Returns that visit's id, None if no planned visit is open then."""
    visited = stored_date(data.get(section.date_field))
    if visited is None:
        return None
    key = half_year(visited)
    candidates = [row for row in session.scalars(select(PlannedVisit).where(
        PlannedVisit.school_id == instance.school_id, PlannedVisit.status == VisitStatus.PLANNED))
        if half_year(row.planned_on) == key]
    if not candidates:
        return None
    row = min(candidates, key=lambda r: (abs((r.planned_on - visited).days), r.planned_on, r.id))
    row.status, row.visited_on, row.report_task_id, row.updated_at = VisitStatus.DONE, visited, task_id, now
    close_visit_deadlines(session, row.id, now)
    audit.record(session, now, "visit.done", instance_id=instance.id, task_id=task_id, visit=row.id,
                 visited_on=visited.isoformat())
    return row.id
