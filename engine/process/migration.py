"""Moving running process instances of a template to another of its versions, in bulk.

``plan_migration`` is the dry run: for every running instance of KEY@FROM, whether it can move and
why not. ``start_migration`` records a ``migration_run``; ``run_migration`` (a job, or the CLI) then
moves every instance that can, **each in its own transaction**: lock the instance, check again, move
the workflow (``engine.bpmn.migration``), let the task rows follow, audit, and count the result on the
run row — so progress is visible while the run goes on, one instance's failure is recorded and never
stops the others, and a failed instance keeps exactly what it had.

Each of those transactions also bumps the run's ``heartbeat_at``. A run whose heartbeat is older than
``HEARTBEAT_LIMIT`` has lost its runner (a killed worker, a restarted server) and shows as interrupted;
``resume_migration`` hands it to a new runner, which takes the instances not yet recorded. Runners are
numbered (``resumes``): one that finds a higher number on the row stops, so two never run one run.

Task rows keep their identity: a READY user task that SpiffWorkflow keeps has the same Spiff task id
after the move, so its row (id, assignee, due time, deadline rows, draft) stays and only takes the new
version's name, stage, role and form; tasks the new version drops are cancelled and new ones opened by
``sync_tasks``, as after any other step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine.actors import OPERATOR, Who
from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.migration import check_migration, migrate
from engine.bpmn.runtime import SERIALIZER_VERSION, WorkflowRun
from engine.bpmn.spec import TemplateSpec
from engine.db import Database
from engine.errors import Conflict, EngineError, MigrationImpossible, MigrationRunNotFound
from engine.models import (
    Deadline,
    DeadlineKind,
    InstanceStatus,
    MigrationRun,
    MigrationRunStatus,
    ProcessInstance,
    Task,
    TaskStatus,
    TemplateStatus,
    TemplateVersion,
)
from engine.org.core import operator_or_admin
from engine.process.instances import lock_instance, sync_tasks
from engine.roles import Role
from engine.templates.versions import compiled_version, find_version

# What happened to one instance, as stored in ``migration_run.results`` and shown to admins.
MOVED, FAILED, SKIPPED, CAN_MOVE, CANNOT_MOVE = "moved", "failed", "skipped", "can_move", "cannot_move"
#: How a run that lost its runner shows (its row still says pending or running).
INTERRUPTED = "interrupted"
#: A runner bumps the heartbeat with every instance (tens to hundreds of milliseconds each); five
#: minutes without one is a dead runner, not a slow instance.
HEARTBEAT_LIMIT = timedelta(minutes=5)


@dataclass(frozen=True)
class InstanceCheck:
    instance_id: int
    school_code: str
    school_name: str
    tasks: list[str]
    can_move: bool
    reasons: list[str]
    outcome: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "school_code": self.school_code, "school_name": self.school_name,
                "tasks": self.tasks, "can_move": self.can_move, "reasons": self.reasons, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceCheck:
        return cls(**data)


@dataclass(frozen=True)
class MigrationPlan:
    key: str
    from_version: int
    to_version: int
    instances: list[InstanceCheck]
    total: int  # candidates on the old version; ``instances`` may hold only the first ``limit`` of them

    @property
    def complete(self) -> bool:
        return len(self.instances) == self.total

    @property
    def movable(self) -> int:
        return sum(1 for item in self.instances if item.can_move)

    @property
    def blocked(self) -> int:
        return len(self.instances) - self.movable


@dataclass(frozen=True)
class MigrationRunView:
    id: int
    key: str
    from_version: int
    to_version: int
    dry_run: bool
    status: str
    total: int
    moved: int
    failed: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    results: list[InstanceCheck] = field(default_factory=list)
    heartbeat_at: datetime | None = None
    resumes: int = 0

    @property
    def finished(self) -> bool:
        return self.status in (MigrationRunStatus.DONE, MigrationRunStatus.FAILED)

    @property
    def interrupted(self) -> bool:
        return self.status == INTERRUPTED

    @property
    def processed(self) -> int:
        return len(self.results)

    @classmethod
    def of(cls, row: MigrationRun, now: datetime) -> MigrationRunView:
        """``status`` is the row's, or ``interrupted`` when the row is waiting for a runner that is gone."""
        results = sorted((InstanceCheck.from_dict(item) for item in (row.results or {}).values()),
                         key=lambda item: (item.school_code, item.instance_id))
        status = INTERRUPTED if _interrupted(row, now) else row.status.value
        return cls(row.id, row.template_key, row.from_version.version, row.to_version.version, row.dry_run,
                   status, row.total, row.moved, row.failed, row.created_at, row.started_at,
                   row.finished_at, results, row.heartbeat_at, row.resumes)


def _interrupted(run: MigrationRun, now: datetime) -> bool:
    """Not finished, and no sign of life for too long: started and stopped beating, or never started."""
    unfinished = run.status in (MigrationRunStatus.PENDING, MigrationRunStatus.RUNNING)
    return unfinished and (run.heartbeat_at or run.created_at) < now - HEARTBEAT_LIMIT


@dataclass(frozen=True)
class VersionChoice:
    version: int
    title: str
    deployed: bool
    running: int


def _admin(session: Session, actor: Who) -> int | None:
    return operator_or_admin(session, actor, "переносить процессы на другую версию шаблона может только администратор")


def _versions(session: Session, key: str, from_version: int, to_version: int) -> tuple[TemplateVersion,
                                                                                          TemplateVersion]:
    source, target = find_version(session, key, from_version), find_version(session, key, to_version)
    if source.id == target.id:
        raise MigrationImpossible([f"версии совпадают: процессы и так идут по версии {from_version}"])
    if target.status is not TemplateStatus.DEPLOYED:
        raise MigrationImpossible([f"версия {to_version} шаблона «{key}» не развёрнута (выведена из работы)"])
    return source, target


def _running_on(version_id: int) -> ColumnElement[bool]:
    """Candidates: running instances of the version; completed and cancelled ones have nothing to move."""
    return and_(ProcessInstance.template_version_id == version_id, ProcessInstance.status == InstanceStatus.RUNNING)


def _candidates(session: Session, version_id: int, limit: int | None = None) -> list[ProcessInstance]:
    query = (select(ProcessInstance).options(joinedload(ProcessInstance.school)).where(_running_on(version_id))
             .order_by(ProcessInstance.id).limit(limit))
    return list(session.scalars(query))


def _candidate_ids(session: Session, version_id: int) -> list[int]:
    """Counting and listing candidates needs no workflow documents."""
    return list(session.scalars(select(ProcessInstance.id).where(_running_on(version_id)).order_by(ProcessInstance.id)))


def _open_tasks(session: Session, instance_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(instance_ids)
    found: dict[int, list[str]] = {instance_id: [] for instance_id in ids}
    if ids:
        query = (select(Task.instance_id, Task.name).where(Task.instance_id.in_(ids), Task.status == TaskStatus.READY)
                 .order_by(Task.id))
        for instance_id, name in session.execute(query):
            found[instance_id].append(name)
    return found


def _check(instance: ProcessInstance, tasks: list[str], source: CompiledTemplate,
           target: CompiledTemplate) -> InstanceCheck:
    try:
        verdict = check_migration(WorkflowRun.restore(source, instance.workflow_json), target)
        can_move, reasons = verdict.can_move, verdict.reasons
    except EngineError as err:  # a state that no longer restores cannot move either; say so, do not stop
        can_move, reasons = False, [err.message]
    return InstanceCheck(instance.id, instance.school.code, instance.school.name, tasks, can_move, reasons)


def plan_migration(db: Database, key: str, from_version: int, to_version: int, *, actor: Who,
                   limit: int | None = None, progress: Callable[[int, int], None] | None = None) -> MigrationPlan:
    """The dry run: every running instance of KEY@FROM (or the first ``limit``: a page must answer in
    seconds, and each check restores and migrates a workflow), whether it can move to KEY@TO and why not."""
    with db.reading() as session:
        _admin(session, actor)
        source_row, target_row = _versions(session, key, from_version, to_version)
        source, target = compiled_version(session, source_row.id), compiled_version(session, target_row.id)
        total = len(_candidate_ids(session, source_row.id))
        instances = _candidates(session, source_row.id, limit)
        tasks = _open_tasks(session, (i.id for i in instances))
        checks = []
        for done, instance in enumerate(instances, 1):
            checks.append(_check(instance, tasks[instance.id], source, target))
            if progress is not None:  # the CLI's progress bar: each check restores and migrates a workflow
                progress(done, len(instances))
    return MigrationPlan(key, from_version, to_version, checks, total)


def start_migration(db: Database, key: str, from_version: int, to_version: int, *, actor: Who,
                    dry_run: bool = False) -> MigrationRunView:
    """Record a run; the caller hands its id to ``run_migration`` (a background job or the CLI)."""
    with db.transaction() as session:
        actor_id = _admin(session, actor)
        source, target = _versions(session, key, from_version, to_version)
        now = db.now()
        run = MigrationRun(template_key=key, from_version=source, to_version=target, dry_run=dry_run,
                           status=MigrationRunStatus.PENDING, total=len(_candidate_ids(session, source.id)),
                           moved=0, failed=0, results={}, created_by_id=actor_id, created_at=now)
        session.add(run)
        session.flush()
        audit.record(session, now, "migration.started", actor_id=actor_id, template_version_id=target.id,
                     run_id=run.id, key=key, from_version=from_version, to_version=to_version, dry_run=dry_run)
        return MigrationRunView.of(run, now)


def run_migration(db: Database, run_id: int, *,
                  progress: Callable[[int, int], None] | None = None) -> MigrationRunView:
    """Move (or, for a dry run, check) every candidate, one transaction each; then close the run.

    A run already started elsewhere is left alone, so a job delivered twice does not run twice; a
    runner that finds the run resumed by another (``resumes`` moved on) stops where it is."""
    begun = _begin(db, run_id)
    if begun is None:
        return get_run(db, run_id, actor=OPERATOR)
    instance_ids, runner = begun
    try:
        for done, instance_id in enumerate(instance_ids, 1):
            if not _process_one(db, run_id, instance_id, runner):
                return get_run(db, run_id, actor=OPERATOR)
            if progress is not None:  # instances done so far, of this runner's (the CLI's progress bar)
                progress(done, len(instance_ids))
    except BaseException:
        _close(db, run_id, MigrationRunStatus.FAILED, runner)
        raise
    _close(db, run_id, MigrationRunStatus.DONE, runner)
    return get_run(db, run_id, actor=OPERATOR)


def resume_migration(db: Database, run_id: int, *, actor: Who) -> MigrationRunView:
    """Give an interrupted run to a new runner: the run waits (pending) again under the next runner
    number, and the caller hands it to ``run_migration`` as after ``start_migration``. The instances it
    already recorded are not tried again; a run whose runner is alive, or that is finished, is refused."""
    with db.transaction() as session:
        actor_id = _admin(session, actor)
        run = _lock_run(session, run_id)
        now = db.now()
        if not _interrupted(run, now):
            raise Conflict(_not_resumable(run))
        run.status, run.resumes, run.heartbeat_at = MigrationRunStatus.PENDING, run.resumes + 1, now
        audit.record(session, now, "migration.resumed", actor_id=actor_id, template_version_id=run.to_version_id,
                     run_id=run.id, resumes=run.resumes, processed=len(run.results or {}), total=run.total)
        return MigrationRunView.of(run, now)


def _not_resumable(run: MigrationRun) -> str:
    if run.status in (MigrationRunStatus.DONE, MigrationRunStatus.FAILED):
        return f"перенос {run.id} уже завершён"
    minutes = int(HEARTBEAT_LIMIT.total_seconds() // 60)
    return (f"перенос {run.id} идёт: его обработчик отвечает; возобновить можно перенос без отклика "
            f"дольше {minutes} минут")


def _lock_run(session: Session, run_id: int) -> MigrationRun:
    query = select(MigrationRun).where(MigrationRun.id == run_id).with_for_update()
    run = session.scalars(query.execution_options(populate_existing=True)).first()
    if run is None:
        raise MigrationRunNotFound(f"перенос {run_id} не найден")
    return run


def _begin(db: Database, run_id: int) -> tuple[list[int], int] | None:
    """Claim a pending run: the candidates not yet recorded (all of them, unless the run is resumed)
    and this runner's number."""
    with db.transaction() as session:
        run = _lock_run(session, run_id)
        if run.status is not MigrationRunStatus.PENDING:
            return None
        recorded = set(run.results or {})
        instance_ids = [i for i in _candidate_ids(session, run.from_version_id) if str(i) not in recorded]
        now = db.now()
        run.status, run.heartbeat_at, run.started_at = MigrationRunStatus.RUNNING, now, run.started_at or now
        run.total = len(recorded) + len(instance_ids)
        return instance_ids, run.resumes


def _ours(run: MigrationRun, runner: int) -> bool:
    return run.status is MigrationRunStatus.RUNNING and run.resumes == runner


def _close(db: Database, run_id: int, status: MigrationRunStatus, runner: int) -> None:
    with db.transaction() as session:
        run = _lock_run(session, run_id)
        if not _ours(run, runner):
            return
        run.status, run.finished_at = status, db.now()
        audit.record(session, db.now(), "migration.finished", actor_id=run.created_by_id,
                     template_version_id=run.to_version_id, run_id=run.id, status=status.value, moved=run.moved,
                     failed=run.failed)


def _process_one(db: Database, run_id: int, instance_id: int, runner: int) -> bool:
    """One instance in one transaction; False when the run is no longer this runner's."""
    try:
        with db.transaction() as session:
            run = _lock_run(session, run_id)
            if not _ours(run, runner):
                return False
            result = _check_only(session, run, instance_id) if run.dry_run else _move(db, session, run, instance_id)
            _record(run, result, db.now())
    except Exception as err:  # noqa: BLE001 - one instance's failure of any kind must not stop the others
        reasons = err.reasons if isinstance(err, MigrationImpossible) else [_words(err)]
        with db.transaction() as session:
            run = _lock_run(session, run_id)
            if not _ours(run, runner):
                return False
            _record(run, _failure(db, session, run, instance_id, reasons), db.now())
    return True


def _words(err: Exception) -> str:
    if isinstance(err, StaleDataError):  # SQLite has no row locks; the version column caught a concurrent step
        return "процесс изменился во время переноса (кто-то выполнил задачу); запустите перенос ещё раз"
    return err.message if isinstance(err, EngineError) else f"внутренняя ошибка: {type(err).__name__}: {err}"


def _record(run: MigrationRun, result: InstanceCheck, now: datetime) -> None:
    # A new dict, not an in-place change: the JSON column is not mutation-tracked.
    run.results = {**(run.results or {}), str(result.instance_id): result.to_dict()}
    run.heartbeat_at = now
    if result.outcome in (MOVED, CAN_MOVE):
        run.moved += 1
    elif result.outcome in (FAILED, CANNOT_MOVE):
        run.failed += 1


def _still_candidate(run: MigrationRun, instance: ProcessInstance) -> bool:
    return instance.status is InstanceStatus.RUNNING and instance.template_version_id == run.from_version_id


def _skipped(instance: ProcessInstance) -> InstanceCheck:
    reason = ("процесс уже завершён" if instance.status is not InstanceStatus.RUNNING
              else "процесс уже идёт по другой версии")
    return InstanceCheck(instance.id, instance.school.code, instance.school.name, [], False, [reason], SKIPPED)


def _check_only(session: Session, run: MigrationRun, instance_id: int) -> InstanceCheck:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not _still_candidate(run, instance):
        return _skipped(instance) if instance else _gone(instance_id)
    check = _check(instance, _open_tasks(session, [instance_id])[instance_id],
                   compiled_version(session, run.from_version_id), compiled_version(session, run.to_version_id))
    return replace(check, outcome=CAN_MOVE if check.can_move else CANNOT_MOVE)


def _gone(instance_id: int) -> InstanceCheck:
    return InstanceCheck(instance_id, "", "", [], False, ["процесс удалён"], SKIPPED)


def _move(db: Database, session: Session, run: MigrationRun, instance_id: int) -> InstanceCheck:
    """Lock, look again, move, let the task rows follow, audit — in the caller's transaction."""
    instance = lock_instance(session, instance_id)
    if not _still_candidate(run, instance):
        return _skipped(instance)
    tasks = _open_tasks(session, [instance_id])[instance_id]
    target = compiled_version(session, run.to_version_id)
    moved = migrate(WorkflowRun.restore(compiled_version(session, instance.template_version_id),
                                        instance.workflow_json), target)
    now = db.now()
    kept = _follow_task_rows(session, instance, moved, target.spec)
    opened = sync_tasks(session, instance, moved, target.spec, now)
    if not target.spec.has_timers:
        _close_timer_rows(session, instance.id, now)
    instance.template_version_id = run.to_version_id
    instance.workflow_json, instance.serializer_version = moved.dump(), SERIALIZER_VERSION
    audit.record(session, now, "instance.migrated", actor_id=run.created_by_id, instance_id=instance.id,
                 template_version_id=run.to_version_id, run_id=run.id, from_version=run.from_version.version,
                 to_version=run.to_version.version, kept_task_ids=kept, opened_task_ids=[t.id for t in opened])
    if moved.is_completed:
        audit.record(session, now, "instance.completed", instance_id=instance.id)
    session.flush()
    return InstanceCheck(instance.id, instance.school.code, instance.school.name, tasks, True, [], MOVED)


def _follow_task_rows(session: Session, instance: ProcessInstance, run: WorkflowRun, spec: TemplateSpec) -> list[int]:
    """Open rows of tasks the moved workflow still waits on take the new version's name, stage, role and
    form; id, due time, deadline rows and draft stay. Returns the ids of the rows kept."""
    ready = {task.task_id: task for task in run.ready_user_tasks()}
    rows = session.scalars(select(Task).where(Task.instance_id == instance.id, Task.status == TaskStatus.READY))
    kept = []
    for row in rows:
        task = ready.get(row.spiff_task_id)
        if task is None:
            continue  # gone in the new version: sync_tasks cancels the row
        meta = spec.user_tasks[task.element_id]
        role = Role(meta.role)
        if role is not row.role:
            row.assignee_id = None  # whoever took it held the old role, which may not cover the new one
        name = f"{task.name}: {task.subject}" if task.subject else task.name
        row.element_id, row.name, row.stage, row.form_key = meta.element_id, name[:500], meta.stage, meta.form
        row.role = role
        kept.append(row.id)
    return kept


def _close_timer_rows(session: Session, instance_id: int, now: datetime) -> None:
    """A version without timer events never looks at timer rows again: close the old version's ones."""
    session.execute(update(Deadline).where(Deadline.instance_id == instance_id, Deadline.kind == DeadlineKind.TIMER,
                                           Deadline.fired_at.is_(None)).values(cancelled=True, fired_at=now))


def _failure(db: Database, session: Session, run: MigrationRun, instance_id: int,
             reasons: list[str]) -> InstanceCheck:
    """The failed attempt was rolled back whole; what stays is its record, in a transaction of its own."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        return _gone(instance_id)
    audit.record(session, db.now(), "instance.migration_failed", actor_id=run.created_by_id, instance_id=instance_id,
                 template_version_id=run.to_version_id, run_id=run.id, from_version=run.from_version.version,
                 to_version=run.to_version.version, reasons=reasons)
    tasks = _open_tasks(session, [instance_id])[instance_id]
    return InstanceCheck(instance_id, instance.school.code, instance.school.name, tasks, False, reasons, FAILED)


def get_run(db: Database, run_id: int, *, actor: Who) -> MigrationRunView:
    with db.reading() as session:
        _admin(session, actor)
        run = session.get(MigrationRun, run_id)
        if run is None:
            raise MigrationRunNotFound(f"перенос {run_id} не найден")
        return MigrationRunView.of(run, db.now())


def list_runs(db: Database, *, actor: Who, limit: int = 20) -> list[MigrationRunView]:
    with db.reading() as session:
        _admin(session, actor)
        rows = session.scalars(select(MigrationRun).order_by(MigrationRun.id.desc()).limit(limit))
        now = db.now()
        return [MigrationRunView.of(row, now) for row in rows]


def version_choices(db: Database, *, actor: Who) -> dict[str, list[VersionChoice]]:
    """Template key → its versions with the number of running instances on each, for the choice form."""
    with db.reading() as session:
        _admin(session, actor)
        running = dict(session.execute(
            select(ProcessInstance.template_version_id, func.count()).where(
                ProcessInstance.status == InstanceStatus.RUNNING).group_by(ProcessInstance.template_version_id)).all())
        choices: dict[str, list[VersionChoice]] = {}
        query = (select(TemplateVersion.id, TemplateVersion.key, TemplateVersion.version, TemplateVersion.title,
                        TemplateVersion.status).order_by(TemplateVersion.key, TemplateVersion.version))
        for version_id, key, version, title, status in session.execute(query):
            choices.setdefault(key, []).append(VersionChoice(version, title, status is TemplateStatus.DEPLOYED,
                                                             running.get(version_id, 0)))
        return choices
