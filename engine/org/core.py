"""The org structure (regions, municipalities, schools), users and their role grants.

``apply_org`` is the one write path: idempotent, by codes and logins, in one transaction — the demo
loader and the CSV/XLSX importer both feed it.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import String, bindparam, cast, func, literal, select, type_coerce, update
from sqlalchemy.orm import Session

from engine import audit, caches
from engine.actors import Who, is_operator, login_of
from engine.db import Database, joined_strings
from engine.errors import EngineError, NotAllowed, OrgUnitNotFound
from engine.models import Municipality, Region, RoleGrant, School, Task, TaskStatus, User
from engine.org.scopes import Grant, OrgPlace, Scope
from engine.roles import SCOPE_OF_ROLE, Role, ScopeLevel

_Unit = TypeVar("_Unit", Region, Municipality, School)


@dataclass(frozen=True)
class UserRow:
    login: str
    full_name: str
    email: str | None = None


@dataclass(frozen=True)
class GrantRow:
    login: str
    role: Role
    scope_code: str | None = None  # school, municipality or region code; None for federal/admin


@dataclass(frozen=True)
class OrgData:
    regions: Sequence[tuple[str, str]] = ()
    region_zones: Mapping[str, str] = field(default_factory=dict)  # region code -> IANA zone, where given
    municipalities: Sequence[tuple[str, str, str]] = ()  # code, name, region code
    schools: Sequence[tuple[str, str, str]] = ()  # code, name, municipality code
    users: Sequence[UserRow] = ()
    grants: Sequence[GrantRow] = field(default_factory=tuple)


@dataclass(frozen=True)
class Actor:
    """The acting user with their resolved scope; what every authorized service starts from."""

    user_id: int
    login: str
    scope: Scope


def apply_org(db: Database, data: OrgData) -> None:
    with db.transaction() as session:
        for code, name in data.regions:
            zone = data.region_zones.get(code)  # none given: a new region is Moscow's, an old one keeps its own
            _upsert(session, Region, code, name=name, **({"time_zone": zone} if zone else {}))
        for code, name, region_code in data.municipalities:
            region = _by_code(session, Region, region_code)
            _upsert(session, Municipality, code, name=name, region_id=region.id)
            _follow_region(session, code, region.id)
        for code, name, municipality_code in data.schools:
            municipality = _by_code(session, Municipality, municipality_code)
            _upsert(session, School, code, name=name, municipality_id=municipality.id,
                    region_id=municipality.region_id)
        for row in data.users:
            _upsert_user(session, row)
        for grant in data.grants:
            _ensure_grant(session, grant)
        audit.record(session, db.now(), "org.applied", regions=len(data.regions),
                     municipalities=len(data.municipalities), schools=len(data.schools),
                     users=len(data.users), grants=len(data.grants))


def _by_code(session: Session, model: type[_Unit], code: str) -> _Unit:
    found = session.scalar(select(model).where(model.code == code))
    if found is None:
        kind, ending = {Region: ("регион", "найден"), Municipality: ("муниципалитет", "найден"),
                        School: ("школа", "найдена")}[model]
        raise OrgUnitNotFound(f"{kind} с кодом «{code}» не {ending}")
    return found


def _upsert(session: Session, model: type[Region] | type[Municipality] | type[School], code: str,
            **values: object) -> None:
    existing = session.scalar(select(model).where(model.code == code))
    if existing is None:
        session.add(model(code=code, **values))
    else:
        for name, value in values.items():
            setattr(existing, name, value)
    session.flush()


def _follow_region(session: Session, municipality_code: str, region_id: int) -> None:
    """Schools and open tasks carry their region for fast scope filters: keep them in step when a
    municipality is moved to another region."""
    municipality = _by_code(session, Municipality, municipality_code)
    session.execute(update(School).where(School.municipality_id == municipality.id,
                                         School.region_id != region_id).values(region_id=region_id))
    session.execute(update(Task).where(Task.municipality_id == municipality.id, Task.status == TaskStatus.READY,
                                       Task.region_id != region_id).values(region_id=region_id))


def _upsert_user(session: Session, row: UserRow) -> User:
    user = session.scalar(select(User).where(User.login == row.login))
    if user is None:
        user = User(login=row.login, full_name=row.full_name, email=row.email)
        session.add(user)
    else:
        user.full_name, user.email = row.full_name, row.email
    session.flush()
    return user


def _ensure_grant(session: Session, row: GrantRow) -> None:
    user = find_user(session, row.login)
    columns = _scope_columns(session, row.role, row.scope_code)
    existing = session.scalar(select(RoleGrant).filter_by(user_id=user.id, role=row.role, **columns))
    if existing is None:
        session.add(RoleGrant(user_id=user.id, role=row.role, **columns))
        session.flush()


def _scope_columns(session: Session, role: Role, code: str | None) -> dict[str, int | None]:
    level = SCOPE_OF_ROLE[role]
    columns: dict[str, int | None] = {"school_id": None, "municipality_id": None, "region_id": None}
    if level is ScopeLevel.COUNTRY:
        if code:
            raise EngineError(f"роль «{role}» выдаётся на всю страну, код «{code}» лишний")
        return columns
    if not code:
        raise EngineError(f"для роли «{role}» нужен код: школы, муниципалитета или региона")
    if level is ScopeLevel.SCHOOL:
        columns["school_id"] = _by_code(session, School, code).id
    elif level is ScopeLevel.MUNICIPALITY:
        columns["municipality_id"] = _by_code(session, Municipality, code).id
    else:
        columns["region_id"] = _by_code(session, Region, code).id
    return columns


def find_user(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    if user is None or not user.is_active:
        raise OrgUnitNotFound(f"пользователь «{login}» не найден")
    return user


def load_actor(session: Session, login: str) -> Actor:
    """The user and their grants in one statement, as plain rows: every service call starts here, and a
    coordinator may hold dozens of grants, which need no ORM objects to become a scope."""
    rows = session.connection().execute(_ACTOR, {"login": login}).all()  # plain rows: no ORM result processing
    if not rows or not rows[0].is_active:
        raise OrgUnitNotFound(f"пользователь «{login}» не найден")
    return Actor(rows[0].id, rows[0].login, _scope(tuple(map(tuple, rows))))


@functools.lru_cache(maxsize=1024)
def _scope(rows: tuple[tuple[Any, ...], ...]) -> Scope:
    """The scope of the grant rows just read. A memo, not a cache of the database: the rows themselves
    are the key, so it can never answer with stale grants; it only spares building the same immutable
    Grants (dozens for a coordinator) again on every call of the same user."""
    return Scope(tuple(Grant(Role(role), school_id, municipality_id, region_id)
                       for *_, role, school_id, municipality_id, region_id in rows if role is not None))


caches.register_lru("actor_scopes", _scope)


# Built once (every service call runs it), the login bound at execution.
# The role comes as its plain string: _scope turns it into a Role once per set of grants,
# instead of the Enum type doing it for every row of every call.
_ACTOR = (select(User.id, User.login, User.is_active, type_coerce(RoleGrant.role, String).label("role"),
                 RoleGrant.school_id, RoleGrant.municipality_id, RoleGrant.region_id)
          .outerjoin(RoleGrant, RoleGrant.user_id == User.id).where(User.login == bindparam("login")))


# The same user and grants as columns another statement can carry (a completion's lock): the user's id and
# whether they are active, and their grants as one string, ``role/school/municipality/region;…``
# (``joined_strings``: PostgreSQL's string_agg, SQLite's group_concat).
_ACTOR_ID = select(User.id).where(User.login == bindparam("login"), User.is_active).scalar_subquery()
_GRANT_TEXT = (type_coerce(RoleGrant.role, String) + "/" + func.coalesce(cast(RoleGrant.school_id, String), "")
               + "/" + func.coalesce(cast(RoleGrant.municipality_id, String), "")
               + "/" + func.coalesce(cast(RoleGrant.region_id, String), ""))
ACTOR_COLUMNS = (_ACTOR_ID.label("actor_id"),
                 select(joined_strings(_GRANT_TEXT, ";")).where(RoleGrant.user_id == _ACTOR_ID)
                 .scalar_subquery().label("actor_grants"))


def actor_of_columns(login: str, user_id: int | None, grants: str | None) -> Actor:
    """``load_actor`` from the ``ACTOR_COLUMNS`` another statement brought (``login`` bound as ``login``)."""
    if user_id is None:
        raise OrgUnitNotFound(f"пользователь «{login}» не найден")
    return Actor(user_id, login, _scope_of_text(grants or ""))


@functools.lru_cache(maxsize=1024)
def _scope_of_text(grants: str) -> Scope:
    """``_scope`` of the ``actor_grants`` column as it came: the same memo one step earlier, so a user's
    every completion does not split, convert and sort their grants again (a curator's dozens of schools).
    Keyed by the text itself, it cannot answer with stale grants either."""
    return _scope(tuple(sorted((None, None, None, role, _id(school), _id(municipality), _id(region))
                               for role, school, municipality, region in
                               (grant.split("/") for grant in grants.split(";") if grant))))


caches.register_lru("actor_grant_texts", _scope_of_text)


def _id(text: str) -> int | None:
    return int(text) if text else None


def load_user(session: Session, actor: Who) -> Actor:
    """``load_actor`` for a service only a user uses (their tasks, their dashboards): the operator is refused."""
    return load_actor(session, login_of(actor))


def load_admin(session: Session, actor: Who, refusal: str) -> Actor:
    """``load_actor`` for the admins' use cases: anyone else (the operator too) gets ``NotAllowed(refusal)``."""
    if is_operator(actor):
        raise NotAllowed(refusal)
    user = load_actor(session, login_of(actor))
    if not user.scope.is_admin:
        raise NotAllowed(refusal)
    return user


def operator_or_admin(session: Session, actor: Who, refusal: str) -> int | None:
    """The operator (the CLI, a job) acts with no user id; a user must be an admin."""
    return None if is_operator(actor) else load_admin(session, actor, refusal).user_id


def find_school(session: Session, code: str) -> School:
    return _by_code(session, School, code)


def find_region(session: Session, code: str) -> Region:
    return _by_code(session, Region, code)


def place_of(school: School) -> OrgPlace:
    return OrgPlace(school.id, school.municipality_id, school.region_id)


def users_for(session: Session, role: Role, place: OrgPlace) -> list[User]:
    """Active users holding ``role`` on a scope that covers the school at ``place``."""
    return users_for_many(session, [(role, place)])[(role, place)]


def users_for_many(session: Session,
                   needs: Iterable[tuple[Role, OrgPlace]]) -> dict[tuple[Role, OrgPlace], list[User]]:
    """``users_for`` for many (role, school) pairs in one query per role: a sweep batch of a hundred
    deadlines asks once, not a hundred times."""
    wanted = set(needs)
    columns = {ScopeLevel.SCHOOL: RoleGrant.school_id, ScopeLevel.MUNICIPALITY: RoleGrant.municipality_id,
               ScopeLevel.REGION: RoleGrant.region_id}
    found: dict[tuple[Role, int | None], list[User]] = defaultdict(list)
    for role in {role for role, _ in wanted}:
        level = SCOPE_OF_ROLE[role]
        column = columns.get(level)
        scope_ids = {_scope_id(level, place) for r, place in wanted if r is role}
        query = (select(column if column is not None else literal(None), User)
                 .join(User, User.id == RoleGrant.user_id)
                 .where(RoleGrant.role == role, User.is_active.is_(True)).order_by(User.id))
        if column is not None:
            query = query.where(column.in_(scope_ids))
        for scope_id, user in session.execute(query):
            if user not in found[(role, scope_id)]:
                found[(role, scope_id)].append(user)
    return {(role, place): found[(role, _scope_id(SCOPE_OF_ROLE[role], place))] for role, place in wanted}


def _scope_id(level: ScopeLevel, place: OrgPlace) -> int | None:
    return {ScopeLevel.SCHOOL: place.school_id, ScopeLevel.MUNICIPALITY: place.municipality_id,
            ScopeLevel.REGION: place.region_id}.get(level)


@dataclass(frozen=True)
class SchoolView:
    code: str
    name: str
    municipality_code: str
    region_code: str


def list_schools(db: Database, *, actor: Who, region_code: str | None = None,
                 municipality_code: str | None = None) -> list[SchoolView]:
    """The schools a user sees (their own, their curated ones, their municipality, region or country)."""
    with db.reading() as session:
        user = load_user(session, actor)
        query = (select(School, Municipality.code, Region.code)
                 .join(Municipality, Municipality.id == School.municipality_id)
                 .join(Region, Region.id == School.region_id).order_by(School.code))
        if region_code:
            query = query.where(Region.code == region_code)
        if municipality_code:
            query = query.where(Municipality.code == municipality_code)
        return [SchoolView(school.code, school.name, municipality, region)
                for school, municipality, region in session.execute(query) if user.scope.sees(place_of(school))]
