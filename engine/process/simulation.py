"""«Пробный запуск»: a template's draft run for a made-up school before it is deployed.

The run uses the very code a real roadmap goes through — the draft is stored as a version, a school with its
municipality, region (the zone of a real region the admin picks), cohort calendar and one made-up person per
role is created, the workflow starts and each filled form is completed by ``tasks`` as that person (the same
validation, rules, engine actions, DMN, gateways, task mirroring, due times and deadline rows) — all inside
ONE transaction that is always rolled back (the batch dry run's pattern, engine/process/batches.py). What the
page shows is read in that transaction and returned as plain data; nothing of it outlives the rollback.

Between steps only the admin's inputs are kept (``template_simulation``: the region, the start, and the events
in order — forms filled, the clock moved), and every request replays them from the start. Why not keep the
serialized workflow instead: it is bound to row ids and Spiff task ids of a transaction that no longer exists,
and replaying through the services is what makes «the same code as a real roadmap» true by construction.
A replay costs one completion per step (the «500+» draft: ~20 steps end to end), well within a page load.
If the draft changed so that an earlier step no longer goes through, the page says which step and why.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Who
from engine.bpmn.bundle import Bundle
from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.errors import EngineError, FormInvalid, NotFound, Problem, TemplateInvalid
from engine.models import (
    Cohort,
    CuratorPoolEntry,
    Deadline,
    DeadlineKind,
    InstanceStatus,
    Municipality,
    ProcessInstance,
    Region,
    RoleGrant,
    School,
    Task,
    TaskStatus,
    TemplateSimulation,
    TemplateVersion,
    User,
)
from engine.org.core import load_admin, operator_or_admin, users_for
from engine.process import instances, tasks
from engine.process.actions import form_choices
from engine.process.cohorts import cohort_title
from engine.process.task_access import place_of_task
from engine.roles import ROLE_TITLES, Role, escalation_target
from engine.templates.versions import compiled_version, store_version
from engine.templates.workspace import check_draft_files, draft_files
from engine.timing.zones import DEFAULT_ZONE, local_time, zone

_ADMINS_ONLY = "пробный запуск черновика доступен только администратору"
#: The made-up people, one per role a lane may name: (surname and names, position).
PEOPLE: dict[Role, tuple[str, str]] = {
    Role.SCHOOL: ("Тестова Анна Сергеевна", "директор школы"),
    Role.CURATOR: ("Пробный Иван Петрович", "куратор"),
    Role.MUNICIPAL_COORDINATOR: ("Примерова Ольга Николаевна", "муниципальный координатор"),
    Role.REGIONAL_COORDINATOR: ("Образцов Павел Андреевич", "региональный координатор"),
    Role.FEDERAL: ("Макетова Елена Викторовна", "координатор ФИОКО"),
}
SCHOOL_NAME = "Тестовая школа"
#: The first day's moment: 9:00 where the school is, a working morning.
START_TIME = time(9, 0)
#: The console's runs make the same people every time (sim-cli-curator, …), so a file of steps can name them.
CLI_TAG = "cli"
#: Events one simulation may hold: far beyond any template (the «500+» draft ends in ~20 steps); a bound on the
#: replay's work, not a limit anyone should meet.
MAX_EVENTS = 200


@dataclass(frozen=True)
class SimulationSetup:
    """What the admin chooses: the region whose name and time zone the made-up school takes (None: a
    Moscow-time region of its own), the first day, and the cohort whose calendar applies."""

    region_code: str | None
    start: date
    cohort_year: int
    #: Part of the made-up codes and logins. Kept with the simulation, so a replay makes the same people and a
    #: form that named one (a curator chosen) still names them; random, so two admins' runs never share a code
    #: (a second run with the same code would wait for the first's rollback on PostgreSQL's unique index).
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region_code, "start": self.start.isoformat(), "cohort": self.cohort_year,
                "tag": self.tag}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulationSetup:
        return cls(data.get("region"), date.fromisoformat(str(data["start"])), int(data["cohort"]),
                   str(data.get("tag") or secrets.token_hex(4)))


@dataclass(frozen=True)
class Fill:
    """A form filled as the task's role: the ``number``-th open task of the element (several open at once
    in a multi-instance step), in the order the run opened them."""

    element: str
    number: int
    data: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.element}.{self.number}"


@dataclass(frozen=True)
class MoveClock:
    """The simulated clock moved forward to ``to``; timers due by then fire."""

    to: datetime


Event = Fill | MoveClock


def event_to_dict(event: Event) -> dict[str, Any]:
    if isinstance(event, Fill):
        return {"fill": event.element, "number": event.number, "data": event.data}
    return {"clock": event.to.isoformat()}


def event_from_dict(data: dict[str, Any]) -> Event:
    if "clock" in data:
        return MoveClock(datetime.fromisoformat(str(data["clock"])).astimezone(UTC))
    return Fill(str(data["fill"]), int(data.get("number", 1)), dict(data.get("data") or {}))


@dataclass(frozen=True)
class SimulatedDeadline:
    kind: str  # reminder | due | escalation
    step: int
    fire_at: datetime
    shown_at: str  # in the school's zone, the zone named
    to: str  # who hears of it: the role
    person: str  # and the made-up person holding it
    fired: bool  # the simulated clock has passed it


@dataclass(frozen=True)
class SimulatedTask:
    ref: str
    element: str
    name: str
    stage: str
    stage_title: str
    role: str
    role_title: str
    people: list[str]
    due_at: datetime | None
    due_shown: str
    overdue: bool
    deadlines: list[SimulatedDeadline]


@dataclass(frozen=True)
class SimulatedStep:
    """A form filled (or the clock moved) earlier in the run, as the timeline lists it."""

    what: str
    role_title: str
    person: str
    at: str


@dataclass(frozen=True)
class SimulatedForm:
    ref: str
    name: str
    role: str
    role_title: str
    person: str
    form: dict[str, Any]
    values: dict[str, Any]


@dataclass(frozen=True)
class SimulatedSchool:
    name: str
    municipality: str
    region: str
    time_zone: str
    cohort_year: int
    people: list[tuple[str, str, str]]  # role title, name, position


@dataclass
class SimulationView:
    key: str
    title: str
    setup: SimulationSetup
    school: SimulatedSchool | None = None
    clock: datetime | None = None
    clock_shown: str = ""
    ready: list[SimulatedTask] = field(default_factory=list)
    done: list[SimulatedStep] = field(default_factory=list)
    current: SimulatedForm | None = None
    finished: bool = False
    next_deadline: datetime | None = None
    #: Why the run could not go on: the draft's problems, or a step that no longer goes through.
    problems: list[str] = field(default_factory=list)
    #: A step after a form failed (a broken expression, a failing DMN): the element and the cause.
    incidents: list[str] = field(default_factory=list)
    events: int = 0


# --- the run -------------------------------------------------------------------------------------------


class _RollBack(Exception):
    """Raised at the end of every simulated run, so that its transaction rolls back whatever it wrote."""


_T = TypeVar("_T")


def _rolled_back(db: Database, work: Callable[[Session], _T]) -> _T:
    """``work`` in one transaction that is always rolled back; its result must be plain data."""
    found: list[_T] = []
    try:
        with db.transaction() as session:
            found.append(work(session))
            raise _RollBack
    except _RollBack:
        pass
    return found[0]


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class _World:
    """The made-up school, its people and its instance, inside the rolled-back transaction."""

    school: School
    region: Region
    logins: dict[Role, str]
    instance_id: int
    numbers: dict[int, str] = field(default_factory=dict)  # task row id -> ref
    done: list[SimulatedStep] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)


def start_moment(setup: SimulationSetup, zone_name: str) -> datetime:
    return datetime.combine(setup.start, START_TIME, zone(zone_name)).astimezone(UTC)


def _region_zone(session: Session, code: str | None) -> tuple[str, str]:
    if code is None:
        return "Тестовый регион", DEFAULT_ZONE
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise FormInvalid({"region": [f"регион «{code}» не найден"]})
    return region.name, region.time_zone or DEFAULT_ZONE


def _made_up_world(session: Session, setup: SimulationSetup, now: datetime) -> tuple[School, Region, dict[Role, str]]:
    """A region, municipality and school of their own (a real region lends its name and zone) and one person per
    role, their codes and logins made with the setup's tag."""
    tag = setup.tag
    region_name, zone_name = _region_zone(session, setup.region_code)
    region = Region(code=f"sim-{tag}", name=region_name, time_zone=zone_name)
    municipality = Municipality(code=f"sim-{tag}-m", name="Тестовый муниципалитет", region=region)
    session.add_all([region, municipality])
    session.flush()
    school = School(code=f"sim-{tag}-s", name=SCHOOL_NAME, municipality=municipality, region_id=region.id)
    session.add(school)
    session.flush()
    logins = {}
    for role, (name, _) in PEOPLE.items():
        user = User(login=f"sim-{tag}-{role.value}", full_name=name, email=None, password_hash=None)
        session.add(user)
        session.flush()
        scope = {Role.SCHOOL: {"school_id": school.id}, Role.CURATOR: {"school_id": school.id},
                 Role.MUNICIPAL_COORDINATOR: {"municipality_id": municipality.id},
                 Role.REGIONAL_COORDINATOR: {"region_id": region.id}}.get(role, {})
        session.add(RoleGrant(user_id=user.id, role=role, **scope))
        if role is Role.CURATOR:  # a candidate the draft's bind_curator may offer, like a region's real pool
            session.add(CuratorPoolEntry(region_id=region.id, user_id=user.id, added_by_id=None, added_at=now))
        logins[role] = user.login
    session.flush()
    return school, region, logins


def _cohort(session: Session, year: int) -> Cohort:
    """The real cohort of that year (its calendar overrides apply), or one made up for the run."""
    found = session.scalar(select(Cohort).where(Cohort.year == year))
    if found is None:
        found = Cohort(year=year, title=cohort_title(year), dates={})
        session.add(found)
        session.flush()
    return found


#: The draft's check by (key, content hash): a replay checks the same draft at every request, and the check
#: (XSD, lint, forms, Spiff's parser) was 40 % of a three-step replay of the «500+» draft. Content never changes
#: under its hash, so an entry never goes stale; a handful covers the drafts being tried at once.
_CHECKED: OrderedDict[tuple[str, str], tuple[CompiledTemplate | None, list[Problem]]] = OrderedDict()
_CHECKED_SIZE = 8
_CHECKED_LOCK = threading.Lock()


def _checked(key: str, files: dict[str, bytes]) -> CompiledTemplate:
    cache_key = (key, Bundle(key, files).content_hash)
    with _CHECKED_LOCK:  # the web app's threads share it
        found = _CHECKED.get(cache_key)
    if found is None:
        found = check_draft_files(key, files)
    with _CHECKED_LOCK:
        _CHECKED[cache_key] = found
        _CHECKED.move_to_end(cache_key)
        while len(_CHECKED) > _CHECKED_SIZE:
            _CHECKED.popitem(last=False)
    compiled, problems = found
    if compiled is None:
        raise TemplateInvalid(problems)
    return compiled


def _start(session: Session, db: Database, key: str, setup: SimulationSetup, actor_id: int | None) -> _World:
    files = draft_files(session, key)
    compiled = _checked(key, files)
    now = db.now()
    version = store_version(session, now, Bundle(key, dict(files)), compiled, actor_id)
    school, region, logins = _made_up_world(session, setup, now)
    cohort = _cohort(session, setup.cohort_year)
    row = session.get_one(TemplateVersion, version.template_version_id)
    instance, run = instances.new_instance(compiled_version(session, row.id), row, school, cohort, actor_id, now)
    session.add(instance)
    session.flush()
    instances.sync_tasks(session, instance, run, compiled.spec, now, open_rows=[])
    world = _World(school, region, logins, instance.id)
    _number_new_tasks(session, world)
    return world


def _number_new_tasks(session: Session, world: _World) -> None:
    """Give each task row the run opened a stable name, ``element.N`` (its N-th opening in the run): row ids
    and Spiff task ids are new at every replay, the order in which the run opens tasks is not."""
    rows = session.scalars(select(Task).where(Task.instance_id == world.instance_id).order_by(Task.id)).all()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.element_id] = counts.get(row.element_id, 0) + 1
        world.numbers.setdefault(row.id, f"{row.element_id}.{counts[row.element_id]}")


def _ready_rows(session: Session, world: _World) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.instance_id == world.instance_id,
                                                   Task.status == TaskStatus.READY).order_by(Task.id)))


def _fill(session: Session, db: Database, world: _World, fill: Fill) -> None:
    task = next((row for row in _ready_rows(session, world) if world.numbers.get(row.id) == fill.ref), None)
    if task is None:
        raise NotFound(f"задача «{fill.element}» (№ {fill.number}) сейчас не ожидает выполнения")
    role = Role(task.role)
    done = tasks.complete_in(db, session, task.id, fill.data, actor=world.logins[role])
    session.flush()
    world.done.append(SimulatedStep(task.name, ROLE_TITLES[role], PEOPLE[role][0], _local(db.now(), world)))
    if done.incident_error is not None:
        world.incidents.append(f"после «{task.name}»: {done.incident_error}")
    _number_new_tasks(session, world)


def _move_clock(session: Session, clock: _Clock, world: _World, to: datetime) -> None:
    """The clock jumps to ``to``; BPMN timers whose moment came fire then, in order (the sweep's part), and so do
    timers those open, if their moment is before ``to`` too."""
    for _ in range(MAX_EVENTS):  # a timer that keeps opening timers due at once would never stop
        row = session.scalars(select(Deadline).where(
            Deadline.instance_id == world.instance_id, Deadline.kind == DeadlineKind.TIMER,
            Deadline.fired_at.is_(None), Deadline.cancelled.is_(False), Deadline.fire_at <= to)
            .order_by(Deadline.fire_at, Deadline.id).limit(1)).first()
        if row is None:
            break
        clock.now = max(clock.now, row.fire_at)
        row.fired_at = clock.now
        instances.fire_timer(session, world.instance_id, str((row.payload or {}).get("spiff_task_id")), clock.now)
        session.flush()
        _number_new_tasks(session, world)
    clock.now = max(clock.now, to)
    world.done.append(SimulatedStep("Время сдвинуто", "", "", _local(clock.now, world)))


def _local(moment: datetime, world: _World) -> str:
    return local_time(moment, world.region.time_zone)


def _replay(session: Session, db: Database, clock: _Clock, key: str, setup: SimulationSetup,
            events: Sequence[Event], actor_id: int | None) -> _World:
    world = _start(session, db, key, setup, actor_id)
    for number, event in enumerate(events, start=1):
        try:
            if isinstance(event, Fill):
                _fill(session, db, world, event)
            else:
                _move_clock(session, clock, world, event.to)
        except FormInvalid as err:
            if number == len(events):
                raise  # the step being filled now: field errors on its form
            fields = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in err.errors.items())
            raise _stale(number, f"форма не проходит проверку — {fields}") from None
        except EngineError as err:
            raise _stale(number, err.message) if number < len(events) else err from None
    return world


def _stale(number: int, why: str) -> EngineError:
    return EngineError(f"шаг {number} пробного запуска не выполняется ({why}); если черновик изменился, "
                       "начните заново")


# --- what the page shows -------------------------------------------------------------------------------


def _person(world: _World, role: Role) -> str:
    return PEOPLE.get(role, ("—", ""))[0]


def _deadlines(session: Session, task: Task, world: _World, now: datetime) -> list[SimulatedDeadline]:
    rows = session.scalars(select(Deadline).where(Deadline.task_id == task.id, Deadline.cancelled.is_(False),
                                                  Deadline.kind.in_([DeadlineKind.REMINDER, DeadlineKind.DUE,
                                                                     DeadlineKind.ESCALATION]))
                           .order_by(Deadline.fire_at, Deadline.step)).all()
    found = []
    for row in rows:
        role = Role(task.role)
        if row.kind == DeadlineKind.ESCALATION:
            role = escalation_target(role, int((row.payload or {}).get("levels_up", 1)))
        found.append(SimulatedDeadline(str(row.kind), row.step, row.fire_at, _local(row.fire_at, world),
                                       ROLE_TITLES[role], _person(world, role), row.fire_at <= now))
    return found


def _task_view(session: Session, world: _World, task: Task, stages: dict[str, str], now: datetime) -> SimulatedTask:
    role = Role(task.role)
    holders = {user.login for user in users_for(session, role, place_of_task(task))}
    people = [_person(world, role)] if world.logins.get(role) in holders else []
    return SimulatedTask(world.numbers[task.id], task.element_id, task.name, task.stage,
                         stages.get(task.stage, task.stage), role.value, ROLE_TITLES[role], people, task.due_at,
                         _local(task.due_at, world) if task.due_at else "без срока",
                         task.due_at is not None and task.due_at <= now, _deadlines(session, task, world, now))


def _form(session: Session, world: _World, task: Task) -> SimulatedForm:
    compiled = compiled_version(session, task.instance.template_version_id)
    form = compiled.form(task.form_key)
    instance = session.get_one(ProcessInstance, world.instance_id)
    run = WorkflowRun.restore(compiled, instance.workflow_json)
    data = run.task_data(task.spiff_task_id)
    values = {k: data[k] for k in sorted(form.keys()) if k in data}
    actions = compiled.spec.sections.actions.get(task.element_id, ())
    values.update(form_choices(session, task, actions, form, data))
    role = Role(task.role)
    return SimulatedForm(world.numbers[task.id], task.name, role.value, ROLE_TITLES[role], _person(world, role),
                         form.to_dict(), values)


def _view(session: Session, db: Database, key: str, setup: SimulationSetup, world: _World,
          selected: str | None) -> SimulationView:
    now = db.now()
    instance = session.get_one(ProcessInstance, world.instance_id)
    compiled = compiled_version(session, instance.template_version_id)
    stages = {s.key: s.title for s in compiled.spec.stages}
    rows = _ready_rows(session, world)
    ready = [_task_view(session, world, row, stages, now) for row in rows]
    chosen = next((row for row in rows if world.numbers[row.id] == selected), rows[0] if rows else None)
    upcoming = [d.fire_at for t in ready for d in t.deadlines if not d.fired and d.kind != "reminder"]
    timers = session.scalars(select(Deadline.fire_at).where(
        Deadline.instance_id == world.instance_id, Deadline.kind == DeadlineKind.TIMER,
        Deadline.fired_at.is_(None), Deadline.cancelled.is_(False))).all()
    municipality = session.get_one(Municipality, world.school.municipality_id)
    school = SimulatedSchool(world.school.name, municipality.name, world.region.name, world.region.time_zone,
                             setup.cohort_year, [(ROLE_TITLES[r], n, p) for r, (n, p) in PEOPLE.items()])
    return SimulationView(key, compiled.spec.title, setup, school, now, _local(now, world), ready, world.done,
                          _form(session, world, chosen) if chosen is not None else None,
                          instance.status is InstanceStatus.COMPLETED,
                          min([*upcoming, *[t for t in timers if t > now]], default=None),
                          incidents=world.incidents)


def simulate(db: Database, key: str, setup: SimulationSetup, events: Sequence[Event], *, actor: Who,
             selected: str | None = None) -> SimulationView:
    """Run the draft for a made-up school through ``events`` and show where it stands; nothing is kept.

    The operator (``roadmap templates simulate``) or an admin. A draft that does not validate gives the view
    with its problems (each naming the file and element); a form that fails validation raises ``FormInvalid``
    (the last event's: the page shows the field errors); an earlier event that no longer goes through gives
    the view with that problem."""
    with db.reading() as session:
        actor_id = operator_or_admin(session, actor, _ADMINS_ONLY)
    clock = _Clock(start_moment(setup, _zone_of(db, setup)))
    # The run's own Database: the shared engine, a clock of its own, and caches of its own (the live
    # workflows of a rolled-back run must never meet a real instance's, even with a reused id).
    run_db = Database(db.engine, clock, sessions=db.sessions)

    def work(session: Session) -> SimulationView:
        try:
            world = _replay(session, run_db, clock, key, setup, events, actor_id)
        except TemplateInvalid as err:
            return SimulationView(key, key, setup, problems=[_problem_words(p) for p in err.problems],
                                  events=len(events))
        except FormInvalid:
            raise
        except EngineError as err:
            return SimulationView(key, key, setup, problems=[err.message], events=len(events))
        view = _view(session, run_db, key, setup, world, selected)
        view.events = len(events)
        return view

    return _rolled_back(run_db, work)


def _problem_words(problem: Any) -> str:
    where = " · ".join(str(part) for part in (problem.path, f"строка {problem.line}" if problem.line else None,
                                              problem.element_id) if part)
    return f"{where}: {problem.message}" if where else str(problem.message)


def _zone_of(db: Database, setup: SimulationSetup) -> str:
    with db.reading() as session:
        return _region_zone(session, setup.region_code)[1]


# --- the admin's simulation between requests ------------------------------------------------------------


@dataclass(frozen=True)
class SavedSimulation:
    setup: SimulationSetup
    events: list[Event]


def default_setup(now: datetime) -> SimulationSetup:
    """Today in Moscow, the Moscow-time region of its own, this year's cohort: the page's first choices."""
    today = now.astimezone(zone(DEFAULT_ZONE)).date()
    return SimulationSetup(None, today, today.year)


def _row(session: Session, user_id: int, key: str) -> TemplateSimulation | None:
    return session.scalar(select(TemplateSimulation).where(TemplateSimulation.user_id == user_id,
                                                           TemplateSimulation.template_key == key))


def saved_simulation(db: Database, key: str, *, actor: Who) -> SavedSimulation | None:
    """The admin's simulation of this template's draft, if they started one."""
    with db.reading() as session:
        user = load_admin(session, actor, _ADMINS_ONLY)
        draft_files(session, key)  # a template without a draft has nothing to simulate
        row = _row(session, user.user_id, key)
        if row is None:
            return None
        state = row.state
        return SavedSimulation(SimulationSetup.from_dict(state["setup"]),
                               [event_from_dict(e) for e in state.get("events", [])])


def _save(db: Database, key: str, actor: Who, saved: SavedSimulation) -> None:
    with db.transaction() as session:
        user = load_admin(session, actor, _ADMINS_ONLY)
        row = _row(session, user.user_id, key)
        if row is None:
            row = TemplateSimulation(user_id=user.user_id, template_key=key)
            session.add(row)
        row.state = {"setup": saved.setup.to_dict(), "events": [event_to_dict(e) for e in saved.events]}
        row.updated_at = db.now()


def start_simulation(db: Database, key: str, setup: SimulationSetup, *, actor: Who) -> SimulationView:
    """Start (or start over) with these choices: the run's first tasks."""
    view = simulate(db, key, setup, [], actor=actor)
    _save(db, key, actor, SavedSimulation(setup, []))
    return view


def fill_form(db: Database, key: str, ref: str, data: dict[str, Any], *, actor: Who) -> SimulationView:
    """Fill the open task ``ref`` (``element.N``) as its role; kept only if the form goes through."""
    saved = _saved_or_refuse(db, key, actor)
    element, _, number = ref.rpartition(".")
    if not element or not number.isdigit():
        raise NotFound(f"задача «{ref}» не найдена")
    events = [*saved.events, Fill(element, int(number), data)]
    view = simulate(db, key, saved.setup, events, actor=actor)
    if not view.problems:
        _save(db, key, actor, SavedSimulation(saved.setup, events))
    return view


def move_clock(db: Database, key: str, *, actor: Who) -> SimulationView:
    """Move the simulated clock to the next moment the engine would act on (a due time, an escalation step,
    a timer): what was due is then overdue, and the escalation steps passed show as fired."""
    saved = _saved_or_refuse(db, key, actor)
    view = simulate(db, key, saved.setup, saved.events, actor=actor)
    if view.next_deadline is None:
        return view
    events = [*saved.events, MoveClock(view.next_deadline + timedelta(minutes=1))]
    view = simulate(db, key, saved.setup, events, actor=actor)
    if not view.problems:
        _save(db, key, actor, SavedSimulation(saved.setup, events))
    return view


def _saved_or_refuse(db: Database, key: str, actor: Who) -> SavedSimulation:
    saved = saved_simulation(db, key, actor=actor)
    if saved is None:
        raise NotFound("пробный запуск не начат: выберите регион и дату начала")
    if len(saved.events) >= MAX_EVENTS:
        raise EngineError(f"в пробном запуске уже {MAX_EVENTS} шагов: начните заново")
    return saved


def run_script(db: Database, key: str, setup: SimulationSetup, steps: Sequence[dict[str, Any]], *,
               actor: Who) -> SimulationView:
    """``roadmap templates simulate``: the steps of a JSON file in order — ``{"task": "element.N", "data": {…}}``
    fills that open task's form as its role, ``{"clock": "next"}`` moves the clock to the next deadline."""
    if len(steps) > MAX_EVENTS:
        raise FormInvalid({"steps": [f"не больше {MAX_EVENTS} шагов"]})
    events: list[Event] = []
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, dict):
            raise FormInvalid({f"шаг {number}": ['ожидается объект {"task": …, "data": …} или {"clock": "next"}']})
        if step.get("clock") == "next":
            view = simulate(db, key, setup, events, actor=actor)
            if view.problems or view.next_deadline is None:
                return view
            events.append(MoveClock(view.next_deadline + timedelta(minutes=1)))
            continue
        element, _, count = str(step.get("task", "")).rpartition(".")
        data = step.get("data") or {}
        if not element or not count.isdigit() or not isinstance(data, dict):
            raise FormInvalid({f"шаг {number}": ["укажите задачу как «элемент.N» (например confirm_participation.1) "
                                                 "и данные формы объектом"]})
        events.append(Fill(element, int(count), data))
    return simulate(db, key, setup, events, actor=actor)
