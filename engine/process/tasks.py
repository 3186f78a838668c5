"""Use cases on user tasks: list my tasks, open one, save a draft, complete, claim, release, hand over.

Every function is one transaction and authorizes the acting user by role and scope itself, so no
caller (view, API, CLI, job) can forget to.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine.actors import Who, login_of
from engine.bpmn import safe_eval
from engine.bpmn.manifest import TaskRule
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database, fold, folded
from engine.errors import (
    ConcurrentUpdate,
    Conflict,
    ExpressionFailed,
    FormInvalid,
    NotAllowed,
    StepFailed,
    TaskAlreadyCompleted,
    TaskClaimed,
    TaskNotFound,
)
from engine.fast_writes import (
    adopt_tasks,
    insert_pending,
    insert_tasks,
    take_changes,
    write_now,
    write_together,
    writes_together,
)
from engine.forms import FormDefinition
from engine.models import AuditRecord, Deadline, InstanceStatus, Municipality, Region, School, Task, TaskStatus, User
from engine.org.areas import area_for
from engine.org.core import Actor, find_user, load_user, users_for
from engine.org.regions import zone_of_viewer
from engine.org.scopes import Scope
from engine.process import events, live_workflows, task_pages
from engine.process.actions import ActionContext, FieldReference, form_choices, form_references, run_actions
from engine.process.attachments import document_fields, field_values
from engine.process.incidents import FailedStep, describe, park_step, record_failure
from engine.process.instances import TaskMirror, close_deadlines, closing_deadlines, finish_sync, lock_step
from engine.process.live_workflows import Key
from engine.process.notifications import Message, moscow_time, notify
from engine.process.task_access import authorize, form_of, place_of_task
from engine.process.task_context import TaskContext, read_context
from engine.process.task_pages import COUNT_MAX, Page, key_of, limit_checked, order_by

# Re-exported: the limit and the sorts every way in (pages, API, CLI) offers.
from engine.process.task_pages import PAGE_MAX as PAGE_MAX
from engine.process.task_pages import SORTS as SORTS
from engine.templates.versions import compiled_version
from engine.timing.zones import zone


@dataclass(frozen=True)
class TaskView:
    id: int
    instance_id: int
    element_id: str
    name: str
    stage: str
    role: str
    school_code: str
    school_name: str
    status: str
    assignee: str | None
    due_at: datetime | None
    escalation_level: int
    created_at: datetime
    federal_overdue: bool = False
    completed_at: datetime | None = None
    assignee_name: str | None = None  # what people read; ``assignee`` is the login programs use

    @classmethod
    def of(cls, row: Task, assignee: User | None) -> TaskView:
        return cls(row.id, row.instance_id, row.element_id, row.name, row.stage, row.role.value,
                   row.school.code, row.school.name, row.status.value, assignee.login if assignee else None,
                   row.due_at, row.escalation_level, row.created_at, row.federal_overdue, row.completed_at,
                   assignee.full_name if assignee else None)

    @classmethod
    def from_row(cls, row: Any) -> TaskView:
        """From a row of ``_VIEW_COLUMNS``: lists read plain columns, not ORM objects (2.5× faster for a
        region's 3,000 open tasks)."""
        (task_id, instance_id, element_id, name, stage, role, school_code, school_name, status, assignee, due_at,
         escalation_level, created_at, federal_overdue, completed_at, assignee_name) = row
        return cls(task_id, instance_id, element_id, name, stage, role.value, school_code, school_name,
                   status.value, assignee, due_at, escalation_level, created_at, federal_overdue, completed_at,
                   assignee_name)

    def is_overdue(self, now: datetime) -> bool:
        return self.status == "ready" and self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class TaskDetail:
    task: TaskView
    form: dict[str, Any]
    values: dict[str, Any]
    # Option lists the task's engine actions offer its form, by the selects' ``valuesKey`` (e.g. the
    # region's curator candidates); shown with the values, never part of what is submitted.
    choices: dict[str, Any] = field(default_factory=dict)
    # What the decision needs: the panels the template's manifest declares for the task (open tasks only).
    context: TaskContext = field(default_factory=TaskContext)
    handover: Handover = field(default_factory=lambda: Handover())
    # Fields whose values name a user or an org unit (open tasks; the allowed values are in ``choices``), and the
    # template's cross-field rules the submission must pass (open tasks): a client can check before it submits.
    references: list[FieldReference] = field(default_factory=list)
    rules: tuple[TaskRule, ...] = ()
    # The task makes the school's report (its manifest action ``attach_school_report``): the page offers it.
    makes_report: bool = False


@dataclass(frozen=True)
class Colleague:
    """Someone a task may be handed to: a user holding the task's role for its school."""

    login: str
    full_name: str


@dataclass(frozen=True)
class Handover:
    """What the user may do about who has an open task: take it, release it, hand it to one of ``colleagues``."""

    may_claim: bool = False
    may_release: bool = False
    may_hand_over: bool = False
    colleagues: tuple[Colleague, ...] = ()


@dataclass(frozen=True)
class Completed:
    task_id: int
    instance_id: int
    instance_completed: bool
    next_task_ids: list[int]
    # The submission was kept, but the step after it failed: the incident that holds the continuation.
    incident_id: int | None = None
    incident_error: str | None = None


#: What a committed completion leaves for the live-workflow cache: key, stored version, JSON, workflow.
_Stored = tuple[Key, int, str, WorkflowRun]

#: What a task list shows, in ``TaskView.from_row`` order; joined with the school and the assignee.
_VIEW_COLUMNS = (Task.id, Task.instance_id, Task.element_id, Task.name, Task.stage, Task.role, School.code,
                 School.name, Task.status, User.login, Task.due_at, Task.escalation_level, Task.created_at,
                 Task.federal_overdue, Task.completed_at, User.full_name)


def _task_views() -> Any:
    return (select(*_VIEW_COLUMNS).join(School, School.id == Task.school_id)
            .outerjoin(User, User.id == Task.assignee_id))


#: Whose tasks an inbox shows: everything the user may act on, only those they took, or those nobody took.
ASSIGNED = ("all", "mine", "unassigned")
SEARCH_MAX = 100  # characters of a search; a task's or school's name is rarely half of it


def list_tasks(db: Database, *, actor: Who, limit: int = 100, **filters: Any) -> list[TaskView]:
    """The first ``limit`` rows of ``task_page``, for programs that want no next page (scripts, tests, the
    demo); people's ways in (pages, API, CLI) read ``task_page``, at most ``PAGE_MAX`` rows at a time."""
    return _task_page(db, actor=actor, limit=limit, **filters).tasks


def task_page(db: Database, *, actor: Who, limit: int = 50, **filters: Any) -> Page:
    """One page (``_task_page``) of at most ``PAGE_MAX`` rows."""
    return _task_page(db, actor=actor, limit=limit_checked(limit), **filters)


def _task_page(db: Database, *, actor: Who, limit: int, after: str | None = None, offset: int = 0,
               count: bool = False, stage: str | None = None, school: str | None = None, overdue: bool = False,
              sort: str = "due", search: str | None = None, due_from: date | None = None,
              due_to: date | None = None, assigned: str = "all") -> Page:
    """One page of the READY tasks the user may act on, most urgent first: one indexed query on the task table.

    The page starts past the cursor ``after`` (from the previous page's ``next_cursor``), or at ``offset``
    rows for the API's numbered pages; only ``limit`` + 1 rows are read either way. ``count`` adds how many
    rows the whole list has (up to ``COUNT_MAX``).
    ``search`` finds a part of the task's or the school's name (or the school's code) in any case, «ё» as
    «е»; ``due_from``/``due_to`` are days of the deadline, both included, in the zone the user reads times in
    (their region's, as their pages show dates);
    ``assigned`` is one of ``ASSIGNED``."""
    _check_filters(sort, search, due_from, due_to, assigned)
    key = task_pages.decode(sort, after) if after else None
    with db.reading() as session:
        user = load_user(session, actor)
        conditions = [Task.status == TaskStatus.READY, user.scope.task_filter()]
        if stage:
            conditions.append(Task.stage == stage)
        if school:
            conditions.append(School.code == school)
        if overdue:
            conditions.append(Task.due_at < db.now())
        if search and search.strip():
            needle = fold(search.strip())
            conditions.append(or_(folded(Task.name).contains(needle, autoescape=True),
                                  folded(School.name).contains(needle, autoescape=True),
                                  folded(School.code).contains(needle, autoescape=True)))
        here = zone(zone_of_viewer(session, actor)) if due_from or due_to else None
        if due_from is not None:
            conditions.append(Task.due_at >= _start_of(due_from, here))
        if due_to is not None:
            conditions.append(Task.due_at < _start_of(due_to + timedelta(days=1), here))
        if assigned == "mine":
            conditions.append(Task.assignee_id == user.user_id)
        elif assigned == "unassigned":
            conditions.append(Task.assignee_id.is_(None))
        # The count needs the school only where a condition names it: otherwise the task index alone.
        counted = select(Task.id).where(*conditions)
        if school or (search and search.strip()):
            counted = counted.join(School, School.id == Task.school_id)
        return _page(session, _task_views().where(*conditions), sort, key, limit, offset,
                     counted if count else None)


def _page(session: Session, query: Any, sort: str, key: list[Any] | None, limit: int, offset: int,
          counted: Any | None) -> Page:
    """Rows ``limit`` + 1 past the key (or the offset): the extra one only says whether a next page exists.
    ``counted`` (the list's ids) gives the total; a first page that holds the whole list needs no count."""
    page_query = query.where(task_pages.after(sort, key)) if key is not None else query.offset(offset or None)
    rows = [TaskView.from_row(row) for row in
            session.execute(page_query.order_by(*order_by(sort)).limit(limit + 1))]
    shown, more = rows[:limit], len(rows) > limit
    total, capped = None, False
    if counted is not None:
        total, capped = (len(shown), False) if key is None and not offset and not more else _count(session, counted)
    return Page(shown, task_pages.encode(sort, key_of(sort, shown[-1])) if more else None, total, capped)


def _count(session: Session, counted: Any) -> tuple[int, bool]:
    """How many rows the list has, reading at most ``COUNT_MAX`` + 1 of them.

    Ordered as the scope indexes are, although a count needs no order: once psycopg prepares the statement,
    PostgreSQL may plan it for any scope, and without the order its generic plan was a sequential scan "until
    1,001 rows match" — 72 ms for a scope of 1,000 among 41,000 rows — where the ordered one reads the index
    alone (0.65 ms)."""
    in_index_order = counted.order_by(*order_by("due")).limit(COUNT_MAX + 1).subquery()
    found = session.scalar(select(func.count()).select_from(in_index_order))
    return min(found or 0, COUNT_MAX), (found or 0) > COUNT_MAX


_FIRST_DAY, _LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def _check_filters(sort: str, search: str | None, due_from: date | None, due_to: date | None,
                   assigned: str) -> None:
    """The inbox's rules for every way in (pages, API, CLI): each broken one under its parameter."""
    errors: dict[str, list[str]] = {}
    if sort not in SORTS:
        errors["sort"] = [f"сортировка одна из: {', '.join(SORTS)}"]
    if assigned not in ASSIGNED:
        errors["assigned"] = [f"значение одно из: {', '.join(ASSIGNED)}"]
    if search is not None and len(search) > SEARCH_MAX:
        errors["search"] = [f"не длиннее {SEARCH_MAX} символов"]
    for name, day in (("due_from", due_from), ("due_to", due_to)):
        if day is not None and not _FIRST_DAY <= day <= _LAST_DAY:  # year 1 in a zone east of UTC is year 0
            errors[name] = [f"дата с {_FIRST_DAY:%d.%m.%Y} по {_LAST_DAY:%d.%m.%Y}"]
    if due_from is not None and due_to is not None and due_from > due_to:
        errors["due_to"] = ["конец периода раньше его начала"]
    if errors:
        raise FormInvalid(errors)


def _start_of(day: date, here: tzinfo | None) -> datetime:
    return datetime.combine(day, time.min, here)


def list_area_tasks(db: Database, *, actor: Who, limit: int = 100, **filters: Any) -> list[TaskView]:
    """The first ``limit`` rows of ``area_task_page`` (for programs, as ``list_tasks``)."""
    return _area_task_page(db, actor=actor, limit=limit, **filters).tasks


def area_task_page(db: Database, *, actor: Who, limit: int = 50, **filters: Any) -> Page:
    """One page (``_area_task_page``) of at most ``PAGE_MAX`` rows."""
    return _area_task_page(db, actor=actor, limit=limit_checked(limit), **filters)


def _area_task_page(db: Database, *, actor: Who, limit: int, region: str | None = None,
                    municipality: str | None = None, stage: str | None = None, overdue: bool = False,
                    after: str | None = None, offset: int = 0, count: bool = False) -> Page:
    """One page of the open tasks of everyone in an area a coordinator oversees (default: their widest area),
    nearest deadline first; paged as ``_task_page``. Read from the replica when one is configured, as the
    dashboards are: a coordinator watches others' tasks here (their own inbox stays on the primary — an API
    client has no session to carry the read-your-writes mark)."""
    key = task_pages.decode("due", after) if after else None
    area = area_for(db, region, municipality, actor=actor)
    with db.reading(replica=True) as session:
        query = _task_views().where(Task.status == TaskStatus.READY)
        if area.municipality_code:
            query = query.join(Municipality, Municipality.id == Task.municipality_id).where(
                Municipality.code == area.municipality_code)
        elif area.region_code:
            query = query.join(Region, Region.id == Task.region_id).where(Region.code == area.region_code)
        if stage:
            query = query.where(Task.stage == stage)
        if overdue:
            query = query.where(Task.due_at < db.now())
        return _page(session, query, "due", key, limit, offset,
                     query.with_only_columns(Task.id) if count else None)


def _load_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise TaskNotFound(f"задача {task_id} не найдена")
    return task


def _assignee(session: Session, task: Task) -> User | None:
    return session.get(User, task.assignee_id) if task.assignee_id else None


def get_task(db: Database, task_id: int, *, actor: Who) -> TaskDetail:
    """A task with its form and current values (workflow data, overlaid by the user's draft)."""
    with db.reading() as session:
        user = load_user(session, actor)
        task = _load_task(session, task_id)
        if not (user.scope.can_act(task.role, place_of_task(task)) or user.scope.oversees(place_of_task(task))):
            raise NotAllowed("эта задача вне вашей зоны ответственности")
        form = form_of(session, task)
        values: dict[str, Any] = {}
        choices: dict[str, Any] = {}
        context = TaskContext()
        handover = Handover()
        references: list[FieldReference] = []
        rules: tuple[TaskRule, ...] = ()
        if task.status is TaskStatus.READY:
            instance, live = task.instance, live_workflows.of(db)
            live_key = instance.id
            compiled = compiled_version(session, instance.template_version_id)
            run = live_workflows.restore(live, live_key, instance.version, compiled, instance.workflow_json)
            data = run.task_data(task.spiff_task_id)
            values = copy.deepcopy({key: data[key] for key in sorted(form.keys()) if key in data})
            context = read_context(session, task, compiled, data, db.now())
            # Only read, so still exactly the stored workflow: the submission that usually follows the
            # page (in this process) starts from it instead of restoring the JSON again.
            live.keep(live_key, instance.version, instance.workflow_json, run)
            rules = compiled.spec.sections.rules.get(task.element_id, ())
            actions = compiled.spec.sections.actions.get(task.element_id, ())
            references = form_references(actions, form)
            if user.scope.can_act(task.role, place_of_task(task)):  # overseers see the form read-only
                choices = form_choices(session, task, actions, form, data)
            handover = _handover(session, user, task)
        values.update(task.draft or {})
        declared = compiled_version(session, task.instance.template_version_id).spec.sections.actions
        makes_report = any(a.action == "attach_school_report" for a in declared.get(task.element_id, ()))
        return TaskDetail(TaskView.of(task, _assignee(session, task)), form.to_dict(), values, choices, context,
                          handover, references, rules, makes_report)


def instance_version(db: Database, task_id: int, *, actor: Who) -> int:
    """The version of the task's process, for optimistic concurrency of API clients (ETag / If-Match)."""
    with db.reading() as session:
        user = load_user(session, actor)
        task = _load_task(session, task_id)
        if not user.scope.sees(place_of_task(task)):
            raise TaskNotFound(f"задача {task_id} не найдена")
        return task.instance.version


def save_draft(db: Database, task_id: int, data: dict[str, Any], *, actor: Who) -> None:
    """Keep partly filled form data; every given value must already be valid, required ones may wait."""
    with db.transaction() as session:
        user = load_user(session, actor)
        task = _ready_task(session, task_id)
        authorize(user, task)
        task.draft = form_of(session, task).validate(data, partial=True)
        audit.record(session, db.now(), "task.draft_saved", actor_id=user.user_id,
                     instance_id=task.instance_id, task_id=task.id)


def _ready_task(session: Session, task_id: int) -> Task:
    task = _load_task(session, task_id)
    if task.status is not TaskStatus.READY:
        raise TaskAlreadyCompleted(f"задача {task_id} уже {_status_words(task.status)}")
    return task


def _status_words(status: TaskStatus) -> str:
    return {TaskStatus.COMPLETED: "выполнена", TaskStatus.CANCELLED: "отменена"}.get(status, "закрыта")


def complete_task(db: Database, task_id: int, data: dict[str, Any], *, actor: Who) -> Completed:
    """Validate the form, advance the workflow, mirror the new tasks: all or nothing.

    A failing step after the task is parked as an incident and the completion stands (``Completed.incident_id``).
    A failing engine action on the form itself (it runs before the task completes) rolls the completion
    back; the form data is then kept as the task's draft, the failure recorded as an incident, and the
    user told so (``StepFailed``)."""
    try:
        with db.transaction() as session:
            completed, stored = _complete(db, session, task_id, actor, data)
    except StaleDataError as err:
        raise ConcurrentUpdate(
            "процесс изменён одновременно другим пользователем; обновите страницу") from err
    except _ActionFailed as failed:
        incident_id = _keep_after_failed_action(db, task_id, failed)
        raise StepFailed(f"Не удалось выполнить шаг после формы: {failed.step.error}. Введённые данные сохранены "
                         "как черновик; администраторы видят ошибку, после исправления отправьте форму снова.",
                         incident_id) from failed
    if not completed.instance_completed:  # a finished roadmap has no next step to start from memory
        live_workflows.of(db).keep(*stored)  # committed: the next step of this instance may start from memory
    return completed


def _complete(db: Database, session: Session, task_id: int, actor: Who,
              data: dict[str, Any]) -> tuple[Completed, _Stored]:
    # One statement locks the instance and brings the acting user, the calendar overrides and the school's
    # zone (only the instance row is locked). Lock first, then read the task: a concurrent completion of
    # this instance has committed by the time we get the lock, so what we read next is current. That
    # query gives the instance's other open rows too, which task mirroring needs.
    start = lock_step(session, task_id, login_of(actor))
    if start is None:
        load_user(session, actor)  # an unknown user hears so before an unknown task (as before)
        raise TaskNotFound(f"задача {task_id} не найдена")
    instance, user = start.instance, start.actor
    rows = session.scalars(_TASK_AND_OPEN_ROWS, {"instance_id": instance.id, "task_id": task_id}).all()
    task = next((row for row in rows if row.id == task_id), None)
    if task is None:
        raise TaskNotFound(f"задача {task_id} не найдена")
    if task.status is not TaskStatus.READY:
        raise TaskAlreadyCompleted(f"задача {task_id} уже {_status_words(task.status)}")
    authorize(user, task)
    form = form_of(session, task)
    cleaned = form.validate(with_documents(session, task, form, data))
    if instance.status is not InstanceStatus.RUNNING:
        raise TaskAlreadyCompleted(f"процесс {instance.id} уже завершён")
    if instance.suspended_at is not None:
        raise Conflict("маршрут школы приостановлен координатором: задачу можно будет выполнить после возобновления")
    compiled = compiled_version(session, instance.template_version_id)
    key = instance.id
    run = live_workflows.restore(live_workflows.of(db), key, instance.version, compiled, instance.workflow_json)
    sections = compiled.spec.sections
    known = dict.fromkeys(form.keys())
    before = run.task_data(task.spiff_task_id)
    check_rules(sections.rules.get(task.element_id, ()), {**before, **known, **cleaned})
    now = db.now()
    context = ActionContext(session, now, user.user_id, instance, task, compiled.spec, before)
    try:
        produced = run_actions(context, sections.actions.get(task.element_id, ()), cleaned)
    except FormInvalid:
        raise
    except Exception as err:  # an action's fault is the template's or ours, never the user's
        raise _ActionFailed(FailedStep(task.element_id, task.name, describe(err)), instance.id, cleaned) from err
    # Every field of the form lands in the process data, empty ones as None (as form-js submits them),
    # so gateways and later rules can test an unticked checkbox without tripping on a missing name.
    # A failing step after the task does not undo the submission: it is parked as an incident (retried
    # later, visible to admins) and the user's data is kept — what Camunda does with an asynchronous
    # continuation, and what a school director who filled in a long form expects.
    failure = run.complete(task.spiff_task_id, {**known, **cleaned, **produced})
    together = writes_together(session)
    if not together:
        close_deadlines(session, task.id, now)
    task.status, task.completed_at, task.completed_by_id, task.draft = (
        TaskStatus.COMPLETED, now, user.user_id, None)
    mirror = TaskMirror.of(session, instance, run, compiled.spec, now,
                           [row for row in rows if row.status is TaskStatus.READY], start.workdays, start.zone_name)
    # Queued with the step's other write-only rows: one more INSERT, written or dropped with the completion.
    events.task_event(session, events.TASK_COMPLETED, task, instance.school, now, completed_by=user.login)
    finish_sync(session, instance, run, compiled.spec, now)
    instance.workflow_json = state = run.dump()
    # PostgreSQL: the instance's and the task's changes are taken now and written with the step's last
    # statement (below); the flush after the INSERT of new tasks then leaves them alone.
    changes = take_changes(session, instance, task) if together else None
    # The new task rows first: their ids are what their deadline rows and audit records hang on. One opened
    # task (most steps) has the id the lock took from the sequence, and its row goes with the step's last
    # statement; otherwise one INSERT … RETURNING gives the ids. Then whatever else the unit of work holds
    # (rows of cancelled tasks; usually nothing).
    if start.next_task_id is not None and len(mirror.opened) == 1:
        adopt_tasks(session, mirror.opened, [start.next_task_id])
    else:
        insert_tasks(session, mirror.opened)
    session.flush()
    audit.queue(session, now, "task.completed", actor_id=user.user_id, instance_id=instance.id,
                task_id=task.id, element=task.element_id, data=cleaned)
    mirror.record()
    if run.is_completed:
        audit.queue(session, now, "instance.completed", instance_id=instance.id)
    if together:
        # PostgreSQL: everything else in one statement — the instance row (its version checked and bumped
        # exactly once: no row updated is a concurrent change), with the completed task's row, its deadline
        # rows closed, the opened task's row and the step's deadline rows, audit records and events as
        # data-modifying CTEs.
        assert changes is not None
        write_together(session, changes, closing_deadlines([task.id], now), (Deadline, AuditRecord))
    else:
        # SQLite: a plain UPDATE each for the instance (version checked) and the task, then one INSERT
        # per table of queued rows.
        write_now(session, instance)
        write_now(session, task)
        insert_pending(session, Deadline, AuditRecord)
    incident = park_step(session, instance, failure, now) if failure is not None else None
    completed = Completed(task.id, instance.id, run.is_completed, [t.id for t in mirror.opened],
                          incident.id if incident else None, failure.message if failure else None)
    return completed, (key, instance.version, state, run)


def complete_in(db: Database, session: Session, task_id: int, data: dict[str, Any], *, actor: Who) -> Completed:
    """``complete_task``'s step inside a transaction the caller owns and always rolls back (a draft's trial run,
    engine/process/simulation.py): the same checks and writes; a failing engine action is told naming its step
    instead of being kept as a draft and an incident (there is nothing to keep them in)."""
    try:
        return _complete(db, session, task_id, actor, data)[0]
    except _ActionFailed as failed:
        raise StepFailed(f"действие шага «{failed.step.element_name}» ({failed.step.element_id}) не выполнилось: "
                         f"{failed.step.error}", None) from failed


class _ActionFailed(Exception):
    """Inside a completion: an engine action failed (carried out of the transaction, which rolls back)."""

    def __init__(self, step: FailedStep, instance_id: int, cleaned: dict[str, Any]) -> None:
        super().__init__(step.error)
        self.step, self.instance_id, self.cleaned = step, instance_id, cleaned


def _keep_after_failed_action(db: Database, task_id: int, failed: _ActionFailed) -> int:
    """After the rolled-back completion: the form data as the task's draft, and the incident."""
    with db.transaction() as session:
        now = db.now()
        task = _load_task(session, task_id)
        if task.status is TaskStatus.READY:
            task.draft = failed.cleaned
        incident = record_failure(session, failed.instance_id, failed.step, trigger="action", now=now,
                                  deadline_id=None, next_retry_at=None)
        return incident.id


# Built once, the ids bound at execution: building it would cost more Python than running it.
_TASK_AND_OPEN_ROWS = (select(Task).where(Task.instance_id == bindparam("instance_id"),
                                          or_(Task.id == bindparam("task_id"), Task.status == TaskStatus.READY))
                       .execution_options(populate_existing=True))


def with_documents(session: Session, task: Task, form: FormDefinition, data: dict[str, Any]) -> dict[str, Any]:
    """Document fields hold what was uploaded for this task, whatever the client sent for them."""
    fields = set(document_fields(form))
    return {**{k: v for k, v in data.items() if k not in fields}, **field_values(session, task, form)}


def check_rules(rules: Sequence[TaskRule], names: Mapping[str, Any]) -> None:
    """The template's cross-field checks; every failing one is reported under its field."""
    errors: dict[str, list[str]] = {}
    for rule in rules:
        try:
            holds = bool(safe_eval.evaluate(rule.check, names))
        except ExpressionFailed as err:
            holds, rule_message = False, f"{rule.message} ({err.message})"
        else:
            rule_message = rule.message
        if not holds:
            errors.setdefault(rule.field, []).append(rule_message)
    if errors:
        raise FormInvalid(errors)


def claim_task(db: Database, task_id: int, *, actor: Who) -> TaskView:
    """Take a task onto my desk so others in scope see it is being worked on."""
    with db.transaction() as session:
        user = load_user(session, actor)
        task = _ready_task(session, task_id)
        if not user.scope.can_act(task.role, place_of_task(task)):
            raise NotAllowed("эта задача вне вашей зоны ответственности")
        # A conditional UPDATE, so two users claiming at once cannot both win.
        claimed = session.execute(update(Task).where(Task.id == task.id, Task.assignee_id.is_(None))
                                  .values(assignee_id=user.user_id).returning(Task.id)).first()
        session.refresh(task)
        if claimed is None and task.assignee_id != user.user_id:
            raise TaskClaimed("задачу уже взял в работу другой исполнитель")
        audit.record(session, db.now(), "task.claimed", actor_id=user.user_id,
                     instance_id=task.instance_id, task_id=task.id)
        return TaskView.of(task, session.get(User, user.user_id))


def may_release(user: Actor, task: Task) -> bool:
    """Who may return a taken task to the common list: its assignee, or whoever oversees the school."""
    return task.assignee_id is not None and (task.assignee_id == user.user_id
                                             or user.scope.oversees(place_of_task(task)))


def may_hand_over(user: Actor, task: Task) -> bool:
    """Who may hand a task to someone else: its assignee, whoever oversees the school, and — while nobody
    has taken it — anyone who may act on it (as if they took it and passed it on in one step)."""
    place = place_of_task(task)
    if task.assignee_id is None:
        return user.scope.can_act(task.role, place) or user.scope.oversees(place)
    return task.assignee_id == user.user_id or user.scope.oversees(place)


def _colleagues(session: Session, task: Task, *, besides: set[int | None]) -> list[Colleague]:
    """Active users who may act on the task (its role for its school), by name; one query."""
    found = users_for(session, task.role, place_of_task(task))
    return sorted((Colleague(u.login, u.full_name) for u in found if u.id not in besides),
                  key=lambda c: (c.full_name, c.login))


def _handover(session: Session, user: Actor, task: Task) -> Handover:
    claim = task.assignee_id is None and user.scope.can_act(task.role, place_of_task(task))
    if not may_hand_over(user, task):
        return Handover(claim, may_release(user, task))
    colleagues = _colleagues(session, task, besides={task.assignee_id, user.user_id})
    return Handover(claim, may_release(user, task), True, tuple(colleagues))


def handover_candidates(db: Database, task_id: int, *, actor: Who) -> list[Colleague]:
    """Whom I may hand the task to: everyone else holding its role for its school (never its assignee)."""
    with db.reading() as session:
        user = load_user(session, actor)
        task = _ready_task(session, task_id)
        if not may_hand_over(user, task):
            raise NotAllowed("передать задачу может её исполнитель или координатор")
        return _colleagues(session, task, besides={task.assignee_id, user.user_id})


def release_task(db: Database, task_id: int, *, actor: Who) -> TaskView:
    """Return a taken task to the common list of everyone who may act on it (its draft stays)."""
    with db.transaction() as session:
        user = load_user(session, actor)
        task = _ready_task(session, task_id)
        if task.assignee_id is None:
            if not (user.scope.can_act(task.role, place_of_task(task)) or user.scope.oversees(place_of_task(task))):
                raise NotAllowed("эта задача вне вашей зоны ответственности")
            return TaskView.of(task, None)  # already in the common list: nothing to record
        if not may_release(user, task):
            raise NotAllowed("вернуть задачу в общий список может её исполнитель или координатор")
        previous = task.assignee_id
        task.assignee_id = None
        audit.record(session, db.now(), "task.released", actor_id=user.user_id,
                     instance_id=task.instance_id, task_id=task.id, previous=previous)
        return TaskView.of(task, None)


def reassign_task(db: Database, task_id: int, to_login: str | None, *, actor: Who,
                  base_url: str = "") -> TaskView:
    """Hand a task to another user who may act on it (or release it with ``to_login=None``).

    Allowed as ``may_hand_over`` says; the new assignee must hold the task's role for its school and
    is told so by a notification (kind ``handover``; a letter too if they have an e-mail address)."""
    with db.transaction() as session:
        user = load_user(session, actor)
        task = _ready_task(session, task_id)
        place = place_of_task(task)
        if not may_hand_over(user, task) or (to_login is None and task.assignee_id is None
                                             and not user.scope.oversees(place)):
            raise NotAllowed("переназначить задачу может её исполнитель или координатор")
        target_id, target = None, None
        if to_login is not None:
            target = find_user(session, to_login)
            if not Scope.of(target.grants).can_act(task.role, place):
                raise NotAllowed(f"у пользователя «{target.full_name}» ({to_login}) нет роли для этой задачи "
                                 "в этой школе: передать её можно только тому, кто может её выполнить")
            target_id = target.id
        previous = task.assignee_id
        task.assignee_id = target_id
        now = db.now()
        audit.record(session, now, "task.reassigned", actor_id=user.user_id,
                     instance_id=task.instance_id, task_id=task.id, previous=previous, to=target_id)
        if target is not None and target.id not in (user.user_id, previous):
            giver = session.get(User, user.user_id)
            notify(session, [target], _handed_over(task, giver.full_name if giver else user.login, base_url),
                   now=now, key=f"handover:{task.id}:{now.isoformat()}", task_id=task.id)
        return TaskView.of(task, target)


def _handed_over(task: Task, giver: str, base_url: str) -> Message:
    due = f" Срок: {moscow_time(task.due_at)}." if task.due_at else ""
    return Message("handover", f"Вам передана задача «{task.name}» — {task.school.name}",
                   f"Задача «{task.name}» ({task.school.name}) теперь в работе у вас. Передал(а): {giver}.{due}",
                   f"{base_url}/tasks/{task.id}")
