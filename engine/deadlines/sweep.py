"""Deadlines: every future moment the engine must act on is a row, and a sweep acts on the due ones.

When a task opens, ``schedule_task`` writes its rows: reminders before the due time, the due time
itself, and each escalation step (by default +3, +7 and +14 working days). Completing or cancelling
the task closes them. ``sweep`` takes due rows in small batches — ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent sweeps split the work — acts on each and marks it fired in the same
transaction as the notifications it writes. Its cost follows the number of due rows (a partial index
on unfired ``fire_at``), not the number of open instances; a sweep killed mid-batch has committed
nothing of that batch, so a restart redoes exactly the unfinished rows.

``arrival`` rows (a task has just opened) are swept first and in larger batches: acting on one is a
few dictionary lookups, and the larger the batch, the more of a person's new tasks share one
notification (``engine.deadlines.arrivals``). They are reported apart from the deadlines acted on
(``SweepReport.arrivals``), so ``fired`` still counts reminders, due times, escalations and timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, joinedload

from engine import audit
from engine.actors import Who
from engine.db import Database
from engine.deadlines.arrivals import Arrived, announce
from engine.deadlines.measure_deadlines import (
    MeasureNotice,
    MeasuresOfBatch,
    act_on_measure,
    preload_measures,
    preview_measure,
)
from engine.deadlines.visit_deadlines import VisitNotice, act_on_visit, preview_visit
from engine.errors import Conflict, FormInvalid, IncidentNotFound
from engine.fast_writes import drop_queued, insert_pending
from engine.models import (
    Deadline,
    DeadlineKind,
    Incident,
    Municipality,
    OutboxMessage,
    ProcessInstance,
    School,
    Task,
    TaskStatus,
    User,
)
from engine.org.core import operator_or_admin, users_for_many
from engine.org.scopes import OrgPlace
from engine.process import events
from engine.process.incidents import (
    ADMINS_ONLY,
    RETRY_BACKOFF,
    FailedStep,
    IncidentView,
    incident_view,
    next_try,
    record_failure,
    resolve_for_deadline,
)
from engine.process.instances import fire_timer, resume_instance
from engine.process.notifications import Message, moscow_time, notify, task_link
from engine.roles import ROLE_TITLES, Role, escalation_target
from engine.timing.production_calendar import load_calendar
from engine.timing.workdays import WorkCalendar

DEFAULT_BATCH = 100
#: Arrival rows per batch: a cohort start's chunk (250 schools) in one, so each person hears of it once.
ARRIVAL_BATCH = 1000


@dataclass
class Action:
    deadline_id: int
    kind: str
    step: int
    task_id: int | None
    school: str
    task: str
    recipients: list[str]
    escalation_level: int | None = None


@dataclass(frozen=True)
class Failure:
    """A row the sweep could not act on: rolled back alone, an incident on its instance."""

    deadline_id: int
    instance_id: int
    element_id: str
    error: str
    attempts: int
    retry_at: datetime | None


@dataclass
class SweepReport:
    now: datetime  # the moment deadlines are evaluated at (an operator may ask about another one)
    dry_run: bool
    acted_at: datetime  # the clock's time: when things were done and letters queued
    actions: list[Action] = field(default_factory=list)  # deadlines: reminders, due, escalations, timers, retries
    arrivals: list[Action] = field(default_factory=list)  # new tasks told to their people
    outbox_ids: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    batches: int = 0
    truncated: bool = False  # a preview that stopped at its limit: more is due than it lists

    @property
    def fired(self) -> int:
        """Deadlines acted on; arrivals are counted apart (``announced``)."""
        return len(self.actions)

    @property
    def announced(self) -> int:
        return len(self.arrivals)

    def mark(self) -> tuple[int, int]:
        return len(self.actions), len(self.arrivals)

    def undo(self, mark: tuple[int, int]) -> None:
        """Forget what was reported since ``mark``: its savepoint was rolled back."""
        del self.actions[mark[0]:], self.arrivals[mark[1]:]


def sweep(db: Database, *, now: datetime | None = None, batch_size: int = DEFAULT_BATCH, dry_run: bool = False,
          base_url: str = "", max_batches: int | None = None) -> SweepReport:
    """Act on every deadline due at ``now`` (default: the clock), batch by batch, each exactly once."""
    report = SweepReport(now or db.now(), dry_run, db.now())
    if dry_run:
        return _preview(db, report)
    for arrivals, size in ((True, max(batch_size, ARRIVAL_BATCH)), (False, batch_size)):
        while max_batches is None or report.batches < max_batches:
            with db.transaction() as session, session.no_autoflush:
                rows = _claim(session, report.now, report.acted_at, size, arrivals=arrivals)
                if not rows:
                    break
                _act_on(session, rows, report, base_url)
            report.batches += 1
    return report


def _act_on(session: Session, rows: list[Deadline], report: SweepReport, base_url: str,
            actor_id: int | None = None) -> None:
    """Act on claimed rows so that one row's failure is that row's alone.

    The batch runs in one savepoint — the usual case costs one SAVEPOINT more than no isolation at all.
    If anything in it fails, the savepoint is rolled back and the rows run again one by one, each in
    a savepoint of its own: the failing row is rolled back alone, retried later with backoff and
    recorded as an incident (``_failed``); every other row's work commits with the batch."""
    batch = _Batch.load(session, rows)
    done = report.mark()
    try:
        with session.begin_nested():
            for row in rows:
                if row.kind is not DeadlineKind.ARRIVAL:
                    _act(session, row, report, batch, base_url)
            _announce(session, [row for row in rows if row.kind is DeadlineKind.ARRIVAL], report, batch, base_url)
            session.flush()
            insert_pending(session)
    except Exception:  # noqa: BLE001 - each row is tried again alone, and its own failure recorded
        drop_queued(session)
        report.undo(done)
        del batch.letters[:]  # the letters went with the savepoint
        for row in rows:
            _act_alone(session, row, report, batch, base_url, actor_id)
    else:
        _resolve_retried(session, rows, report.acted_at, actor_id)
    report.outbox_ids += [letter.id for letter in batch.letters]


def _act_alone(session: Session, row: Deadline, report: SweepReport, batch: _Batch, base_url: str,
               actor_id: int | None) -> None:
    done, letters = report.mark(), len(batch.letters)
    try:
        with session.begin_nested():
            _act(session, row, report, batch, base_url)
            session.flush()
            insert_pending(session)  # nothing of this row left queued for a later row's rollback to drop
    except Exception as err:  # noqa: BLE001 - the row's failure becomes its incident; the others go on
        drop_queued(session)
        report.undo(done)
        del batch.letters[letters:]
        _failed(session, row, err, report, batch)
    else:
        _resolve_retried(session, [row], report.acted_at, actor_id)


def _resolve_retried(session: Session, rows: list[Deadline], now: datetime, actor_id: int | None) -> None:
    """Rows that failed before (or retry a parked step) went through: their incidents are resolved."""
    for row in rows:
        if row.attempts or row.kind is DeadlineKind.RETRY:
            resolve_for_deadline(session, row.id, now, actor_id=actor_id)
            row.last_error = None


def _failed(session: Session, row: Deadline, err: Exception, report: SweepReport, batch: _Batch) -> None:
    """Mark the row with its error and give it back to the sweep after a backoff (or, with its tries
    spent, leave it fired: only a person's retry arms it again); the failure is the instance's incident."""
    now = report.acted_at
    row.attempts += 1
    retry_at = next_try(row.attempts, now)
    step = FailedStep.of(err, *_element(row, batch))
    row.last_error = step.error
    if retry_at is not None:
        row.fire_at, row.fired_at = retry_at, None
    record_failure(session, row.instance_id, step, trigger=row.kind.value, now=now, deadline_id=row.id,
                   next_retry_at=retry_at)
    session.flush()
    report.failures.append(Failure(row.id, row.instance_id, step.element_id, step.error, row.attempts, retry_at))


def _element(row: Deadline, batch: _Batch) -> tuple[str, str]:
    """The element a row acts for: its task's, or the one a timer or retry row names."""
    task = batch.tasks.get(row.task_id) if row.task_id else None
    if task is not None:
        return task.element_id, task.name
    payload = row.payload or {}
    element = str(payload.get("element") or row.kind.value)
    return element, str(payload.get("name") or element)


def retry_incident(db: Database, incident_id: int, *, actor: Who, base_url: str = "") -> IncidentView:
    """An admin's (or the operator's) retry after a fix: arm the incident's deadline row and act on it now.

    The retry is audited; if the step fails again the incident stays open with the new error and one
    more try, and no automatic tries follow (they were spent, or the person will look again)."""
    with db.transaction() as session, session.no_autoflush:
        actor_id = operator_or_admin(session, actor, ADMINS_ONLY)
        deadline_id = session.scalar(select(Incident.deadline_id).where(Incident.id == incident_id))
        # The row first, locked: a sweep acting on it right now finishes before we look at the incident.
        row = session.scalars(select(Deadline).where(Deadline.id == deadline_id).with_for_update()
                              .execution_options(populate_existing=True)).first() if deadline_id else None
        incident = session.scalars(select(Incident).where(Incident.id == incident_id)
                                   .execution_options(populate_existing=True)).first()
        if incident is None:
            raise IncidentNotFound(f"инцидент {incident_id} не найден")
        if incident.resolved_at is not None:
            raise Conflict(f"инцидент {incident_id} уже решён")
        now = db.now()
        audit.record(session, now, "incident.retried", actor_id=actor_id, instance_id=incident.instance_id,
                     incident_id=incident.id, element=incident.element_id, tries=incident.tries)
        if row is None or row.cancelled:  # its timer or task is gone: the step it was about cannot fail
            incident.resolved_at, incident.resolved_by_id, incident.resolution = now, actor_id, "passed"
        else:
            row.attempts = max(row.attempts, len(RETRY_BACKOFF))  # one try now, none after it
            row.fired_at, row.fire_at = now, now
            session.flush()
            _act_on(session, [row], SweepReport(now, False, now), base_url, actor_id)
        session.flush()
        return incident_view(session, incident_id)


# A suspended roadmap's rows are held, not claimed: they stay unfired (so exactly-once still holds) and
# resuming shifts them by the suspended working days (engine/process/management.py).
_NOT_SUSPENDED = ~exists().where(ProcessInstance.id == Deadline.instance_id, ProcessInstance.suspended_at.is_not(None))


def _due_ids(now: datetime, limit: int, *, arrivals: bool | None = None) -> Any:
    """Due rows, oldest first: arrivals only, all but arrivals, or (None) every kind."""
    query = select(Deadline.id).where(Deadline.fired_at.is_(None), Deadline.fire_at <= now, _NOT_SUSPENDED)
    if arrivals is not None:
        query = query.where((Deadline.kind == DeadlineKind.ARRIVAL) if arrivals
                            else (Deadline.kind != DeadlineKind.ARRIVAL))
    return query.order_by(Deadline.fire_at, Deadline.id).limit(limit)


def _claim(session: Session, now: datetime, acted_at: datetime, limit: int, *,
           arrivals: bool | None = None) -> list[Deadline]:
    """Lock a batch of due rows no other sweep holds, and mark them fired (committed with the actions).

    SKIP LOCKED gives concurrent sweeps disjoint batches on PostgreSQL; the conditional UPDATE is the
    guard everywhere (SQLite has no row locks): a row another sweep fired in between is not ours."""
    ids = list(session.scalars(_due_ids(now, limit, arrivals=arrivals).with_for_update(skip_locked=True)))
    if not ids:
        return []
    claimed = list(session.scalars(
        update(Deadline).where(Deadline.id.in_(ids), Deadline.fired_at.is_(None)).values(fired_at=acted_at)
        .returning(Deadline.id).execution_options(synchronize_session=False)))
    return list(session.scalars(select(Deadline).where(Deadline.id.in_(claimed))
                                .order_by(Deadline.fire_at, Deadline.id)))


@dataclass
class _Batch:
    """What a batch of deadlines needs, loaded with a few queries instead of several per row."""

    tasks: dict[int, Task]
    users: dict[tuple[Role, OrgPlace], list[User]]
    assignees: dict[int, User]
    workdays: WorkCalendar
    letters: list[OutboxMessage] = field(default_factory=list)
    measures: MeasuresOfBatch | None = None  # held for the batch: the session keeps loaded objects weakly

    @classmethod
    def load(cls, session: Session, rows: list[Deadline]) -> _Batch:
        task_ids = {row.task_id for row in rows if row.task_id is not None}
        # The school's region too: a row's message names the due time in the school's zone, and lazy loads
        # of municipality and region were two queries a row (bench/national_year.py).
        tasks = {task.id: task for task in session.scalars(
            select(Task).options(joinedload(Task.school).joinedload(School.municipality)
                                 .joinedload(Municipality.region)).where(Task.id.in_(task_ids)))}
        needs = {_need(row, tasks[row.task_id]) for row in rows if row.task_id in tasks}
        measures = preload_measures(session, rows)
        needs.update(measures.needs)
        assignee_ids = {t.assignee_id for t in tasks.values() if t.assignee_id is not None}
        assignees = {u.id: u for u in session.scalars(select(User).where(User.id.in_(assignee_ids)))}
        return cls(tasks, users_for_many(session, needs), assignees, load_calendar(session), measures=measures)

    def recipients(self, row: Deadline, task: Task) -> list[User]:
        """The task's assignee (an escalation: the level above, always), else who holds its role there."""
        if row.kind is not DeadlineKind.ESCALATION and task.assignee_id in self.assignees:
            return [self.assignees[task.assignee_id]]
        return self.users[_need(row, task)]


def _need(row: Deadline, task: Task) -> tuple[Role, OrgPlace]:
    """Who a deadline row speaks to: the task's own role, or the role ``levels_up`` above it."""
    place = OrgPlace(task.school_id, task.municipality_id, task.region_id)
    if row.kind is DeadlineKind.ESCALATION:
        return escalation_target(task.role, int((row.payload or {}).get("levels_up", row.step))), place
    return task.role, place


#: The most due rows a preview reads: an answer about a far moment must not grow with everything ever scheduled.
PREVIEW_MAX = 5_000


def preview_sweep(db: Database, at: datetime, *, actor: Who, limit: int = 500,
                  school: str | None = None) -> SweepReport:
    """What a sweep at ``at`` would fire (reminders, due, escalations, timers, retries, arrivals) and to whom,
    doing nothing: for admins (`GET /api/v1/deadlines/preview`) and the operator; of one ``school`` if named.
    The ``limit`` (1 to :data:`PREVIEW_MAX`) earliest due rows are read; ``truncated`` says more are due."""
    if not 1 <= limit <= PREVIEW_MAX:
        raise FormInvalid({"limit": [f"от 1 до {PREVIEW_MAX}"]})
    with db.reading() as session:
        operator_or_admin(session, actor, "проверять срабатывание сроков может только администратор")
    return _preview(db, SweepReport(at, True, db.now()), limit, school)


def _preview(db: Database, report: SweepReport, limit: int = 100_000, school: str | None = None) -> SweepReport:
    """What a sweep at ``report.now`` would do, without doing it (no locks, no writes)."""
    due = _due_ids(report.now, limit + 1)
    if school is not None:
        of_school = select(ProcessInstance.id).join(School, School.id == ProcessInstance.school_id)
        due = due.where(Deadline.instance_id.in_(of_school.where(School.code == school)))
    with db.reading() as session:
        rows = list(session.scalars(select(Deadline).where(Deadline.id.in_(due))
                                    .order_by(Deadline.fire_at, Deadline.id)))
        report.truncated = len(rows) > limit
        rows = rows[:limit]
        batch = _Batch.load(session, rows)
        for row in rows:
            if row.kind in (DeadlineKind.TIMER, DeadlineKind.RETRY):
                element = str((row.payload or {}).get("element", ""))
                report.actions.append(Action(row.id, row.kind.value, 0, None, "", element, []))
                continue
            if row.measure_id is not None or row.visit_id is not None:
                notice = (preview_measure(session, row) if row.measure_id is not None
                          else preview_visit(session, row))
                if notice is not None:
                    report.actions.append(_roadmap_action(row, notice))
                continue
            task = batch.tasks.get(row.task_id) if row.task_id else None
            if task is not None and task.status is TaskStatus.READY:
                heard = report.arrivals if row.kind is DeadlineKind.ARRIVAL else report.actions
                heard.append(_action(row, task, [u.login for u in batch.recipients(row, task)]))
    return report


def _action(row: Deadline, task: Task, logins: list[str]) -> Action:
    level = row.step if row.kind is DeadlineKind.ESCALATION else None
    return Action(row.id, row.kind.value, row.step, task.id, task.school.code, task.name, logins, level)


def _roadmap_action(row: Deadline, notice: MeasureNotice | VisitNotice) -> Action:
    """A measure's or a planned visit's row as the sweep reports it (no task: the subject is named by title)."""
    level = row.step if row.kind is DeadlineKind.ESCALATION else None
    return Action(row.id, row.kind.value, row.step, None, notice.school_code, notice.title, notice.recipients, level)


def _announce(session: Session, rows: list[Deadline], report: SweepReport, batch: _Batch, base_url: str) -> None:
    """Arrival rows, together: one notification per person for all of theirs (a task closed meanwhile
    is no news)."""
    arrived = []
    for row in rows:
        task = batch.tasks.get(row.task_id) if row.task_id else None
        if task is not None and task.status is TaskStatus.READY:
            arrived.append(Arrived(row.id, task, batch.recipients(row, task)))
            report.arrivals.append(_action(row, task, [u.login for u in arrived[-1].recipients]))
    batch.letters += announce(session, arrived, now=report.acted_at, base_url=base_url)


def _act(session: Session, row: Deadline, report: SweepReport, batch: _Batch, base_url: str) -> None:
    if row.kind is DeadlineKind.ARRIVAL:  # alone: a retry, or its batch failed and each row goes again
        _announce(session, [row], report, batch, base_url)
        return
    if row.kind is DeadlineKind.TIMER:
        _fire(session, row, report)
        return
    if row.kind is DeadlineKind.RETRY:
        opened = resume_instance(session, row.instance_id, report.acted_at)
        report.actions.append(Action(row.id, row.kind.value, 0, None, "", str((row.payload or {}).get("element", "")),
                                     [f"задача {t.id}" for t in opened]))
        return
    if row.measure_id is not None or row.visit_id is not None:  # engine/deadlines/{measure,visit}_deadlines.py
        notice = (act_on_measure(session, row, report.acted_at, base_url, batch.users) if row.measure_id is not None
                  else act_on_visit(session, row, report.acted_at, base_url))
        if notice is not None:
            batch.letters += notice.letters
            report.actions.append(_roadmap_action(row, notice))
        return
    task = batch.tasks.get(row.task_id) if row.task_id else None
    if task is None or task.status is not TaskStatus.READY:
        return  # closed meanwhile: nothing to say about a task that is done
    recipients = batch.recipients(row, task)
    message = _message(row, task, base_url, batch.workdays, report.now)
    if row.kind is DeadlineKind.ESCALATION:
        _escalate(session, row, task, report.acted_at, recipients)
    elif row.kind is DeadlineKind.DUE:
        events.task_event(session, events.TASK_OVERDUE, task, task.school, report.acted_at)
    batch.letters += notify(session, recipients, message, now=report.acted_at, key=f"deadline:{row.id}",
                            task_id=task.id)
    report.actions.append(_action(row, task, [u.login for u in recipients]))


def _fire(session: Session, row: Deadline, report: SweepReport) -> None:
    payload = row.payload or {}
    opened = fire_timer(session, row.instance_id, str(payload.get("spiff_task_id")), report.acted_at)
    report.actions.append(Action(row.id, row.kind.value, 0, None, "", str(payload.get("element", "")),
                                 [f"задача {t.id}" for t in opened]))


def _escalate(session: Session, row: Deadline, task: Task, now: datetime, recipients: list[User]) -> None:
    payload = row.payload or {}
    task.escalation_level = max(task.escalation_level, row.step)
    if payload.get("federal_overdue"):
        task.federal_overdue = True
    target = escalation_target(task.role, int(payload.get("levels_up", row.step)))
    audit.record(session, now, "task.escalated", instance_id=task.instance_id, task_id=task.id, level=row.step,
                 notified_role=target.value, notified=[u.login for u in recipients],
                 federal_overdue=bool(payload.get("federal_overdue")))
    events.task_event(session, events.TASK_ESCALATED, task, task.school, now, level=row.step,
                      notified_role=target.value, federal_overdue=bool(payload.get("federal_overdue")))


def _message(row: Deadline, task: Task, base_url: str, workdays: WorkCalendar, now: datetime) -> Message:
    school = f"{task.school.name} ({task.school.code})"
    due = moscow_time(task.due_at, task.school.municipality.region.time_zone)  # the school's own time
    link = task_link(base_url, task) if base_url else None
    if row.kind is DeadlineKind.REMINDER:
        return Message("reminder", f"Напоминание: срок задачи «{task.name}» — {due}",
                       f"Школа: {school}.\nЗадача «{task.name}» должна быть выполнена до {due}.", link)
    if row.kind is DeadlineKind.DUE:
        return Message("due", f"Срок задачи «{task.name}» наступил",
                       f"Школа: {school}.\nСрок задачи «{task.name}» — {due} — наступил; задача не выполнена.", link)
    late = _working_days_late(task.due_at, now, workdays.in_zone(task.school.municipality.region.time_zone))
    role = ROLE_TITLES[task.role].lower()
    flag = "\nЗадача отмечена как просроченная для федерального уровня." if (row.payload or {}).get(
        "federal_overdue") else ""
    return Message("escalation", f"Просрочена задача «{task.name}» (уровень {row.step}): {school}",
                   f"Школа: {school}.\nЗадача «{task.name}» (исполнитель — {role}) не выполнена в срок {due}; "
                   f"просрочка — {late} раб. дн. Уровень эскалации: {row.step}.{flag}", link)


def _working_days_late(due: datetime | None, now: datetime, workdays: WorkCalendar) -> int:
    if due is None:
        return 0
    days, moment = 0, due
    while True:
        moment = workdays.add_working_days(moment, 1)
        if moment > now:
            return days
        days += 1
