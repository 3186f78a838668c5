"""Stage status of schools: where each school's roadmap is and what is overdue.

Each school's measures execution (done on time / late / overdue / planned and the percentage, see
engine/process/measures.py) comes with it, and the report sums it for the area.

Read straight from ``process_instance`` (current stage, status) and the task table (open and overdue
tasks per stage), never from workflow JSON, so a region of thousands of schools is a few indexed
queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from engine.bpmn.spec import Stage, TemplateSpec
from engine.db import Database
from engine.models import (
    Cohort,
    Incident,
    InstanceStatus,
    Municipality,
    PlannedVisit,
    ProcessInstance,
    Region,
    School,
    Task,
    TaskStatus,
    TemplateVersion,
    VisitStatus,
)
from engine.process.measures import Execution, execution_of_schools
from engine.process.visits import VisitTally, half_year, sum_tallies, tallies_of_schools
from engine.templates.versions import find_version
from engine.timing.due import MOSCOW


class StageState(StrEnum):
    DONE = "done"
    CURRENT = "current"
    PENDING = "pending"
    SKIPPED = "skipped"  # the roadmap ended before reaching this stage
    WITHDRAWN = "withdrawn"  # the roadmap was withdrawn at this stage: not passed, and not counted as progress


@dataclass(frozen=True)
class SchoolStatus:
    school_code: str
    school_name: str
    municipality_code: str
    instance_id: int | None
    status: str  # running, completed, cancelled, or not_started
    current_stage: str | None
    stages: dict[str, StageState]
    overdue_stages: list[str]
    open_tasks: int
    overdue_tasks: int
    escalation_level: int
    incidents: int = 0  # open incidents: a step of the roadmap failed and waits for an admin's fix
    measures: Execution = field(default_factory=Execution)  # the school's roadmap of measures, on its local date
    suspended: bool = False  # a running roadmap that is suspended (engine/process/management.py)
    # Curator visits planned (not cancelled) and done, per half-year of the school year (engine/process/visits.py).
    visits: dict[str, VisitTally] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusReport:
    template_key: str
    stages: list[Stage]
    schools: list[SchoolStatus]
    at_stage: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    not_started: int = 0
    with_overdue: int = 0
    with_incident: int = 0
    measures: Execution = field(default_factory=Execution)  # the area's schools summed
    visits: dict[str, VisitTally] = field(default_factory=dict)  # the area's schools summed, per half-year
    current_half_year: str = ""  # the half-year of today (Moscow), whose visits dashboards show first


def stage_status(db: Database, template_key: str, *, region_code: str | None = None,
                 municipality_code: str | None = None, cohort_year: int | None = None) -> StatusReport:
    with db.reading(replica=True) as session:
        spec = TemplateSpec.from_dict(find_version(session, template_key, include_retired=True).spec)
        area = _Area.of(session, region_code, municipality_code)
        schools = list(session.execute(area.on_schools(_schools())))
        latest = _latest_instances(session, template_key, area, cohort_year)
        tasks = _open_task_summary(session, area, db.now())
        stuck = _open_incidents(session, area)
        executions = execution_of_schools(session, [school.id for school in schools], db.now())
        tallies = tallies_of_schools(session, [school.id for school in schools])
    states = _StateCache(spec)
    rows = [_school_status(spec, school, latest.get(school.id), tasks, states, stuck) for school in schools]
    rows = [replace(row, measures=executions.get(school.id, Execution()), visits=tallies.get(school.id, {}))
            for row, school in zip(rows, schools, strict=True)]
    return replace(_report(template_key, spec, rows), current_half_year=half_year(db.now().astimezone(MOSCOW).date()))


@dataclass(frozen=True)
class _Area:
    """The filter of a region or a municipality, by id: tasks and schools carry both, so no IN lists."""

    region_id: int | None = None
    municipality_id: int | None = None

    @classmethod
    def of(cls, session: Session, region_code: str | None, municipality_code: str | None) -> _Area:
        if municipality_code:
            return cls(None, session.scalar(select(Municipality.id).where(Municipality.code == municipality_code))
                       or -1)
        if region_code:
            return cls(session.scalar(select(Region.id).where(Region.code == region_code)) or -1, None)
        return cls()

    def on_schools(self, query: Any) -> Any:
        if self.municipality_id is not None:
            return query.where(School.municipality_id == self.municipality_id)
        if self.region_id is not None:
            return query.where(School.region_id == self.region_id)
        return query

    def on_tasks(self, query: Any) -> Any:
        if self.municipality_id is not None:
            return query.where(Task.municipality_id == self.municipality_id)
        if self.region_id is not None:
            return query.where(Task.region_id == self.region_id)
        return query


def _schools() -> Select[int, str, str, str]:
    return (select(School.id, School.code, School.name, Municipality.code.label("municipality_code"))
            .join(Municipality, Municipality.id == School.municipality_id).order_by(Municipality.code, School.code))


def _latest_instances(session: Session, template_key: str, area: _Area, cohort_year: int | None) -> dict[int, Any]:
    """Each school's newest instance of the template (in the cohort, if one is named); no JSON loaded."""
    query = (select(ProcessInstance.id, ProcessInstance.school_id, ProcessInstance.status,
                    ProcessInstance.current_stage, ProcessInstance.suspended_at)
             .join(TemplateVersion, TemplateVersion.id == ProcessInstance.template_version_id)
             .join(School, School.id == ProcessInstance.school_id)
             .where(TemplateVersion.key == template_key).order_by(ProcessInstance.id))
    if cohort_year is not None:
        query = query.join(Cohort, Cohort.id == ProcessInstance.cohort_id).where(Cohort.year == cohort_year)
    return {row.school_id: row for row in session.execute(area.on_schools(query))}


@dataclass
class _TaskSummary:
    open: int = 0
    overdue: int = 0
    escalation: int = 0
    overdue_stages: set[str] = field(default_factory=set)


def _open_incidents(session: Session, area: _Area) -> dict[int, int]:
    """Open incidents per instance of the area (a handful at most: the table holds only failures)."""
    query = (select(Incident.instance_id, func.count())
             .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
             .join(School, School.id == ProcessInstance.school_id)
             .where(Incident.resolved_at.is_(None)).group_by(Incident.instance_id))
    return {instance_id: int(count) for instance_id, count in session.execute(area.on_schools(query))}


def _open_task_summary(session: Session, area: _Area, now: Any) -> dict[int, _TaskSummary]:
    summary: dict[int, _TaskSummary] = defaultdict(_TaskSummary)
    late = case((Task.due_at < now, 1), else_=0)
    counts = area.on_tasks(select(Task.instance_id, func.count(), func.sum(late), func.max(Task.escalation_level))
                           .where(Task.status == TaskStatus.READY).group_by(Task.instance_id))
    for instance_id, count, overdue, escalation in session.execute(counts):
        summary[instance_id] = _TaskSummary(count, int(overdue or 0), escalation or 0)
    stages = area.on_tasks(select(Task.instance_id, Task.stage).distinct()
                           .where(Task.status == TaskStatus.READY, Task.due_at < now))
    for instance_id, stage in session.execute(stages):
        summary[instance_id].overdue_stages.add(stage)
    return summary


class _StateCache:
    """Stage states depend only on (current stage, finished, withdrawn): compute each combination once."""

    def __init__(self, spec: TemplateSpec) -> None:
        self.spec = spec
        self.cache: dict[tuple[str | None, bool, bool], dict[str, StageState]] = {}

    def get(self, current: str | None, finished: bool, withdrawn: bool = False) -> dict[str, StageState]:
        key = (current, finished, withdrawn)
        if key not in self.cache:
            self.cache[key] = _stage_states(self.spec, current, finished, withdrawn)
        return self.cache[key]


_EMPTY = _TaskSummary()


def _school_status(spec: TemplateSpec, school: Any, instance: Any, tasks: dict[int, _TaskSummary],
                   states: _StateCache, stuck: dict[int, int]) -> SchoolStatus:
    if instance is None:
        return SchoolStatus(school.code, school.name, school.municipality_code, None, "not_started", None,
                            states.get(None, False), [], 0, 0, 0)
    summary = tasks.get(instance.id, _EMPTY)
    finished = instance.status is not InstanceStatus.RUNNING
    withdrawn = instance.status is InstanceStatus.CANCELLED
    overdue = sorted(summary.overdue_stages, key=spec.stage_index) if summary.overdue_stages else []
    return SchoolStatus(school.code, school.name, school.municipality_code, instance.id, instance.status.value,
                        instance.current_stage, states.get(instance.current_stage, finished, withdrawn), overdue,
                        summary.open, summary.overdue, summary.escalation, stuck.get(instance.id, 0),
                        suspended=not finished and instance.suspended_at is not None)


def _stage_states(spec: TemplateSpec, current: str | None, finished: bool,
                  withdrawn: bool = False) -> dict[str, StageState]:
    """A withdrawn roadmap's stage is «снят на этом этапе», not passed (the stages before it were)."""
    position = spec.stage_index(current) if current else -1
    if current is None and not finished:
        return {stage.key: StageState.PENDING for stage in spec.stages}
    states = {}
    for index, stage in enumerate(spec.stages):
        if withdrawn and index == position:
            states[stage.key] = StageState.WITHDRAWN
        elif index < position or (finished and index == position):
            states[stage.key] = StageState.DONE
        elif index == position:
            states[stage.key] = StageState.CURRENT
        else:
            states[stage.key] = StageState.SKIPPED if finished else StageState.PENDING
    return states


def _report(template_key: str, spec: TemplateSpec, rows: list[SchoolStatus]) -> StatusReport:
    at_stage = {stage.key: 0 for stage in spec.stages}
    for row in rows:
        if row.status == "running" and row.current_stage in at_stage:
            at_stage[row.current_stage] += 1
    return StatusReport(template_key, list(spec.stages), rows, at_stage,
                        completed=sum(r.status == "completed" for r in rows),
                        not_started=sum(r.status == "not_started" for r in rows),
                        with_overdue=sum(r.overdue_tasks > 0 for r in rows),
                        with_incident=sum(r.incidents > 0 for r in rows),
                        measures=sum((r.measures for r in rows), Execution()),
                        visits=sum_tallies(r.visits for r in rows))


@dataclass(frozen=True)
class AreaCounts:
    """One region or municipality of a wider dashboard: how many of its roadmaps are at each stage."""

    code: str
    name: str
    instances: int
    at_stage: dict[str, int]
    completed: int
    with_overdue: int
    with_incident: int = 0  # roadmaps stuck on an open incident
    visits: dict[str, VisitTally] = field(default_factory=dict)  # curator visits planned and done, per half-year


def area_counts(db: Database, template_key: str, *, region_code: str | None = None,
                cohort_year: int | None = None) -> tuple[list[Stage], list[AreaCounts]]:
    """Per region (for the country) or per municipality (for a region): two GROUP BY queries, so the
    national page costs the same whether 3,000 or 40,000 schools are in the project."""
    with db.reading(replica=True) as session:
        spec = TemplateSpec.from_dict(find_version(session, template_key, include_retired=True).spec)
        unit: Any = Municipality if region_code else Region
        key = School.municipality_id if region_code else School.region_id
        # Grouped by the unit's id first and named after: hashing 40,000 rows by an integer instead of
        # by the unit's code and name takes a third off the national page.
        counts = (select(key.label("unit_id"), ProcessInstance.status, ProcessInstance.current_stage,
                         func.count().label("n"))
                  .select_from(ProcessInstance).join(School, School.id == ProcessInstance.school_id)
                  .where(ProcessInstance.template_version_id.in_(
                      select(TemplateVersion.id).where(TemplateVersion.key == template_key)))
                  .group_by(key, ProcessInstance.status, ProcessInstance.current_stage))
        if region_code:
            counts = counts.where(School.region_id == select(Region.id).where(Region.code == region_code)
                                  .scalar_subquery())
        if cohort_year is not None:
            counts = counts.join(Cohort, Cohort.id == ProcessInstance.cohort_id).where(Cohort.year == cohort_year)
        grouped = counts.subquery()
        rows = list(session.execute(select(unit.code, unit.name, grouped.c.status, grouped.c.current_stage,
                                           grouped.c.n).join(unit, unit.id == grouped.c.unit_id)))
        overdue = _overdue_by_unit(session, unit, region_code, db.now())
        stuck = _incidents_by_unit(session, unit, region_code)
        visits = _visits_by_unit(session, unit, region_code)
    return list(spec.stages), [replace(u, visits=visits.get(u.code, {})) for u in _fold(spec, rows, overdue, stuck)]


def _visits_by_unit(session: Session, unit: Any, region_code: str | None) -> dict[str, dict[str, VisitTally]]:
    """Curator visits planned (not cancelled) and done per half-year, per region or municipality: one row per
    visit date and state counted, so the half-years are folded here."""
    column = School.municipality_id if region_code else School.region_id
    day = func.coalesce(PlannedVisit.visited_on, PlannedVisit.planned_on)
    query = (select(unit.code, day, PlannedVisit.status, func.count()).select_from(PlannedVisit)
             .join(School, School.id == PlannedVisit.school_id).join(unit, unit.id == column)
             .where(PlannedVisit.status != VisitStatus.CANCELLED).group_by(unit.code, day, PlannedVisit.status))
    if region_code:
        query = query.where(School.region_id == select(Region.id).where(Region.code == region_code).scalar_subquery())
    found: dict[str, dict[str, VisitTally]] = {}
    for code, when, status, count in session.execute(query):
        key = half_year(when)
        tallies = found.setdefault(code, {})
        tallies[key] = tallies.get(key, VisitTally()) + VisitTally(count, count if status is VisitStatus.DONE else 0)
    return {code: dict(sorted(t.items())) for code, t in found.items()}


def _incidents_by_unit(session: Session, unit: Any, region_code: str | None) -> dict[str, int]:
    """Roadmaps with an open incident, per region or municipality."""
    column = School.municipality_id if region_code else School.region_id
    query = (select(unit.code, func.count(func.distinct(Incident.instance_id)))
             .select_from(Incident).join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
             .join(School, School.id == ProcessInstance.school_id).join(unit, unit.id == column)
             .where(Incident.resolved_at.is_(None)).group_by(unit.code))
    if region_code:
        query = query.where(School.region_id == select(Region.id).where(Region.code == region_code).scalar_subquery())
    return {code: int(count) for code, count in session.execute(query)}


def _overdue_by_unit(session: Session, unit: Any, region_code: str | None, now: Any) -> dict[str, int]:
    column = Task.municipality_id if region_code else Task.region_id
    query = (select(unit.code, func.count(func.distinct(Task.instance_id))).join(unit, unit.id == column)
             .where(Task.status == TaskStatus.READY, Task.due_at < now).group_by(unit.code))
    if region_code:
        query = query.join(Region, Region.id == Task.region_id).where(Region.code == region_code)
    return {code: int(count) for code, count in session.execute(query)}


def _fold(spec: TemplateSpec, rows: list[Any], overdue: dict[str, int], stuck: dict[str, int]) -> list[AreaCounts]:
    units: dict[str, dict[str, Any]] = {}
    for code, name, status, stage, count in rows:
        unit = units.setdefault(code, {"name": name, "instances": 0, "completed": 0,
                                       "at_stage": {s.key: 0 for s in spec.stages}})
        unit["instances"] += count
        if status is InstanceStatus.COMPLETED:
            unit["completed"] += count
        elif status is InstanceStatus.RUNNING and stage in unit["at_stage"]:
            unit["at_stage"][stage] += count
    return [AreaCounts(code, u["name"], u["instances"], u["at_stage"], u["completed"], overdue.get(code, 0),
                       stuck.get(code, 0)) for code, u in sorted(units.items())]
