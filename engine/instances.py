"""Process instances: start one for a school, and keep the task table in step with the workflow.

``sync_tasks`` is the only writer of task rows from workflow state: after every engine step it mirrors
each READY user task (with stage, role, scope, due time) and closes rows the workflow no longer waits
on, so every read of "what is on whose desk" goes to the task table and never to the workflow JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.bpmn.runtime import SERIALIZER_VERSION, WorkflowRun
from engine.bpmn.spec import TemplateSpec
from engine.cohorts import calendar_of, ensure_cohort, find_cohort
from engine.db import Database
from engine.due import DueRule, compute_due
from engine.errors import Conflict, EngineError, InstanceNotFound, NotAllowed
from engine.models import (
    Deadline,
    DeadlineKind,
    InstanceStatus,
    ProcessInstance,
    Region,
    School,
    Task,
    TaskStatus,
)
from engine.org import find_school, load_actor, place_of
from engine.production_calendar import load_calendar
from engine.roles import Role
from engine.schedule import schedule_task
from engine.templates import compiled_version, find_version


@dataclass(frozen=True)
class StartedInstance:
    instance_id: int
    template_key: str
    template_version: int
    school_code: str
    ready_task_ids: list[int]


def start_instance(db: Database, template_key: str, school_code: str, *, version: int | None = None,
                   cohort_year: int | None = None, actor_login: str | None = None) -> StartedInstance:
    """Start the template (newest deployed version unless one is named) for one school, in a cohort
    (one roadmap per school per cohort) or ad hoc."""
    with db.transaction() as session:
        school = find_school(session, school_code)
        actor_id = _starter(session, actor_login, school)
        row = find_version(session, template_key, version)
        cohort = find_cohort(session, cohort_year) if cohort_year is not None else None
        if cohort is not None and session.scalar(select(ProcessInstance.id).filter_by(
                school_id=school.id, cohort_id=cohort.id)) is not None:
            raise Conflict(f"у школы «{school.code}» уже есть маршрут в когорте {cohort.year} года")
        compiled = compiled_version(session, row.id)
        start_data = {"school": {"code": school.code, "name": school.name},
                      "cohort": cohort.year if cohort else None}
        run = WorkflowRun.start(compiled, start_data)
        now = db.now()
        if compiled.spec.has_timers:
            run.pending_timers(now)  # fix timer fire times by the engine's clock before the state is stored
        instance = ProcessInstance(template_version_id=row.id, school_id=school.id, cohort=cohort,
                                   status=InstanceStatus.RUNNING, workflow_json=run.dump(),
                                   serializer_version=SERIALIZER_VERSION, started_at=now,
                                   started_by_id=actor_id)
        update_progress(instance, run, compiled.spec, now)  # before INSERT: the row starts at version 1
        session.add(instance)
        session.flush()
        audit.record(session, now, "instance.started", actor_id=actor_id, instance_id=instance.id,
                     template_version_id=row.id, school=school.code)
        opened = sync_tasks(session, instance, run, compiled.spec, now)
        return StartedInstance(instance.id, row.key, row.version, school.code, [t.id for t in opened])


def _starter(session: Session, login: str | None, school: School) -> int | None:
    """The CLI starts as the operator; a user must be an admin or coordinate the school's area."""
    if login is None:
        return None
    actor = load_actor(session, login)
    if not actor.scope.oversees(place_of(school)):
        raise NotAllowed("запускать маршрут для этой школы может координатор или администратор")
    return actor.user_id


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """Load an instance for change. On PostgreSQL the row lock queues concurrent writers of the same
    instance; the version column still guards against anything that slips past (and SQLite)."""
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    instance = session.scalars(query.with_for_update().execution_options(populate_existing=True)).first()
    if instance is None:
        raise InstanceNotFound(f"процесс {instance_id} не найден")
    return instance


def sync_tasks(session: Session, instance: ProcessInstance, run: WorkflowRun, spec: TemplateSpec,
               now: datetime) -> list[Task]:
    """Mirror READY user tasks into the task table; close rows that are no longer ready."""
    ready = {t.task_id: t for t in run.ready_user_tasks()}
    open_rows = list(session.scalars(select(Task).where(Task.instance_id == instance.id,
                                                         Task.status == TaskStatus.READY)))
    for row in open_rows:
        if row.spiff_task_id not in ready:
            row.status = TaskStatus.CANCELLED
            close_deadlines(session, row.id, now)
            audit.record(session, now, "task.cancelled", instance_id=instance.id, task_id=row.id)
    known = {row.spiff_task_id for row in open_rows}
    school = instance.school
    calendar = calendar_of(spec, instance.cohort)
    workdays = load_calendar(session) if ready.keys() - known else None
    opened = []
    for task_id, ready_task in ready.items():
        if task_id in known:
            continue
        meta = spec.user_tasks[ready_task.element_id]
        due_at = compute_due(DueRule.parse(meta.deadline), now, calendar, workdays)
        name = f"{ready_task.name}: {ready_task.subject}" if ready_task.subject else ready_task.name
        row = Task(instance_id=instance.id, spiff_task_id=task_id, element_id=meta.element_id,
                   name=name[:500], stage=meta.stage, role=Role(meta.role), form_key=meta.form,
                   school_id=school.id, municipality_id=school.municipality_id, region_id=school.region_id,
                   status=TaskStatus.READY, due_at=due_at, escalation_level=0, created_at=now)
        session.add(row)
        session.flush()
        assert workdays is not None
        schedule_task(session, row, spec.sections, workdays, meta.escalation)
        audit.record(session, now, "task.ready", instance_id=instance.id, task_id=row.id,
                     element=meta.element_id, role=meta.role, due_at=due_at.isoformat() if due_at else None)
        opened.append(row)
    if spec.has_timers:
        _sync_timers(session, instance, run, now)
    update_progress(instance, run, spec, now)
    return opened


def _sync_timers(session: Session, instance: ProcessInstance, run: WorkflowRun, now: datetime) -> None:
    """One deadline row per timer event the workflow waits on; rows of timers gone (a boundary timer
    whose task was completed) are closed."""
    pending = {timer.task_id: timer for timer in run.pending_timers(now)}
    rows = session.scalars(select(Deadline).where(Deadline.instance_id == instance.id,
                                                  Deadline.kind == DeadlineKind.TIMER, Deadline.fired_at.is_(None)))
    known = set()
    for row in rows:
        spiff_task_id = (row.payload or {}).get("spiff_task_id")
        if spiff_task_id in pending:
            known.add(spiff_task_id)
        else:
            row.fired_at, row.cancelled = now, True
    for timer in pending.values():
        if timer.task_id not in known:
            session.add(Deadline(instance_id=instance.id, kind=DeadlineKind.TIMER, step=0, fire_at=timer.fire_at,
                                 payload={"spiff_task_id": timer.task_id, "element": timer.element_id}))


def fire_timer(session: Session, instance_id: int, spiff_task_id: str, now: datetime) -> list[Task]:
    """The sweep's half of a BPMN timer: fire it in the workflow and mirror what follows."""
    instance = lock_instance(session, instance_id)
    if instance.status is not InstanceStatus.RUNNING:
        return []
    compiled = compiled_version(session, instance.template_version_id)
    run = WorkflowRun.restore(compiled, instance.workflow_json)
    if not run.fire_timer(spiff_task_id):
        return []
    audit.record(session, now, "timer.fired", instance_id=instance.id, spiff_task_id=spiff_task_id)
    opened = sync_tasks(session, instance, run, compiled.spec, now)
    instance.workflow_json = run.dump()
    if run.is_completed:
        audit.record(session, now, "instance.completed", instance_id=instance.id)
    return opened


def update_progress(instance: ProcessInstance, run: WorkflowRun, spec: TemplateSpec, now: datetime) -> None:
    """Status and current stage of the instance, from what the workflow waits on."""
    ready_stages = [spec.user_tasks[t.element_id].stage for t in run.ready_user_tasks()]
    if run.is_completed:
        instance.status = InstanceStatus.COMPLETED
        instance.completed_at = now
    elif ready_stages:
        # With parallel work in several stages, the earliest one is what holds the school back.
        instance.current_stage = min(ready_stages, key=spec.stage_index)


def close_deadlines(session: Session, task_id: int, now: datetime) -> None:
    """A task that is done or gone needs no reminders, due checks or escalations any more."""
    session.execute(update(Deadline).where(Deadline.task_id == task_id, Deadline.fired_at.is_(None))
                    .values(cancelled=True, fired_at=now))


@dataclass
class CohortStart:
    year: int
    started: list[int] = field(default_factory=list)
    already_running: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _schools_without_instance(db: Database, year: int, region_code: str | None) -> tuple[list[str], int]:
    with db.reading() as session:
        cohort = find_cohort(session, year)
        taken = select(ProcessInstance.school_id).where(ProcessInstance.cohort_id == cohort.id)
        running = session.scalar(select(func.count()).select_from(taken.subquery())) or 0
        query = select(School.code).where(School.id.not_in(taken)).order_by(School.code)
        if region_code:
            query = query.join(Region, Region.id == School.region_id).where(Region.code == region_code)
        return list(session.scalars(query)), running


def start_cohort(db: Database, template_key: str, year: int, *, region_code: str | None = None) -> CohortStart:
    """Start the roadmap for every school (of a region) that has none in this cohort yet.

    Each school starts in its own transaction: one school's failure is reported and does not stop the
    others. Running it again starts only what is missing."""
    ensure_cohort(db, year)
    missing, running = _schools_without_instance(db, year, region_code)
    result = CohortStart(year, already_running=running)
    for code in missing:
        try:
            result.started.append(start_instance(db, template_key, code, cohort_year=year).instance_id)
        except EngineError as err:
            result.failed[code] = err.message
    return result
