"""Batch operations on running roadmaps (issue 22): withdraw, suspend, resume, change the curator, send back
or move every school of a selection — a region or a municipality, narrowed by stage and by overdue tasks.

A batch does to each school exactly what the single operation does, because it calls the same per-school
step (``management.*_one``) with the same authorization and refusals. ``start_batch`` records a run and fixes
its schools (one ``batch_item`` each, pending); ``run_batch`` (an rq job, a thread of the web app, or the
CLI) then settles them one transaction each, the migration runs' way (engine/process/migration.py):

- **dry run**: each school's step really runs, in a transaction that is rolled back; the item says
  «будет сделано» (``done``) or «откажет: <message>» (``failed``). Nothing else changes.
- **run**: the step, the item and the run's counters and heartbeat commit together, so a school is either
  done and recorded, or neither; one school's failure is recorded with its message in a transaction of its
  own and the others proceed.
- **crash**: a run whose heartbeat is older than ``HEARTBEAT_LIMIT`` shows as interrupted; ``resume_batch``
  hands it to a new runner (``resumes`` + 1) that takes the items still pending — each school exactly once.
  A runner that finds a higher runner number on the row stops; a job delivered twice finds the run claimed.

The runner acts as the person who recorded the run (the operator for the CLI): a coordinator's batch is
checked against their region at every school, as their single operation would be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine.actors import OPERATOR, Operator, Who, is_operator, login_of
from engine.db import Database
from engine.errors import Conflict, EngineError, FormInvalid, NotAllowed, NotFound
from engine.labels import BATCH_OPERATIONS
from engine.models import (
    BatchItem,
    BatchRun,
    BatchRunStatus,
    InstanceStatus,
    Municipality,
    ProcessInstance,
    Region,
    School,
    Task,
    TaskStatus,
    User,
)
from engine.org.core import load_actor
from engine.process import management
from engine.process.migration import HEARTBEAT_LIMIT
from engine.roles import Role

#: The operations a batch can do (their words are in engine/labels.py, with the page's other texts).
OPERATIONS = BATCH_OPERATIONS
#: Item outcomes (``pending`` until settled); in a dry run ``done`` reads «будет сделано».
PENDING, DONE, FAILED = "pending", "done", "failed"
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class BatchFilter:
    """Which running roadmaps: those of a region or a municipality (one of them), optionally only at one stage
    (``process_instance.current_stage``) and only those with an overdue open task."""

    region: str | None = None
    municipality: str | None = None
    stage: str | None = None
    overdue: bool = False

    def __post_init__(self) -> None:
        if (self.region is None) == (self.municipality is None):
            raise FormInvalid({"selection": ["укажите регион или муниципалитет"]})

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "municipality": self.municipality, "stage": self.stage,
                "overdue": self.overdue}

    @property
    def area(self) -> management.Selection:
        return management.Selection(municipality=self.municipality, region=self.region)


@dataclass(frozen=True)
class SelectedSchool:
    school_id: int
    school_code: str
    school_name: str
    stage: str | None
    suspended: bool
    overdue: bool


@dataclass(frozen=True)
class BatchItemView:
    school_code: str
    school_name: str
    stage: str | None
    outcome: str
    message: str


@dataclass(frozen=True)
class BatchRunView:
    id: int
    operation: str
    params: dict[str, Any]
    selection: dict[str, Any]
    dry_run: bool
    status: str
    total: int
    done: int
    failed: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    resumes: int
    created_by: str | None
    items: list[BatchItemView] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.done + self.failed

    @property
    def finished(self) -> bool:
        return self.status in (BatchRunStatus.DONE, BatchRunStatus.FAILED)

    @property
    def interrupted(self) -> bool:
        return self.status == INTERRUPTED

    @property
    def will_do(self) -> list[str]:
        """The schools a dry run found the operation would be done for: what a confirmation runs."""
        return [item.school_code for item in self.items if item.outcome == DONE]


def _interrupted(run: BatchRun, now: datetime) -> bool:
    unfinished = run.status in (BatchRunStatus.PENDING, BatchRunStatus.RUNNING)
    return unfinished and (run.heartbeat_at or run.created_at) < now - HEARTBEAT_LIMIT


def _view(session: Session, run: BatchRun, now: datetime, *, items: bool = True) -> BatchRunView:
    status = INTERRUPTED if _interrupted(run, now) else run.status.value
    rows: list[BatchItem] = (list(session.scalars(select(BatchItem).where(BatchItem.run_id == run.id)
                                                  .order_by(BatchItem.position))) if items else [])
    return BatchRunView(run.id, run.operation, dict(run.params or {}), dict(run.selection or {}), run.dry_run, status,
                        run.total, run.done, run.failed, run.created_at, run.started_at, run.finished_at,
                        run.heartbeat_at, run.resumes, run.created_by.login if run.created_by else None,
                        [BatchItemView(i.school_code, i.school_name, i.stage, i.outcome, i.message) for i in rows])


# --- the selection -------------------------------------------------------------------------------------


def _area_ids(session: Session, selection: BatchFilter) -> tuple[str, int]:
    if selection.municipality is not None:
        found = session.scalar(select(Municipality.id).where(Municipality.code == selection.municipality))
        if found is None:
            raise NotFound(f"муниципалитет «{selection.municipality}» не найден")
        return "municipality", found
    found = session.scalar(select(Region.id).where(Region.code == selection.region))
    if found is None:
        raise NotFound(f"регион «{selection.region}» не найден")
    return "region", found


def _selected(session: Session, operation: str, selection: BatchFilter, now: datetime) -> list[SelectedSchool]:
    """The schools whose running roadmap the filter picks (a suspension only those not suspended, a resume
    only the suspended ones: the others are not what the person means), in code order."""
    kind, area_id = _area_ids(session, selection)
    overdue = exists().where(Task.instance_id == ProcessInstance.id, Task.status == TaskStatus.READY,
                             Task.due_at < now)
    query = (select(School.id, School.code, School.name, ProcessInstance.current_stage,
                    ProcessInstance.suspended_at, overdue.label("overdue"))
             .join(ProcessInstance, ProcessInstance.school_id == School.id)
             .where(ProcessInstance.status == InstanceStatus.RUNNING,
                    (School.municipality_id if kind == "municipality" else School.region_id) == area_id)
             .order_by(School.code, ProcessInstance.id))
    if selection.stage:
        query = query.where(ProcessInstance.current_stage == selection.stage)
    if selection.overdue:
        query = query.where(overdue)
    if operation == "suspend":
        query = query.where(ProcessInstance.suspended_at.is_(None))
    elif operation == "resume":
        query = query.where(ProcessInstance.suspended_at.is_not(None))
    found: dict[int, SelectedSchool] = {}
    for school_id, code, name, stage, suspended_at, late in session.execute(query):
        found.setdefault(school_id, SelectedSchool(school_id, code, name, stage, suspended_at is not None,
                                                   bool(late)))
    return list(found.values())


def select_schools(db: Database, operation: str, selection: BatchFilter, *, actor: Who) -> list[SelectedSchool]:
    """What the filter picks, before any dry run (the batch page lists it as the filter changes)."""
    _operation(operation)
    with db.reading() as session:
        management.authorize(session, actor, management.area_places(session, selection.area))
        return _selected(session, operation, selection, db.now())


# --- the operations ------------------------------------------------------------------------------------


def _operation(operation: str) -> None:
    if operation not in OPERATIONS:
        raise FormInvalid({"operation": [f"неизвестная операция «{operation}»: {', '.join(OPERATIONS)}"]})


def check_params(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The operation's inputs, checked before anything is recorded (the same rules as the single operation)."""
    _operation(operation)
    reason = str(params.get("reason") or "").strip()
    if operation == "withdraw":
        comment = str(params.get("comment") or "")
        management.check_withdraw_reason(reason, comment)
        return {"reason": reason, "comment": comment.strip()[:1000]}
    if operation != "resume" and not reason:
        raise FormInvalid({"reason": ["укажите причину"]})
    checked: dict[str, Any] = {"reason": reason[:1000]}
    if operation == "curator":
        if not params.get("to"):
            raise FormInvalid({"to": ["укажите нового куратора"]})
        checked.update(to=str(params["to"]), **{"from": params.get("from") or None})
    elif operation == "send_back":
        if not params.get("element"):
            raise FormInvalid({"element": ["укажите шаг, на который вернуть маршрут"]})
        checked.update(element=str(params["element"]), whole_branch=bool(params.get("whole_branch")))
    elif operation == "move":
        if not params.get("municipality"):
            raise FormInvalid({"municipality": ["укажите муниципалитет"]})
        checked.update(municipality=str(params["municipality"]))
    return checked


def _step(session: Session, operation: str, params: dict[str, Any], school_code: str, *, actor: Who,
          now: datetime, batch: int) -> None:
    """One school's step: the very function the single operation runs in its transaction."""
    reason = params.get("reason", "")
    if operation == "withdraw":
        management.withdraw_one(session, school_code, reason=reason, comment=params.get("comment", ""),
                                actor=actor, now=now, batch=batch)
    elif operation == "suspend":
        management.suspend_one(session, school_code, reason=reason, actor=actor, now=now, batch=batch)
    elif operation == "resume":
        management.resume_one(session, school_code, reason=reason, actor=actor, now=now, batch=batch)
    elif operation == "curator":
        management.change_curator_one(session, school_code, params["to"], from_login=params.get("from"),
                                      reason=reason, actor=actor, now=now, batch=batch)
    elif operation == "send_back":
        management.send_back_one(session, school_code, params["element"], reason=reason,
                                 whole_branch=params.get("whole_branch", False), actor=actor, now=now, batch=batch)
    else:
        management.move_one(session, school_code, params["municipality"], reason=reason, actor=actor, now=now,
                            batch=batch)


# --- recording, running, resuming ----------------------------------------------------------------------


def start_batch(db: Database, operation: str, params: dict[str, Any], selection: BatchFilter, *, actor: Who,
                dry_run: bool = False, schools: list[str] | None = None) -> BatchRunView:
    """Record a run over the schools the filter picks now (or, ``schools`` given — a confirmation after a dry
    run — only those of them); the caller hands its id to ``run_batch``."""
    checked = check_params(operation, params)
    with db.transaction() as session:
        actor_id = management.authorize(session, actor, management.area_places(session, selection.area))
        now = db.now()
        picked = _selected(session, operation, selection, now)
        if schools is not None:
            wanted = set(schools)
            picked = [s for s in picked if s.school_code in wanted]
        if not picked:
            raise Conflict("под отбор не попал ни один идущий маршрут")
        run = BatchRun(operation=operation, params=checked, selection=selection.to_dict(), dry_run=dry_run,
                       status=BatchRunStatus.PENDING, total=len(picked), done=0, failed=0, created_by_id=actor_id,
                       created_at=now, resumes=0)
        session.add(run)
        session.flush()
        session.add_all(BatchItem(run_id=run.id, position=n, school_id=s.school_id, school_code=s.school_code,
                                  school_name=s.school_name, stage=s.stage, outcome=PENDING, message="")
                        for n, s in enumerate(picked))
        audit.record(session, now, "batch.started", actor_id=actor_id, run_id=run.id, operation=operation,
                     dry_run=dry_run, schools=[s.school_code for s in picked], reason=checked.get("reason", ""),
                     **selection.to_dict())
        session.flush()
        return _view(session, run, now)


def confirm_batch(db: Database, dry_run_id: int, *, actor: Who) -> BatchRunView:
    """The run a finished dry run asked to confirm: the same operation and filter, over the schools the dry run
    said it would be done for (and still selected now)."""
    dry = get_batch(db, dry_run_id, actor=actor)
    if not dry.dry_run:
        raise Conflict(f"пакетная операция {dry.id} — не пробный прогон")
    if not dry.finished:
        raise Conflict(f"пробный прогон {dry.id} ещё не закончен")
    selection = dry.selection
    municipality = selection.get("municipality")
    area = BatchFilter(None if municipality else selection.get("region"), municipality, selection.get("stage"),
                       bool(selection.get("overdue")))
    return start_batch(db, dry.operation, dry.params, area, actor=actor, schools=dry.will_do)


def run_batch(db: Database, run_id: int, *, progress: Callable[[int, int], None] | None = None) -> BatchRunView:
    """Settle every pending school of the run, one transaction each; then close the run. A run already
    claimed by a runner is left alone (a job delivered twice does nothing the second time)."""
    begun = _begin(db, run_id)
    if begun is None:
        return get_batch(db, run_id, actor=OPERATOR)
    item_ids, runner = begun
    try:
        for done, item_id in enumerate(item_ids, 1):
            if not _settle(db, run_id, item_id, runner):
                return get_batch(db, run_id, actor=OPERATOR)
            if progress is not None:
                progress(done, len(item_ids))
    except BaseException:
        _close(db, run_id, BatchRunStatus.FAILED, runner)
        raise
    _close(db, run_id, BatchRunStatus.DONE, runner)
    return get_batch(db, run_id, actor=OPERATOR)


def resume_batch(db: Database, run_id: int, *, actor: Who) -> BatchRunView:
    """Give an interrupted run to a new runner; only its pending schools remain to be done."""
    with db.transaction() as session:
        run = _lock_run(session, run_id)
        actor_id = _authorize_run(session, run, actor)
        now = db.now()
        if not _interrupted(run, now):
            if run.status in (BatchRunStatus.DONE, BatchRunStatus.FAILED):
                raise Conflict(f"пакетная операция {run.id} уже завершена")
            minutes = int(HEARTBEAT_LIMIT.total_seconds() // 60)
            raise Conflict(f"пакетная операция {run.id} идёт: её обработчик отвечает; возобновить можно операцию "
                           f"без отклика дольше {minutes} минут")
        run.status, run.resumes, run.heartbeat_at = BatchRunStatus.PENDING, run.resumes + 1, now
        audit.record(session, now, "batch.resumed", actor_id=actor_id, run_id=run.id, resumes=run.resumes,
                     processed=run.done + run.failed, total=run.total)
        return _view(session, run, now, items=False)


def _lock_run(session: Session, run_id: int) -> BatchRun:
    query = select(BatchRun).where(BatchRun.id == run_id).with_for_update()
    run = session.scalars(query.execution_options(populate_existing=True)).first()
    if run is None:
        raise NotFound(f"пакетная операция {run_id} не найдена")
    return run


def _begin(db: Database, run_id: int) -> tuple[list[int], int] | None:
    with db.transaction() as session:
        run = _lock_run(session, run_id)
        if run.status is not BatchRunStatus.PENDING:
            return None
        now = db.now()
        run.status, run.heartbeat_at, run.started_at = BatchRunStatus.RUNNING, now, run.started_at or now
        pending = session.scalars(select(BatchItem.id).where(BatchItem.run_id == run_id, BatchItem.outcome == PENDING)
                                  .order_by(BatchItem.position))
        return list(pending), run.resumes


def _ours(run: BatchRun, runner: int) -> bool:
    return run.status is BatchRunStatus.RUNNING and run.resumes == runner


def _close(db: Database, run_id: int, status: BatchRunStatus, runner: int) -> None:
    with db.transaction() as session:
        run = _lock_run(session, run_id)
        if not _ours(run, runner):
            return
        run.status, run.finished_at = status, db.now()
        audit.record(session, db.now(), "batch.finished", actor_id=run.created_by_id, run_id=run.id,
                     status=status.value, done=run.done, failed=run.failed, dry_run=run.dry_run)


def _runner_actor(session: Session, run: BatchRun) -> Who:
    """Whoever recorded the run acts at every school; the operator for a run the console recorded."""
    if run.created_by_id is None:
        return OPERATOR
    login = session.scalar(select(User.login).where(User.id == run.created_by_id))
    return login if login is not None else Operator(reason="пакетная операция")


def _settle(db: Database, run_id: int, item_id: int, runner: int) -> bool:
    """One school in one transaction; False when the run is no longer this runner's."""
    with db.reading() as session:
        run = session.get(BatchRun, run_id)
        item = session.get(BatchItem, item_id)
        if run is None or not _ours(run, runner):
            return False
        if item is None or item.outcome != PENDING:
            return True
        dry_run, operation, params = run.dry_run, run.operation, dict(run.params or {})
        school_code, actor = item.school_code, _runner_actor(session, run)
    if dry_run:  # the step runs and is rolled back first; the verdict is recorded after
        message = _dry_run(db, operation, params, school_code, actor, run_id)
        return _record_in_own_transaction(db, run_id, item_id, runner, message)
    try:
        with db.transaction() as session:
            run = _lock_run(session, run_id)
            if not _ours(run, runner):
                return False
            item = session.get(BatchItem, item_id)
            if item is None or item.outcome != PENDING:
                return True  # a runner before this one settled it
            now = db.now()
            _step(session, operation, params, school_code, actor=actor, now=now, batch=run_id)
            _record(run, item, DONE, "", now)
            return True
    except Exception as err:  # noqa: BLE001 - one school's failure of any kind must not stop the others
        return _record_in_own_transaction(db, run_id, item_id, runner, _words(err))


def _record_in_own_transaction(db: Database, run_id: int, item_id: int, runner: int, message: str | None) -> bool:
    """A dry run's verdict, or a failed step's message (its attempt was rolled back whole)."""
    with db.transaction() as session:
        run = _lock_run(session, run_id)
        if not _ours(run, runner):
            return False
        item = session.get(BatchItem, item_id)
        if item is None or item.outcome != PENDING:
            return True
        now = db.now()
        _record(run, item, DONE if message is None else FAILED, message or "", now)
        if message is not None and not run.dry_run:
            audit.record(session, now, "batch.school_failed", actor_id=run.created_by_id, run_id=run.id,
                         operation=run.operation, school=item.school_code, message=message,
                         reason=run.params.get("reason", ""))
    return True


class _DryRun(Exception):
    """Raised after a dry run's step succeeded, so that its transaction rolls back."""


def _dry_run(db: Database, operation: str, params: dict[str, Any], school_code: str, actor: Who,
             run_id: int) -> str | None:
    """One school's step in a transaction that is always rolled back: None if it would be done, else the
    message it would be refused with."""
    try:
        with db.transaction() as session:
            _step(session, operation, params, school_code, actor=actor, now=db.now(), batch=run_id)
            raise _DryRun
    except _DryRun:
        return None
    except Exception as err:  # noqa: BLE001 - what the real step would refuse with, whatever it is
        return _words(err)


def _words(err: Exception) -> str:
    if isinstance(err, StaleDataError):
        return "маршрут изменился во время операции (кто-то выполнил задачу); повторите для этой школы"
    if isinstance(err, FormInvalid):
        return "; ".join(message for messages in err.errors.values() for message in messages) or err.message
    return err.message if isinstance(err, EngineError) else f"внутренняя ошибка: {type(err).__name__}: {err}"


def _record(run: BatchRun, item: BatchItem, outcome: str, message: str, now: datetime) -> None:
    item.outcome, item.message, item.settled_at = outcome, message[:2000], now
    if outcome == DONE:
        run.done += 1
    else:
        run.failed += 1
    run.heartbeat_at = now


# --- reading -------------------------------------------------------------------------------------------


def _authorize_run(session: Session, run: BatchRun, actor: Who) -> int | None:
    selection = run.selection or {}
    area = management.Selection(municipality=selection.get("municipality"),
                                region=None if selection.get("municipality") else selection.get("region"))
    return management.authorize(session, actor, management.area_places(session, area))


def get_batch(db: Database, run_id: int, *, actor: Who) -> BatchRunView:
    """A run with its progress and every school's outcome (for whoever manages its area)."""
    with db.reading() as session:
        run = session.get(BatchRun, run_id)
        if run is None:
            raise NotFound(f"пакетная операция {run_id} не найдена")
        _authorize_run(session, run, actor)
        return _view(session, run, db.now())


def list_batches(db: Database, *, actor: Who, limit: int = 20) -> list[BatchRunView]:
    """The latest runs the actor may see (admins: all; a regional coordinator: those of their region)."""
    with db.reading() as session:
        if not is_operator(actor):
            user = load_actor(session, login_of(actor))
            if not (user.scope.is_admin or any(g.role is Role.REGIONAL_COORDINATOR for g in user.scope.grants)):
                raise NotAllowed(management.MANAGERS_ONLY)
        found = []
        for run in session.scalars(select(BatchRun).order_by(BatchRun.id.desc()).limit(200)):
            try:
                _authorize_run(session, run, actor)
            except EngineError:
                continue
            found.append(_view(session, run, db.now(), items=False))
            if len(found) == limit:
                break
        return found
