"""Process instances: start one for a school, and keep the task table in step with the workflow.

``sync_tasks`` is the only writer of task rows from workflow state: after every engine step it mirrors
each READY user task (with stage, role, scope, due time) and closes rows the workflow no longer waits
on, so every read of "what is on whose desk" goes to the task table and never to the workflow JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, or_, select, update
from sqlalchemy import Sequence as DbSequence
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, joinedload

from engine import audit
from engine.actors import OPERATOR, Who, is_operator
from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.runtime import SERIALIZER_VERSION, WorkflowRun
from engine.bpmn.spec import TemplateSpec
from engine.db import Database
from engine.errors import Conflict, EngineError, InstanceNotFound, NotAllowed
from engine.fast_writes import ClosedRows, insert_pending, insert_tasks, queue_row, writes_together
from engine.models import (
    AuditRecord,
    Cohort,
    Deadline,
    DeadlineKind,
    InstanceStatus,
    ProcessInstance,
    Region,
    School,
    Task,
    TaskStatus,
    TemplateVersion,
)
from engine.org.areas import area_of
from engine.org.core import ACTOR_COLUMNS, Actor, actor_of_columns, find_school, load_user, place_of
from engine.org.regions import region_zone
from engine.process import events
from engine.process.cohorts import calendar_of, ensure_cohort, find_cohort
from engine.process.schedule import deadline_row, schedule_task
from engine.roles import Role
from engine.templates.versions import compiled_version, find_version
from engine.timing.due import DueRule, compute_due
from engine.timing.production_calendar import OVERRIDES_COLUMN, calendar_of_column, load_calendar
from engine.timing.workdays import WorkCalendar
from engine.timing.zones import DEFAULT_ZONE


@dataclass(frozen=True)
class StartedInstance:
    instance_id: int
    template_key: str
    template_version: int
    school_code: str
    ready_task_ids: list[int]


def start_instance(db: Database, template_key: str, school_code: str, *, actor: Who, version: int | None = None,
                   cohort_year: int | None = None) -> StartedInstance:
    """Start the template (newest deployed version unless one is named) for one school, in a cohort
    (one roadmap per school per cohort) or ad hoc."""
    with db.transaction() as session:
        school = find_school(session, school_code)
        actor_id = _starter(session, actor, school)
        row = find_version(session, template_key, version)
        cohort = find_cohort(session, cohort_year) if cohort_year is not None else None
        if cohort is not None and session.scalar(select(ProcessInstance.id).filter_by(
                school_id=school.id, cohort_id=cohort.id)) is not None:
            raise Conflict(f"у школы «{school.code}» уже есть маршрут в когорте {cohort.year} года")
        compiled = compiled_version(session, row.id)
        now = db.now()
        instance, run = new_instance(compiled, row, school, cohort, actor_id, now)
        session.add(instance)
        session.flush()
        audit.record(session, now, "instance.started", actor_id=actor_id, instance_id=instance.id,
                     template_version_id=row.id, school=school.code)
        _entered_first_stage(session, instance, now)  # queued before sync_tasks writes: in its one INSERT
        opened = sync_tasks(session, instance, run, compiled.spec, now, open_rows=[])
        return StartedInstance(instance.id, row.key, row.version, school.code, [t.id for t in opened])


def new_instance(compiled: CompiledTemplate, row: TemplateVersion, school: School, cohort: Cohort | None,
                  actor_id: int | None, now: datetime) -> tuple[ProcessInstance, WorkflowRun]:
    """A school's workflow started in memory and its instance row, not yet added to the session."""
    start_data = {"school": {"code": school.code, "name": school.name}, "cohort": cohort.year if cohort else None}
    run = WorkflowRun.start(compiled, start_data)
    if compiled.spec.has_timers:
        run.pending_timers(now)  # fix timer fire times by the engine's clock before the state is stored
    instance = ProcessInstance(template_version=row, school=school, cohort=cohort,
                               status=InstanceStatus.RUNNING, workflow_json=run.dump(),
                               serializer_version=SERIALIZER_VERSION, started_at=now,
                               started_by_id=actor_id)
    update_progress(instance, run, compiled.spec, now)  # before INSERT: the row starts at version 1
    return instance, run


def _starter(session: Session, actor: Who, school: School) -> int | None:
    """The operator (the CLI, a job) starts any school; a user must be an admin or coordinate its area."""
    if is_operator(actor):
        return None
    user = load_user(session, actor)
    if not user.scope.oversees(place_of(school)):
        raise NotAllowed("запускать маршрут для этой школы может координатор или администратор")
    return user.user_id


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """Load an instance for change. On PostgreSQL the row lock queues concurrent writers of the same
    instance; the version column still guards against anything that slips past (and SQLite)."""
    instance = session.scalars(_LOCK_BY_ID, {"id": instance_id}).first()
    if instance is None:
        raise InstanceNotFound(f"процесс {instance_id} не найден")
    return instance


def lock_instance_of_task(session: Session, task_id: int) -> ProcessInstance | None:
    """``lock_instance`` for the instance a task belongs to, in the same one statement."""
    return session.scalars(_LOCK_BY_TASK, {"id": task_id}).first()


@dataclass(frozen=True)
class StepStart:
    """What a completion reads in its first statement: the locked instance (with school, cohort and template
    hash), the acting user, the calendar overrides and the school's zone — one round trip instead of four —
    and, on PostgreSQL, an id for the task the step will most likely open (``next_task_id``)."""

    instance: ProcessInstance
    actor: Actor
    workdays: WorkCalendar
    zone_name: str
    next_task_id: int | None = None


def lock_step(session: Session, task_id: int, login: str) -> StepStart | None:
    """``lock_instance_of_task`` that also reads the actor (``load_actor``), the calendar overrides
    (``load_calendar``) and the school's time zone, as columns of the same statement. The actor and the
    overrides are small scalar subqueries; only the instance row is locked. None: no such task.

    On PostgreSQL it also takes the next value of the task ids' sequence: most steps open one task, and with
    its id known beforehand its row goes into the step's one write statement (``fast_writes.adopt_tasks``)
    instead of an INSERT … RETURNING of its own. A step that opens none or several leaves a gap in the ids,
    as any rolled-back insert does."""
    statement = _LOCK_STEP_WITH_ID if writes_together(session) else _LOCK_STEP
    row = session.execute(statement, {"id": task_id, "login": login}).first()
    if row is None:
        return None
    instance, actor_id, grants, overrides, time_zone, *next_id = row
    return StepStart(instance, actor_of_columns(login, actor_id, grants), calendar_of_column(overrides),
                     time_zone or DEFAULT_ZONE, next_id[0] if next_id else None)


def _locked(where: ColumnElement[bool]) -> Select[ProcessInstance]:
    # The school, the cohort and the template version's content hash come in the same statement (only
    # the instance row is locked): task mirroring and the compiled-template cache need them, and each
    # would otherwise be a round trip of its own.
    return (select(ProcessInstance).where(where)
            .options(joinedload(ProcessInstance.school), joinedload(ProcessInstance.cohort),
                     joinedload(ProcessInstance.template_version).load_only(TemplateVersion.content_hash))
            .with_for_update(of=ProcessInstance).execution_options(populate_existing=True))


# Built once, the ids bound at execution: building this statement costs more Python than running it,
# and every step of every instance runs it.
_LOCK_BY_ID = _locked(ProcessInstance.id == bindparam("id"))
_LOCK_BY_TASK = _locked(ProcessInstance.id == select(Task.instance_id).where(Task.id == bindparam("id"))
                        .scalar_subquery())
_SCHOOL_ZONE = (select(Region.time_zone).join(School, School.region_id == Region.id)
                .where(School.id == ProcessInstance.school_id).scalar_subquery().label("school_zone"))
_LOCK_STEP = _LOCK_BY_TASK.add_columns(*ACTOR_COLUMNS, OVERRIDES_COLUMN, _SCHOOL_ZONE)
_LOCK_STEP_WITH_ID = _LOCK_STEP.add_columns(DbSequence("task_id_seq").next_value().label("next_task_id"))


def sync_tasks(session: Session, instance: ProcessInstance, run: WorkflowRun, spec: TemplateSpec,
               now: datetime, *, open_rows: Sequence[Task] | None = None) -> list[Task]:
    """Mirror READY user tasks into the task table; close rows that are no longer ready.

    ``open_rows`` are the instance's READY rows when the caller has already read them (a new instance
    has none). One flush writes the new task rows (one INSERT gives their ids); their deadline rows and
    audit records follow with one INSERT per table."""
    mirror = TaskMirror.of(session, instance, run, spec, now, open_rows)
    insert_tasks(session, mirror.opened)
    session.flush()
    mirror.record()
    finish_sync(session, instance, run, spec, now)
    insert_pending(session, Deadline, AuditRecord)
    return mirror.opened


@dataclass
class TaskMirror:
    """The task-table half of a workflow step, in two phases around one flush: rows first (their ids
    come back from the INSERT), then what hangs on the ids — deadline rows and audit records.

    Split so that callers can put their own records between them (a completion's ``task.completed``
    comes before the ``task.ready`` of what follows) and so that a bulk start can mirror hundreds of
    instances with one flush."""

    session: Session
    instance: ProcessInstance
    spec: TemplateSpec
    now: datetime
    cancelled: list[Task]
    opened: list[Task]
    workdays: WorkCalendar | None

    @classmethod
    def of(cls, session: Session, instance: ProcessInstance, run: WorkflowRun, spec: TemplateSpec, now: datetime,
           open_rows: Sequence[Task] | None = None, workdays: WorkCalendar | None = None,
           zone_name: str | None = None) -> TaskMirror:
        ready = {t.task_id: t for t in run.ready_user_tasks()}
        if open_rows is None:
            open_rows = list(session.scalars(select(Task).where(Task.instance_id == instance.id,
                                                                 Task.status == TaskStatus.READY)))
        cancelled = [row for row in open_rows if row.spiff_task_id not in ready]
        for row in cancelled:
            row.status = TaskStatus.CANCELLED
        known = {row.spiff_task_id for row in open_rows}
        if workdays is None and ready.keys() - known:
            workdays = load_calendar(session)
        school = instance.school
        calendar = calendar_of(spec, instance.cohort)
        if workdays is not None:  # counted in the school's own dates: its region's time zone
            workdays = workdays.in_zone(zone_name or region_zone(session, school.region_id))
        opened = []
        for task_id, ready_task in ready.items():
            if task_id in known:
                continue
            meta = spec.user_tasks[ready_task.element_id]
            due_at = compute_due(DueRule.parse(meta.deadline), now, calendar, workdays)
            name = f"{ready_task.name}: {ready_task.subject}" if ready_task.subject else ready_task.name
            # Every column given (insert_tasks writes it as it is, and nothing is left to load later).
            row = Task(instance=instance, instance_id=instance.id, spiff_task_id=task_id, element_id=meta.element_id,
                       name=name[:500], stage=meta.stage, role=Role(meta.role), form_key=meta.form,
                       school_id=school.id, municipality_id=school.municipality_id, region_id=school.region_id,
                       assignee_id=None, status=TaskStatus.READY, due_at=due_at, escalation_level=0,
                       federal_overdue=False, draft=None, created_at=now, completed_at=None, completed_by_id=None)
            opened.append(row)
        return cls(session, instance, spec, now, cancelled, opened, workdays)

    def record(self) -> None:
        """After ``insert_tasks`` gave the new rows their ids: deadline rows and audit records."""
        if any(row.id is None for row in self.opened):
            raise RuntimeError("TaskMirror.record before insert_tasks: deadline rows would have no task id")
        session, now, instance_id = self.session, self.now, self.instance.id
        if self.cancelled:
            close_deadlines(session, [row.id for row in self.cancelled], now)
        for row in self.cancelled:
            audit.queue(session, now, "task.cancelled", instance_id=instance_id, task_id=row.id)
        for row in self.opened:
            assert self.workdays is not None
            # Its people hear of it from the sweep: here one more row in the step's one INSERT of deadline
            # rows, so telling them costs a completion nothing measurable and cannot fail it.
            queue_row(session, Deadline, deadline_row(instance_id, row.id, DeadlineKind.ARRIVAL, 0, now, None))
            schedule_task(session, row, self.spec.sections, self.workdays,
                          self.spec.user_tasks[row.element_id].escalation)
            audit.queue(session, now, "task.ready", instance_id=instance_id, task_id=row.id,
                         element=row.element_id, role=row.role.value,
                         due_at=row.due_at.isoformat() if row.due_at else None)
            events.task_event(session, events.TASK_READY, row, self.instance.school, now)




def finish_sync(session: Session, instance: ProcessInstance, run: WorkflowRun, spec: TemplateSpec,
                now: datetime, *, new: bool = False) -> None:
    """Timer rows (templates with timer events only) and the instance's status and stage. A ``new``
    instance has no timer rows yet, so none are looked for (a cohort start would ask once per school)."""
    if spec.has_timers:
        _sync_timers(session, instance, run, now, new=new)
    stage, status = instance.current_stage, instance.status
    update_progress(instance, run, spec, now)
    if instance.current_stage != stage:
        events.stage_changed(session, instance, stage, now)
    if instance.status is InstanceStatus.COMPLETED and status is not InstanceStatus.COMPLETED:
        events.instance_completed(session, instance, now)


def _entered_first_stage(session: Session, instance: ProcessInstance, now: datetime) -> None:
    """A started roadmap's stage was set before its row was written (``new_instance``): told here, with its id."""
    if instance.current_stage is not None:
        events.stage_changed(session, instance, None, now)


def _sync_timers(session: Session, instance: ProcessInstance, run: WorkflowRun, now: datetime, *,
                 new: bool = False) -> None:
    """One deadline row per timer event the workflow waits on; rows of timers gone (a boundary timer
    whose task was completed) are closed."""
    pending = {timer.task_id: timer for timer in run.pending_timers(now)}
    # A row whose automatic tries are spent (fired, with its error) still stands for its timer: it waits
    # for a person's retry, and a second row would fail all over again.
    rows: Sequence[Deadline] = () if new else session.scalars(select(Deadline).where(
        Deadline.instance_id == instance.id, Deadline.kind == DeadlineKind.TIMER, Deadline.cancelled.is_(False),
        or_(Deadline.fired_at.is_(None), Deadline.last_error.is_not(None)))).all()
    known = set()
    for row in rows:
        spiff_task_id = (row.payload or {}).get("spiff_task_id")
        if spiff_task_id in pending:
            known.add(spiff_task_id)
        else:
            row.fired_at, row.cancelled = now, True
    for timer in pending.values():
        if timer.task_id not in known:  # written by the step's insert_pending, after its flush
            queue_row(session, Deadline, deadline_row(instance.id, None, DeadlineKind.TIMER, 0, timer.fire_at,
                                                      {"spiff_task_id": timer.task_id, "element": timer.element_id}))


def fire_timer(session: Session, instance_id: int, spiff_task_id: str, now: datetime) -> list[Task]:
    """The sweep's half of a BPMN timer: fire it in the workflow and mirror what follows."""
    return _step(session, instance_id, now, lambda run: run.fire_timer(spiff_task_id),
                 "timer.fired", spiff_task_id=spiff_task_id)


def resume_instance(session: Session, instance_id: int, now: datetime) -> list[Task]:
    """Run a parked step again (an incident's retry) and mirror what follows. A step that fails again
    raises ``WorkflowFailed``; the caller's savepoint then drops whatever this began."""
    def advance(run: WorkflowRun) -> bool:
        run.advance()
        return True
    return _step(session, instance_id, now, advance, "instance.resumed")


def _step(session: Session, instance_id: int, now: datetime, move: Callable[[WorkflowRun], bool], action: str,
          **details: Any) -> list[Task]:
    """Lock the instance, move its workflow (``move`` says whether anything happened), mirror, store."""
    instance = lock_instance(session, instance_id)
    if instance.status is not InstanceStatus.RUNNING:
        return []
    compiled = compiled_version(session, instance.template_version_id)
    run = WorkflowRun.restore(compiled, instance.workflow_json)
    if not move(run):
        return []
    audit.record(session, now, action, instance_id=instance.id, **details)
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


def close_deadlines(session: Session, task_ids: int | Sequence[int], now: datetime) -> None:
    """A task that is done or gone needs no reminders, due checks or escalations any more."""
    ids = [task_ids] if isinstance(task_ids, int) else list(task_ids)
    # A plain table UPDATE by task id, without the ORM's autoflush and bookkeeping: it matches rows
    # already in the database, which is where a closing task's rows are (written when it opened).
    session.connection().execute(_CLOSE_DEADLINES, {"ids": ids, "now": now})


def closing_deadlines(task_ids: Sequence[int], now: datetime) -> ClosedRows:
    """``close_deadlines`` for ``write_together`` to carry in a step's one statement."""
    return ClosedRows(_DEADLINES, "task_id", tuple(task_ids), {"cancelled": True, "fired_at": now},
                      _DEADLINES.c.fired_at.is_(None))


_DEADLINES = cast(Table, Deadline.__table__)
# Built once (every completion runs it); the ids go in as an expanding IN list.
_CLOSE_DEADLINES = (update(_DEADLINES)
                    .where(_DEADLINES.c.task_id.in_(bindparam("ids", expanding=True)), _DEADLINES.c.fired_at.is_(None))
                    .values(cancelled=True, fired_at=bindparam("now")))


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
        schools = select(School.id, School.code)
        if region_code:  # «already running» counts the region's schools only, like the ones it starts
            schools = schools.join(Region, Region.id == School.region_id).where(Region.code == region_code)
        area = schools.subquery()
        running = session.scalar(select(func.count()).select_from(area).where(area.c.id.in_(taken))) or 0
        missing = session.scalars(select(area.c.code).where(area.c.id.not_in(taken)).order_by(area.c.code))
        return list(missing), running


#: Schools per transaction of a cohort start: large enough that statements are few, small enough that
#: a retry of a failed chunk school by school stays short and the transaction holds few locks.
CHUNK_SIZE = 250


def start_cohort(db: Database, template_key: str, year: int, *, actor: Who, region_code: str | None = None,
                 chunk_size: int = CHUNK_SIZE, progress: Callable[[int, int], None] | None = None) -> CohortStart:
    """Start the roadmap for every school (of a region) that has none in this cohort yet.

    Schools start in chunks of ``chunk_size``, one transaction per chunk with one INSERT per table
    (instances, tasks, deadline rows, audit records). A school whose workflow cannot start is reported
    and left out of its chunk; if a chunk fails in the database (say, a school got its roadmap from
    somewhere else meanwhile), its schools are started again one by one, so one school's failure is
    reported for that school and does not stop the others. Running it again starts only what is missing.

    The operator, admins and the federal level start a cohort anywhere; a regional coordinator, in their own
    region only (``region_code`` required). Once allowed, the schools start as the chunked start writes them:
    without a user of their own (``started_by`` and the audit's actor NULL), as before."""
    with db.reading() as session:
        _may_start_cohort(session, actor, region_code)
    ensure_cohort(db, year)
    missing, running = _schools_without_instance(db, year, region_code)
    result = CohortStart(year, already_running=running)
    for start in range(0, len(missing), chunk_size):
        chunk = missing[start:start + chunk_size]
        try:
            started, failed = _start_chunk(db, template_key, year, chunk)
        except (EngineError, SQLAlchemyError):
            started, failed = _start_one_by_one(db, template_key, year, chunk)
        result.started.extend(started)
        result.failed.update(failed)
        if progress is not None:  # schools done so far, of all to start (the CLI's progress bar)
            progress(start + len(chunk), len(missing))
    return result


def _may_start_cohort(session: Session, actor: Who, region_code: str | None) -> None:
    if is_operator(actor):
        return
    user = load_user(session, actor)
    if user.scope.is_admin or any(grant.role is Role.FEDERAL for grant in user.scope.grants):
        return
    if region_code is None:
        raise NotAllowed("запуск когорты по всей стране — для администратора или ФИОКО")
    area_of(session, user, region_code, None)  # a regional coordinator of this region; anyone else is refused


def _start_chunk(db: Database, template_key: str, year: int,
                 codes: Sequence[str]) -> tuple[list[int], dict[str, str]]:
    with db.transaction() as session:
        row = find_version(session, template_key)
        compiled = compiled_version(session, row.id)
        cohort = find_cohort(session, year)
        schools = session.scalars(select(School).where(School.code.in_(codes)).order_by(School.code)).all()
        workdays, now = load_calendar(session), db.now()
        # A school gone since the list was made is reported as a single start would report it.
        failed = {code: f"школа с кодом «{code}» не найдена" for code in set(codes) - {s.code for s in schools}}
        started: list[tuple[ProcessInstance, WorkflowRun]] = []
        for school in schools:
            try:
                started.append(new_instance(compiled, row, school, cohort, None, now))
            except EngineError as err:  # nothing written for it yet: report it, start the rest
                failed[school.code] = err.message
        session.add_all(instance for instance, _ in started)
        session.flush()  # one INSERT of instances: their ids
        mirrors = [TaskMirror.of(session, instance, run, compiled.spec, now, [], workdays) for instance, run in started]
        insert_tasks(session, [row for mirror in mirrors for row in mirror.opened])  # one INSERT: their ids
        for (instance, run), mirror in zip(started, mirrors, strict=True):
            audit.queue(session, now, "instance.started", instance_id=instance.id, template_version_id=row.id,
                        school=instance.school.code)
            mirror.record()
            finish_sync(session, instance, run, compiled.spec, now, new=True)
            _entered_first_stage(session, instance, now)
        insert_pending(session, Deadline, AuditRecord)
        return [instance.id for instance, _ in started], failed


def _start_one_by_one(db: Database, template_key: str, year: int,
                      codes: Sequence[str]) -> tuple[list[int], dict[str, str]]:
    started, failed = [], {}
    for code in codes:
        try:
            # The cohort start is authorized already; its schools start without a user, as a chunk does.
            started.append(start_instance(db, template_key, code, cohort_year=year, actor=OPERATOR).instance_id)
        except EngineError as err:
            failed[code] = err.message
    return started, failed
