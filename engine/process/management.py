"""Managing running roadmaps (issue 22): withdraw a school's roadmap, suspend and resume roadmaps,
change a school's curator.

Each operation is one service, used alike by the web pages, the REST API and the CLI, and audited with
who, when and the reason typed. Admins (and the operator) manage any roadmap; a regional coordinator
those of their own region. Municipal coordinators, curators and schools are refused: these decisions
change what a whole region's people see and owe.

- **Withdraw**: the instance becomes ``cancelled`` (shown as «снят с проекта»), its open tasks are
  cancelled, every deadline row it still has is stopped and its planned curator visits are cancelled;
  reports keep the school, as withdrawn.
- **Suspend**: ``suspended_at`` is set; the sweep holds every deadline row of the instance (nothing
  fires, nothing escalates) and its tasks cannot be completed.
- **Resume**: deadlines and due times shift by the working days the roadmap stood suspended, counted
  on the school's local dates (its region's time zone and the production calendar with overrides).
- **Change the curator**: the curator grants move, open curator tasks go to the new curator, both hear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, joinedload

from engine import audit
from engine.actors import Who, is_operator, login_of
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.errors import Conflict, FormInvalid, NotAllowed, NotFound
from engine.labels import N_
from engine.models import (
    Deadline,
    DeadlineKind,
    Incident,
    InstanceStatus,
    Municipality,
    PlannedVisit,
    ProcessInstance,
    Region,
    RoleGrant,
    School,
    Task,
    TaskStatus,
    User,
    VisitStatus,
)
from engine.org.core import Actor, find_school, find_user, load_actor, place_of
from engine.org.regions import region_zone
from engine.org.scopes import OrgPlace
from engine.process.actions import CuratorCandidate, curator_candidates
from engine.process.instances import close_deadlines, sync_tasks
from engine.process.notifications import Message, notify
from engine.roles import Role
from engine.templates.versions import compiled_version
from engine.timing.production_calendar import load_calendar
from engine.timing.workdays import WorkCalendar

#: Why a roadmap is withdrawn: the code is stored in the audit record, the words are shown.
WITHDRAW_REASONS = {
    "left_project": N_("школа вышла из проекта"),
    "reorganised": N_("школа реорганизована или присоединена к другой"),
    "closed": N_("школа закрыта"),
    "duplicate": N_("маршрут запущен по ошибке или повторно"),
    "other": N_("другая причина"),
}

#: A school merged into another: its roadmap is withdrawn for this reason (not offered in the list).
MERGED = "merged"
ALL_WITHDRAW_REASONS = {**WITHDRAW_REASONS, MERGED: N_("слияние")}

MANAGERS_ONLY = "управлять маршрутами может региональный координатор своего региона или администратор"


@dataclass(frozen=True)
class Selection:
    """Which roadmaps an operation is about: one school's, or every one of a municipality or region."""

    school: str | None = None
    municipality: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if sum(code is not None for code in (self.school, self.municipality, self.region)) != 1:
            raise FormInvalid({"selection": ["укажите одно: школу, муниципалитет или регион"]})


@dataclass(frozen=True)
class ManagedRoadmap:
    """One roadmap an operation touched (or, in a preview, would touch)."""

    instance_id: int
    school_code: str
    school_name: str
    status: str
    suspended_at: datetime | None
    shift_working_days: int = 0  # a resume: how far its deadlines move
    tasks_closed: int = 0  # a withdrawal: open tasks it cancelled


def may_manage(user: Actor, place: OrgPlace) -> bool:
    """Whether the school page offers the user «Управление маршрутом» (the services check again)."""
    return user.scope.is_admin or any(g.role is Role.REGIONAL_COORDINATOR and g.region_id == place.region_id
                                      for g in user.scope.grants)


def _manager(session: Session, actor: Who, places: Sequence[OrgPlace]) -> int | None:
    """The operator and admins manage anywhere; a regional coordinator, in their own region only."""
    if is_operator(actor):
        return None
    user = load_actor(session, login_of(actor))
    if not places or not all(may_manage(user, place) for place in places):
        raise NotAllowed(MANAGERS_ONLY)
    return user.user_id


def authorize(session: Session, actor: Who, places: Sequence[OrgPlace]) -> int | None:
    """The actor's user id if they manage every place (None for the operator); ``NotAllowed`` otherwise."""
    return _manager(session, actor, places)


def area_places(session: Session, selection: Selection) -> list[OrgPlace]:
    return _selection_places(session, selection)


def _area_query(session: Session, selection: Selection) -> Select[ProcessInstance]:
    """The instances of the selection (every status; the caller narrows), schools loaded with them."""
    query = select(ProcessInstance).join(School, School.id == ProcessInstance.school_id)
    if selection.school is not None:
        query = query.where(School.id == find_school(session, selection.school).id)
    elif selection.municipality is not None:
        municipality = session.scalar(select(Municipality).where(Municipality.code == selection.municipality))
        if municipality is None:
            raise NotFound(f"муниципалитет «{selection.municipality}» не найден")
        query = query.where(School.municipality_id == municipality.id)
    else:
        region = session.scalar(select(Region).where(Region.code == selection.region))
        if region is None:
            raise NotFound(f"регион «{selection.region}» не найден")
        query = query.where(School.region_id == region.id)
    return query.options(joinedload(ProcessInstance.school)).order_by(School.code, ProcessInstance.id)


def _selection_places(session: Session, selection: Selection) -> list[OrgPlace]:
    """Where the selection lies, for authorization (even when it has no roadmap at all)."""
    if selection.school is not None:
        return [place_of(find_school(session, selection.school))]
    if selection.municipality is not None:
        row = session.scalar(select(Municipality).where(Municipality.code == selection.municipality))
        if row is None:
            raise NotFound(f"муниципалитет «{selection.municipality}» не найден")
        return [OrgPlace(0, row.id, row.region_id)]
    region = session.scalar(select(Region).where(Region.code == selection.region))
    if region is None:
        raise NotFound(f"регион «{selection.region}» не найден")
    return [OrgPlace(0, 0, region.id)]


def _view(instance: ProcessInstance, **extra: int) -> ManagedRoadmap:
    return ManagedRoadmap(instance.id, instance.school.code, instance.school.name, instance.status.value,
                          instance.suspended_at, **extra)


def _reason(text: str | None, field: str = "reason") -> str:
    words = (text or "").strip()
    if not words:
        raise FormInvalid({field: ["укажите причину"]})
    return words[:1000]


def school_roadmap(db: Database, school_code: str, *, actor: Who) -> ManagedRoadmap:
    """The school's newest roadmap as a manager sees it before acting (its open tasks counted)."""
    with db.reading() as session:
        _manager(session, actor, _selection_places(session, Selection(school=school_code)))
        instance = session.scalars(_area_query(session, Selection(school=school_code)).order_by(None)
                                   .order_by(ProcessInstance.id.desc()).limit(1)).first()
        if instance is None:
            raise NotFound(f"у школы «{school_code}» нет маршрута")
        open_tasks = session.scalar(select(func.count()).select_from(Task).where(
            Task.instance_id == instance.id, Task.status == TaskStatus.READY)) or 0
        return _view(instance, tasks_closed=open_tasks)


# --- withdraw -------------------------------------------------------------------------------------------


def withdraw_roadmap(db: Database, school_code: str, *, reason: str, comment: str = "",
                     actor: Who) -> ManagedRoadmap:
    """Withdraw the school's running roadmap: tasks cancelled, deadlines stopped, status ``cancelled``."""
    check_withdraw_reason(reason, comment)
    with db.transaction() as session:
        return withdraw_one(session, school_code, reason=reason, comment=comment, actor=actor, now=db.now())


def check_withdraw_reason(reason: str, comment: str) -> None:
    if reason not in WITHDRAW_REASONS:
        raise FormInvalid({"reason": ["выберите причину из списка"]})
    if reason == "other":
        _reason(comment, "comment")


def withdraw_one(session: Session, school_code: str, *, reason: str, comment: str = "", actor: Who,
                 now: datetime, batch: int | None = None) -> ManagedRoadmap:
    """One school's withdrawal in the caller's transaction (a single withdrawal, a batch's step, a merge)."""
    if reason != MERGED:
        check_withdraw_reason(reason, comment)
    actor_id = _manager(session, actor, _selection_places(session, Selection(school=school_code)))
    instance = _running_instance(session, school_code)
    open_ids = list(session.scalars(select(Task.id).where(Task.instance_id == instance.id,
                                                           Task.status == TaskStatus.READY)))
    session.execute(update(Task).where(Task.id.in_(open_ids)).values(status=TaskStatus.CANCELLED)
                    .execution_options(synchronize_session=False))
    close_deadlines(session, open_ids, now)
    # Rows of no task (timers, retries of parked steps) stop too; open incidents are moot.
    session.execute(update(Deadline).where(Deadline.instance_id == instance.id, Deadline.fired_at.is_(None))
                    .values(cancelled=True, fired_at=now).execution_options(synchronize_session=False))
    session.execute(update(Incident).where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
                    .values(resolved_at=now, resolved_by_id=actor_id, resolution="withdrawn")
                    .execution_options(synchronize_session=False))
    # A school that left is not visited: its planned visits are cancelled (those made stay in its report).
    session.execute(update(PlannedVisit).where(PlannedVisit.instance_id == instance.id,
                                               PlannedVisit.status == VisitStatus.PLANNED)
                    .values(status=VisitStatus.CANCELLED, updated_at=now,
                            cancel_reason=f"Дорожная карта снята с проекта: {ALL_WITHDRAW_REASONS[reason]}")
                    .execution_options(synchronize_session=False))
    instance.status, instance.suspended_at = InstanceStatus.CANCELLED, None
    audit.record(session, now, "instance.withdrawn", actor_id=actor_id, instance_id=instance.id,
                 school=school_code, reason=reason, reason_text=ALL_WITHDRAW_REASONS[reason],
                 comment=comment.strip()[:1000], tasks_cancelled=open_ids, **_batch(batch))
    session.flush()
    return _view(instance, tasks_closed=len(open_ids))


def _batch(batch: int | None) -> dict[str, Any]:
    """A batch's step says which run it belongs to in its audit record."""
    return {} if batch is None else {"batch_run": batch}


def _running_instance(session: Session, school_code: str) -> ProcessInstance:
    """The school's newest roadmap, locked; refused unless it is running."""
    instance = session.scalars(_area_query(session, Selection(school=school_code)).order_by(None)
                               .order_by(ProcessInstance.id.desc()).limit(1)
                               .with_for_update(of=ProcessInstance)).first()
    if instance is None:
        raise NotFound(f"у школы «{school_code}» нет маршрута")
    if instance.status is not InstanceStatus.RUNNING:
        words = "уже снят с проекта" if instance.status is InstanceStatus.CANCELLED else "уже завершён"
        raise Conflict(f"маршрут школы «{school_code}» {words}")
    return instance


# --- suspend / resume -----------------------------------------------------------------------------------


def preview_suspension(db: Database, selection: Selection, *, resume: bool, actor: Who) -> list[ManagedRoadmap]:
    """What suspending (or resuming) the selection would touch, with the working days each resume would
    shift its deadlines by, counted as if it happened now: the confirmation page shows this."""
    with db.reading() as session:
        _manager(session, actor, _selection_places(session, selection))
        instances = _candidates(session, selection, resume=resume, lock=False)
        shifts = _shifts(session, instances, db.now()) if resume else {}
        return [_view(i, shift_working_days=shifts.get(i.id, 0)) for i in instances]


def suspend_roadmaps(db: Database, selection: Selection, *, reason: str, actor: Who) -> list[ManagedRoadmap]:
    """Suspend every running, not yet suspended roadmap of the selection (one transaction)."""
    words = _reason(reason)
    with db.transaction() as session:
        actor_id = _manager(session, actor, _selection_places(session, selection))
        instances = _candidates(session, selection, resume=False, lock=True)
        if selection.school is not None and not instances:
            raise Conflict(f"у школы «{selection.school}» нет идущего маршрута, который можно приостановить")
        now = db.now()
        for instance in instances:
            _suspend(session, instance, words, actor_id, now, _selection_details(selection))
        session.flush()
        return [_view(i) for i in instances]


def suspend_one(session: Session, school_code: str, *, reason: str, actor: Who, now: datetime,
                batch: int | None = None) -> ManagedRoadmap:
    """One school's suspension in the caller's transaction (a batch's step)."""
    words = _reason(reason)
    actor_id = _manager(session, actor, _selection_places(session, Selection(school=school_code)))
    instance = _running_instance(session, school_code)
    if instance.suspended_at is not None:
        raise Conflict(f"маршрут школы «{school_code}» уже приостановлен")
    _suspend(session, instance, words, actor_id, now, _batch(batch))
    session.flush()
    return _view(instance)


def _suspend(session: Session, instance: ProcessInstance, reason: str, actor_id: int | None, now: datetime,
             details: dict[str, Any]) -> None:
    instance.suspended_at = now
    audit.record(session, now, "instance.suspended", actor_id=actor_id, instance_id=instance.id,
                 school=instance.school.code, reason=reason, **details)


def resume_roadmaps(db: Database, selection: Selection, *, reason: str = "", actor: Who) -> list[ManagedRoadmap]:
    """Resume the selection's suspended roadmaps: every open deadline row (but arrivals, which are news
    now) and every open task's due time moves by the working days the roadmap stood suspended."""
    with db.transaction() as session:
        actor_id = _manager(session, actor, _selection_places(session, selection))
        instances = _candidates(session, selection, resume=True, lock=True)
        if selection.school is not None and not instances:
            raise Conflict(f"маршрут школы «{selection.school}» не приостановлен")
        now = db.now()
        shifts = _shifts(session, instances, now)
        # Reported with the moment each was suspended at (what the shift was counted from).
        views = [_view(i, shift_working_days=shifts[i.id]) for i in instances]
        for instance in instances:
            _resume(session, instance, shifts[instance.id], reason, actor_id, now, _selection_details(selection))
        session.flush()
        return views


def resume_one(session: Session, school_code: str, *, reason: str = "", actor: Who, now: datetime,
               batch: int | None = None) -> ManagedRoadmap:
    """One school's resume in the caller's transaction (a batch's step)."""
    actor_id = _manager(session, actor, _selection_places(session, Selection(school=school_code)))
    instance = _running_instance(session, school_code)
    if instance.suspended_at is None:
        raise Conflict(f"маршрут школы «{school_code}» не приостановлен")
    days = _shifts(session, [instance], now)[instance.id]
    view = _view(instance, shift_working_days=days)
    _resume(session, instance, days, reason, actor_id, now, _batch(batch))
    session.flush()
    return view


def _resume(session: Session, instance: ProcessInstance, days: int, reason: str, actor_id: int | None,
            now: datetime, details: dict[str, Any]) -> None:
    calendar = load_calendar(session)
    _shift_deadlines(session, instance, calendar.in_zone(region_zone(session, instance.school.region_id)), days)
    audit.record(session, now, "instance.resumed_by_person", actor_id=actor_id, instance_id=instance.id,
                 school=instance.school.code, reason=reason.strip()[:1000],
                 suspended_at=instance.suspended_at.isoformat() if instance.suspended_at else None,
                 shift_working_days=days, **details)
    instance.suspended_at = None


def _selection_details(selection: Selection) -> dict[str, Any]:
    return {key: value for key, value in (("municipality", selection.municipality),
                                          ("region", selection.region)) if value is not None}


def _candidates(session: Session, selection: Selection, *, resume: bool, lock: bool) -> list[ProcessInstance]:
    query = _area_query(session, selection).where(
        ProcessInstance.status == InstanceStatus.RUNNING,
        ProcessInstance.suspended_at.is_not(None) if resume else ProcessInstance.suspended_at.is_(None))
    if lock:
        query = query.with_for_update(of=ProcessInstance)
    return list(session.scalars(query).unique())


def _shifts(session: Session, instances: Sequence[ProcessInstance], now: datetime) -> dict[int, int]:
    """Working days each roadmap stood suspended: the working days after the day it was suspended, up
    to and including today, on the school's local dates."""
    calendar, zones = load_calendar(session), {}
    shifts = {}
    for instance in instances:
        region_id = instance.school.region_id
        if region_id not in zones:
            zones[region_id] = calendar.in_zone(region_zone(session, region_id))
        local = zones[region_id]
        since = instance.suspended_at or now
        shifts[instance.id] = max(0, local.working_days_until(local.local_date(since), local.local_date(now)))
    return shifts


def _shift_deadlines(session: Session, instance: ProcessInstance, calendar: WorkCalendar, days: int) -> None:
    if days <= 0:
        return
    rows = session.scalars(select(Deadline).where(Deadline.instance_id == instance.id, Deadline.fired_at.is_(None),
                                                  Deadline.kind != DeadlineKind.ARRIVAL))
    for row in rows:
        row.fire_at = calendar.add_working_days(row.fire_at, days)
    tasks = session.scalars(select(Task).where(Task.instance_id == instance.id, Task.status == TaskStatus.READY,
                                               Task.due_at.is_not(None)))
    for task in tasks:
        assert task.due_at is not None
        task.due_at = calendar.add_working_days(task.due_at, days)


# --- change the curator ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CuratorChange:
    """One school whose curator changed: who left, who came, how many open curator tasks moved."""

    school_code: str
    school_name: str
    previous: list[str]
    curator: str
    tasks_moved: int


@dataclass(frozen=True)
class CuratorChoice:
    """What the «сменить куратора» page offers: the school's curators now, and who may take over."""

    school_code: str
    school_name: str
    curators: list[str]
    candidates: list[CuratorCandidate]


def curator_choice(db: Database, school_code: str, *, actor: Who) -> CuratorChoice:
    with db.reading() as session:
        school = find_school(session, school_code)
        _manager(session, actor, [place_of(school)])
        curators = sorted(session.scalars(select(User.login).join(RoleGrant, RoleGrant.user_id == User.id).where(
            RoleGrant.role == Role.CURATOR, RoleGrant.school_id == school.id)))
        candidates = [c for c in curator_candidates(session, school) if c.login not in curators]
        return CuratorChoice(school.code, school.name, curators, candidates)


def change_curator(db: Database, to_login: str, *, school: str | None = None, from_login: str | None = None,
                   reason: str, actor: Who) -> list[CuratorChange]:
    """Make ``to_login`` the curator of one school (replacing its curators, or only ``from_login``), or of
    every school ``from_login`` curates (``school`` omitted; only schools the actor manages).

    The curator role grants move; the school's open curator tasks are assigned to the new curator; both
    people are notified; every school's change is audited with the reason. The new curator must be one of
    the region's candidates (a curator there or in its curator pool), as when a curator is first bound."""
    words = _reason(reason)
    if school is None and from_login is None:
        raise FormInvalid({"school": ["укажите школу или прежнего куратора"]})
    with db.transaction() as session:
        schools = _curated_schools(session, school, from_login)
        actor_id = _manager(session, actor, [place_of(s) for s in schools])
        newcomer = find_user(session, to_login)
        now = db.now()
        changes = [_change_one(session, s, newcomer, from_login, words, actor_id, now) for s in schools]
        session.flush()
        return changes


def change_curator_one(session: Session, school_code: str, to_login: str, *, from_login: str | None = None,
                       reason: str, actor: Who, now: datetime, batch: int | None = None) -> CuratorChange:
    """One school's change of curator in the caller's transaction (a batch's step)."""
    words = _reason(reason)
    school = find_school(session, school_code)
    actor_id = _manager(session, actor, [place_of(school)])
    change = _change_one(session, school, find_user(session, to_login), from_login, words, actor_id, now, batch)
    session.flush()
    return change


def _curated_schools(session: Session, school: str | None, from_login: str | None) -> list[School]:
    if school is not None:
        return [find_school(session, school)]
    assert from_login is not None
    found = list(session.scalars(select(School).join(RoleGrant, RoleGrant.school_id == School.id).join(
        User, User.id == RoleGrant.user_id).where(User.login == from_login, RoleGrant.role == Role.CURATOR)
        .order_by(School.code)))
    if not found:
        raise NotFound(f"«{from_login}» не куратор ни одной школы")
    return found


def _change_one(session: Session, school: School, newcomer: User, from_login: str | None, reason: str,
                actor_id: int | None, now: datetime, batch: int | None = None) -> CuratorChange:
    if newcomer.login not in {c.login for c in curator_candidates(session, school)}:
        raise FormInvalid({"to": [f"«{newcomer.login}» не может быть куратором школы {school.code}: выберите "
                                  "куратора региона или кандидата из резерва кураторов"]})
    grants = list(session.scalars(select(RoleGrant).join(User, User.id == RoleGrant.user_id).where(
        RoleGrant.role == Role.CURATOR, RoleGrant.school_id == school.id, RoleGrant.user_id != newcomer.id,
        *([User.login == from_login] if from_login else []))))
    if from_login and not grants:
        raise Conflict(f"«{from_login}» не куратор школы {school.code}")
    leaving = [session.get(User, grant.user_id) for grant in grants]
    for grant in grants:
        session.delete(grant)
    if session.scalar(select(RoleGrant.id).filter_by(user_id=newcomer.id, role=Role.CURATOR,
                                                     school_id=school.id)) is None:
        session.add(RoleGrant(user_id=newcomer.id, role=Role.CURATOR, school_id=school.id))
    moved = list(session.scalars(select(Task).where(Task.school_id == school.id, Task.role == Role.CURATOR,
                                                    Task.status == TaskStatus.READY)))
    for task in moved:
        task.assignee_id = newcomer.id
    instance_id = session.scalar(select(ProcessInstance.id).where(ProcessInstance.school_id == school.id)
                                 .order_by(ProcessInstance.id.desc()).limit(1))
    previous = [user.login for user in leaving if user is not None]
    audit.record(session, now, "org.curator_changed", actor_id=actor_id, instance_id=instance_id,
                 school=school.code, previous=previous, curator=newcomer.login, reason=reason,
                 tasks_moved=[t.id for t in moved], **_batch(batch))
    place = f"{school.name} ({school.code})"
    notify(session, [newcomer], Message("curator", f"Вы назначены куратором школы {place}",
                                        f"Вы — куратор школы {place}. Открытых задач куратора передано вам: "
                                        f"{len(moved)}. Причина замены: {reason}"),
           now=now, key=f"curator-in:{school.id}:{now.isoformat()}")
    notify(session, [user for user in leaving if user is not None],
           Message("curator", f"Вы больше не куратор школы {place}",
                   f"Куратором школы {place} назначен(а) {newcomer.full_name}; ваши открытые задачи по школе "
                   f"переданы. Причина: {reason}"),
           now=now, key=f"curator-out:{school.id}:{now.isoformat()}")
    return CuratorChange(school.code, school.name, previous, newcomer.login, len(moved))


# --- send back ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentBackRoadmap:
    instance_id: int
    school_code: str
    element_id: str
    reset_element: str  # the target, or the gateway whose branches all restart (``whole_branch``)
    opened_task_ids: list[int]
    cancelled_task_ids: list[int]


def send_back(db: Database, school_code: str, element_id: str, *, reason: str, whole_branch: bool = False,
              actor: Who) -> SentBackRoadmap:
    """Move a school's running roadmap back to an earlier user task (its last completed run), keeping the
    data entered so far and every document version. The workflow decides what is safe (engine/bpmn/runtime.py
    ``WorkflowRun.send_back``): inside a parallel branch only the whole branch goes back."""
    with db.transaction() as session:
        return send_back_one(session, school_code, element_id, reason=reason, whole_branch=whole_branch,
                             actor=actor, now=db.now())


def send_back_one(session: Session, school_code: str, element_id: str, *, reason: str, whole_branch: bool = False,
                  actor: Who, now: datetime, batch: int | None = None) -> SentBackRoadmap:
    """One school's send-back in the caller's transaction (a single one or a batch's step)."""
    words = _reason(reason)
    actor_id = _manager(session, actor, _selection_places(session, Selection(school=school_code)))
    instance = _running_instance(session, school_code)
    if instance.suspended_at is not None:
        raise Conflict(f"маршрут школы «{school_code}» приостановлен: сначала возобновите его")
    compiled = compiled_version(session, instance.template_version_id)
    run = WorkflowRun.restore(compiled, instance.workflow_json)
    sent = run.send_back(element_id, whole_branch=whole_branch)
    # The reset keeps the target's Spiff task id, and a task row is unique by it: the row of the earlier
    # run (completed, history) gets a fresh id of its own so the reopened task can be mirrored anew.
    session.execute(update(Task).where(Task.spiff_task_id == sent.target_task_id)
                    .values(spiff_task_id=str(uuid4())).execution_options(synchronize_session=False))
    before = set(session.scalars(select(Task.id).where(Task.instance_id == instance.id,
                                                       Task.status == TaskStatus.READY)))
    audit.record(session, now, "instance.sent_back", actor_id=actor_id, instance_id=instance.id,
                 school=school_code, element=element_id, reset_element=sent.reset_element, reason=words,
                 **_batch(batch))
    opened = sync_tasks(session, instance, run, compiled.spec, now)
    instance.workflow_json = run.dump()
    session.flush()
    return SentBackRoadmap(instance.id, school_code, element_id, sent.reset_element,
                           [t.id for t in opened], sorted(before))


@dataclass(frozen=True)
class SendBackTarget:
    element_id: str
    name: str
    stage: str


def send_back_targets(db: Database, school_code: str, *, actor: Who) -> tuple[ManagedRoadmap, list[SendBackTarget]]:
    """The steps the school's roadmap has completed, latest first: where it could be sent back to (the engine
    still checks each when asked)."""
    roadmap = school_roadmap(db, school_code, actor=actor)
    with db.reading() as session:
        rows = session.execute(select(Task.element_id, Task.name, Task.stage, func.max(Task.completed_at))
                               .where(Task.instance_id == roadmap.instance_id, Task.status == TaskStatus.COMPLETED)
                               .group_by(Task.element_id, Task.name, Task.stage)
                               .order_by(func.max(Task.completed_at).desc())).all()
    seen: dict[str, SendBackTarget] = {}
    for element_id, name, stage, _ in rows:
        seen.setdefault(element_id, SendBackTarget(element_id, name.split(": ")[0], stage))
    return roadmap, list(seen.values())


# --- move a school --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MovedSchool:
    school_code: str
    from_municipality: str
    to_municipality: str
    tasks_moved: int


def move_school(db: Database, school_code: str, municipality_code: str, *, reason: str, actor: Who) -> MovedSchool:
    """Move a school to another municipality (a reorganisation). Its tasks carry the new municipality (and
    region), so scopes, dashboards and escalation recipients follow at once; its own and its curators'
    grants are the school's and stay. A regional coordinator moves schools within their region only."""
    with db.transaction() as session:
        return move_one(session, school_code, municipality_code, reason=reason, actor=actor, now=db.now())


def move_one(session: Session, school_code: str, municipality_code: str, *, reason: str, actor: Who,
             now: datetime, batch: int | None = None) -> MovedSchool:
    """One school's move in the caller's transaction (a single move or a batch's step)."""
    words = _reason(reason)
    school = find_school(session, school_code)
    target = session.scalar(select(Municipality).where(Municipality.code == municipality_code))
    if target is None:
        raise NotFound(f"муниципалитет «{municipality_code}» не найден")
    actor_id = _manager(session, actor, [place_of(school), OrgPlace(school.id, target.id, target.region_id)])
    if target.id == school.municipality_id:
        raise Conflict(f"школа «{school_code}» уже в муниципалитете «{municipality_code}»")
    previous = session.get(Municipality, school.municipality_id)
    school.municipality_id, school.region_id = target.id, target.region_id
    moved = len(session.scalars(update(Task).where(Task.school_id == school.id)
                                .values(municipality_id=target.id, region_id=target.region_id)
                                .returning(Task.id).execution_options(synchronize_session=False)).all())
    instance_id = session.scalar(select(ProcessInstance.id).where(ProcessInstance.school_id == school.id)
                                 .order_by(ProcessInstance.id.desc()).limit(1))
    from_code = previous.code if previous is not None else ""
    audit.record(session, now, "org.school_moved", actor_id=actor_id, instance_id=instance_id,
                 school=school_code, municipality_from=from_code, municipality_to=target.code, reason=words,
                 **_batch(batch))
    session.flush()
    return MovedSchool(school_code, from_code, target.code, moved)


def move_targets(db: Database, school_code: str, *, actor: Who) -> tuple[ManagedRoadmap, list[tuple[str, str]]]:
    """The municipalities of the school's region it could move to, as (code, name), for the page."""
    roadmap = school_roadmap(db, school_code, actor=actor)
    with db.reading() as session:
        school = find_school(session, school_code)
        rows = session.execute(select(Municipality.code, Municipality.name).where(
            Municipality.region_id == school.region_id, Municipality.id != school.municipality_id)
            .order_by(Municipality.name)).all()
    return roadmap, [(code, name) for code, name in rows]
