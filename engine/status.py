"""Stage status of schools: where each school's roadmap is and what is overdue.

Read straight from ``process_instance`` (current stage, status) and the task table (open and overdue
tasks per stage), never from workflow JSON, so a region of thousands of schools is a few indexed
queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from engine.bpmn.spec import Stage, TemplateSpec
from engine.db import Database
from engine.models import (
    Cohort,
    InstanceStatus,
    Municipality,
    ProcessInstance,
    Region,
    School,
    Task,
    TaskStatus,
    TemplateVersion,
)
from engine.templates import find_version


class StageState(StrEnum):
    DONE = "done"
    CURRENT = "current"
    PENDING = "pending"
    SKIPPED = "skipped"  # the roadmap ended before reaching this stage


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


@dataclass(frozen=True)
class StatusReport:
    template_key: str
    stages: list[Stage]
    schools: list[SchoolStatus]
    at_stage: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    not_started: int = 0
    with_overdue: int = 0


def stage_status(db: Database, template_key: str, *, region_code: str | None = None,
                 municipality_code: str | None = None, cohort_year: int | None = None) -> StatusReport:
    with db.reading() as session:
        spec = TemplateSpec.from_dict(find_version(session, template_key).spec)
        schools = list(session.execute(_schools(region_code, municipality_code)))
        latest = _latest_instances(session, template_key, [s.id for s in schools], cohort_year)
        tasks = _open_task_summary(session, [i.id for i in latest.values()], db.now())
    rows = [_school_status(spec, school, latest.get(school.id), tasks) for school in schools]
    return _report(template_key, spec, rows)


def _schools(region_code: str | None, municipality_code: str | None) -> Select[int, str, str, str]:
    query = (select(School.id, School.code, School.name, Municipality.code.label("municipality_code"))
             .join(Municipality, Municipality.id == School.municipality_id).order_by(Municipality.code, School.code))
    if region_code:
        query = query.join(Region, Region.id == School.region_id).where(Region.code == region_code)
    if municipality_code:
        query = query.where(Municipality.code == municipality_code)
    return query


def _latest_instances(session: Session, template_key: str, school_ids: list[int],
                      cohort_year: int | None) -> dict[int, Any]:
    """Each school's newest instance of the template (in the cohort, if one is named); no JSON loaded."""
    query = (select(ProcessInstance.id, ProcessInstance.school_id, ProcessInstance.status,
                    ProcessInstance.current_stage)
             .join(TemplateVersion, TemplateVersion.id == ProcessInstance.template_version_id)
             .where(TemplateVersion.key == template_key, ProcessInstance.school_id.in_(school_ids))
             .order_by(ProcessInstance.id))
    if cohort_year is not None:
        query = query.join(Cohort, Cohort.id == ProcessInstance.cohort_id).where(Cohort.year == cohort_year)
    return {row.school_id: row for row in session.execute(query)}


@dataclass
class _TaskSummary:
    open: int = 0
    overdue: int = 0
    escalation: int = 0
    overdue_stages: set[str] = field(default_factory=set)


def _open_task_summary(session: Session, instance_ids: list[int], now: Any) -> dict[int, _TaskSummary]:
    summary: dict[int, _TaskSummary] = defaultdict(_TaskSummary)
    late = case((Task.due_at < now, 1), else_=0)
    query = (select(Task.instance_id, Task.stage, func.count(), func.sum(late), func.max(Task.escalation_level))
             .where(Task.status == TaskStatus.READY, Task.instance_id.in_(instance_ids))
             .group_by(Task.instance_id, Task.stage))
    for instance_id, stage, count, late, escalation in session.execute(query):
        entry = summary[instance_id]
        entry.open += count
        entry.overdue += int(late or 0)
        entry.escalation = max(entry.escalation, escalation or 0)
        if late:
            entry.overdue_stages.add(stage)
    return summary


def _school_status(spec: TemplateSpec, school: Any, instance: Any, tasks: dict[int, _TaskSummary]) -> SchoolStatus:
    if instance is None:
        return SchoolStatus(school.code, school.name, school.municipality_code, None, "not_started", None,
                            {s.key: StageState.PENDING for s in spec.stages}, [], 0, 0, 0)
    summary = tasks.get(instance.id, _TaskSummary())
    finished = instance.status is not InstanceStatus.RUNNING
    return SchoolStatus(school.code, school.name, school.municipality_code, instance.id, instance.status.value,
                        instance.current_stage, _stage_states(spec, instance.current_stage, finished),
                        sorted(summary.overdue_stages, key=spec.stage_index), summary.open, summary.overdue,
                        summary.escalation)


def _stage_states(spec: TemplateSpec, current: str | None, finished: bool) -> dict[str, StageState]:
    position = spec.stage_index(current) if current else -1
    states = {}
    for index, stage in enumerate(spec.stages):
        if index < position or (finished and index == position):
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
                        with_overdue=sum(r.overdue_tasks > 0 for r in rows))
