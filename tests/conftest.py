"""Shared fixtures: real PostgreSQL and SQLite databases, an org structure per test, the mini template.

Each backend's schema is created once per session through the Alembic migrations (so the tests run
what production runs). Tests do not truncate: every test builds its own org with unique codes
(``unique``), the way cosmicpython's ``random_refs`` keeps tests independent on a shared database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event

from engine.db import Database, upgrade_schema
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process import live_workflows
from engine.roles import Role

FIXTURES = Path(__file__).parent / "fixtures"
MINI_BUNDLE = FIXTURES / "bundles" / "mini"
PG_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
# One database per test run, so two runs on one machine (a developer's and CI's) cannot drop each other's.
PG_DATABASE = f"roadmap_test_{os.getpid()}"
# Likewise a Redis database index of its own (1–15; 0 is left to `make run`), flushed around each test.
REDIS_URL = f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}"


@dataclass
class Clock:
    """The moment a test's services read as "now" (``Database(..., clock=...)``); moved by hand, never by sleeping."""

    now: datetime = field(default_factory=lambda: datetime(2035, 1, 20, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _admin(statement: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh test database on the real server, dropped at the end; fails loudly if PostgreSQL is not there."""
    try:
        _admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        _admin(f"CREATE DATABASE {PG_DATABASE}")
        _admin(f"ALTER DATABASE {PG_DATABASE} SET synchronous_commit = off")
    except psycopg.OperationalError as err:
        pytest.exit(f"PostgreSQL недоступен ({PG_SERVER}): {err}. Запустите `make services`.", returncode=3)
    url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{PG_DATABASE}"
    _migrate(url)
    yield url
    _admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


def _migrate(url: str) -> None:
    database = Database.from_url(url)
    upgrade_schema(database)
    database.engine.dispose()


@pytest.fixture
def redis() -> Iterator[Redis]:
    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisError as err:
        pytest.exit(f"Redis недоступен ({REDIS_URL}): {err}. Запустите `make services`.", returncode=3)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'roadmap.sqlite3'}"
    _migrate(url)
    return url


@pytest.fixture(scope="session")
def pg_db(postgres_url: str) -> Iterator[Database]:
    db = Database.from_url(postgres_url)
    yield db
    db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    """SQLite, with the cache of live workflows off: every test run on both databases restores each step's
    workflow from the stored JSON here (as after a restart or on another worker) and from memory on
    PostgreSQL, so both paths run through the whole integration tier."""
    db = Database.from_url(sqlite_url)
    event.listen(db.engine, "connect", _no_fsync)
    live_workflows.of(db).size = 0
    yield db
    db.engine.dispose()


def _no_fsync(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on both databases."""
    name = "pg_db" if request.param == "postgresql" else "sqlite_db"
    database = request.getfixturevalue(name)
    assert isinstance(database, Database)
    return database


@dataclass(frozen=True)
class Org:
    """One region with two municipalities and three schools, and a user for every role."""

    region: str
    municipality: str
    other_municipality: str
    school: str
    sibling_school: str  # same municipality, different curator
    foreign_school: str  # other municipality
    school_user: str
    curator: str
    sibling_curator: str
    municipal: str
    other_municipal: str
    regional: str
    federal: str
    admin: str
    foreign_school_user: str


def make_org(db: Database) -> Org:
    tag = unique()
    org = Org(
        region=f"R{tag}", municipality=f"M{tag}", other_municipality=f"N{tag}",
        school=f"S{tag}", sibling_school=f"T{tag}", foreign_school=f"F{tag}",
        school_user=f"school-{tag}", curator=f"curator-{tag}", sibling_curator=f"curator2-{tag}",
        municipal=f"mun-{tag}", other_municipal=f"mun2-{tag}", regional=f"reg-{tag}",
        federal=f"fed-{tag}", admin=f"admin-{tag}", foreign_school_user=f"fschool-{tag}",
    )
    logins = [org.school_user, org.curator, org.sibling_curator, org.municipal, org.other_municipal,
              org.regional, org.federal, org.admin, org.foreign_school_user]
    apply_org(db, OrgData(
        regions=[(org.region, "Тестовая область")],
        municipalities=[(org.municipality, "Первый район", org.region),
                        (org.other_municipality, "Второй район", org.region)],
        schools=[(org.school, "МБОУ «Тестовая СОШ»", org.municipality),
                 (org.sibling_school, "МБОУ «Соседняя СОШ»", org.municipality),
                 (org.foreign_school, "МБОУ «Дальняя СОШ»", org.other_municipality)],
        users=[UserRow(login, f"Пользователь {login}") for login in logins],
        grants=[
            GrantRow(org.school_user, Role.SCHOOL, org.school),
            GrantRow(org.foreign_school_user, Role.SCHOOL, org.foreign_school),
            GrantRow(org.curator, Role.CURATOR, org.school),
            GrantRow(org.sibling_curator, Role.CURATOR, org.sibling_school),
            GrantRow(org.municipal, Role.MUNICIPAL_COORDINATOR, org.municipality),
            GrantRow(org.other_municipal, Role.MUNICIPAL_COORDINATOR, org.other_municipality),
            GrantRow(org.regional, Role.REGIONAL_COORDINATOR, org.region),
            GrantRow(org.federal, Role.FEDERAL),
            GrantRow(org.admin, Role.ADMIN),
        ],
    ))
    return org


@pytest.fixture
def org(db: Database) -> Org:
    return make_org(db)


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A private copy of the mini bundle under a unique key, free to be edited by the test."""
    target = tmp_path / "mini"
    shutil.copytree(MINI_BUNDLE, target)
    manifest = target / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"key": "mini"',
                                                                     f'"key": "{unique("mini-")}"'),
                        encoding="utf-8")
    return target
