"""Database access: engine creation, the one place that commits, and schema upgrades.

Services open ``db.transaction()``; it commits when the block ends normally and rolls back on any
exception, so a failed use case leaves nothing half-written. Nothing else in the code commits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    create_engine,
    event,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

Clock = Callable[[], datetime]


class _SharedConnection:
    """One pooled connection that the sessions of a block take turns on, checked out when first needed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.thread = threading.get_ident()
        self.connection: Connection | None = None

    def free(self, engine: Engine) -> Connection | None:
        """The shared connection if it belongs to ``engine`` and no session is in a transaction on it.

        Only for the thread that opened the block: a thread started with a copy of its context (as Python
        3.14 can do by default) must not use a connection at the same time as its parent."""
        if engine is not self.engine or threading.get_ident() != self.thread:
            return None
        if self.connection is None:
            self.connection = engine.connect()
        return None if self.connection.in_transaction() else self.connection


_SHARED: ContextVar[_SharedConnection | None] = ContextVar("roadmap_shared_connection", default=None)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the web server read while a sweep writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    dbapi_connection.create_function(_FOLD_FUNCTION, 1, _fold_or_null, deterministic=True)


# --- case-insensitive search, the same on both databases ---------------------------------------------------
# SQLite's lower() changes ASCII letters only («ШКОЛА» stays «ШКОЛА»), and PostgreSQL's follows the
# database's LC_CTYPE (ASCII only under the plain "C" locale). So search compares ``folded(column)`` with
# ``fold(text)``, both reading «ё» as «е» (people type either): on SQLite a Python function registered on every
# connection; on PostgreSQL ``replace(lower(x), 'ё', 'е')`` where the first connection found that lower() knows
# Cyrillic (any UTF-8 locale: C.UTF-8, ru_RU.UTF-8, …), else translate() of the Russian alphabet, which needs no
# locale but is slow. Measured on 3,000 rows × 2 columns: lower+replace 5 ms, translate 60–300 ms, an ICU
# collation 38 ms; the SQLite function 27 ms (its own lower() 9 ms). No extra column to keep, no migration.

_FOLD_FUNCTION = "roadmap_fold"
_RUSSIAN_UPPER = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё"
_RUSSIAN_FOLDED = "абвгдеежзийклмнопрстуфхцчшщъыьэюяе"
_UNICODE_LOWER = "roadmap_unicode_lower"  # set on a PostgreSQL dialect by its first connection


def _note_unicode_lower(engine: Engine) -> None:
    def check(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT lower('ЁЛКА') = 'ёлка'")
        setattr(engine.dialect, _UNICODE_LOWER, bool(cursor.fetchone()[0]))
        cursor.close()
        dbapi_connection.rollback()

    event.listen(engine, "first_connect", check)


def fold(text: str) -> str:
    """Text as search compares it: lower case, «ё» as «е»."""
    return text.lower().replace("ё", "е")


def _fold_or_null(text: str | None) -> str | None:
    return None if text is None else fold(str(text))


class folded(FunctionElement[str]):
    """SQL: ``fold`` of a text column (``folded(School.name).contains(fold(query))``)."""

    type = String()
    name = _FOLD_FUNCTION
    inherit_cache = True


@compiles(folded)
def _folded_in_sql(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    if getattr(compiler.dialect, _UNICODE_LOWER, False):
        return f"replace(lower({inner}), 'ё', 'е')"
    return f"translate(lower({inner}), '{_RUSSIAN_UPPER}', '{_RUSSIAN_FOLDED}')"


@compiles(folded, "sqlite")
def _folded_in_sqlite(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{_FOLD_FUNCTION}({compiler.process(element.clauses, **kw)})"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    _note_unicode_lower(engine)
    return engine


class Database:
    """An engine, its sessions and the clock the services read time from (injectable for tests)."""

    def __init__(self, engine: Engine, clock: Clock = utc_now,
                 sessions: sessionmaker[Session] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        #: In-process caches that hold this database's rows (e.g. ``live_workflows.of``): ids repeat
        #: across databases, so each database keeps its own.
        self.caches: dict[str, Any] = {}
        self.sessions = sessions or sessionmaker(engine, expire_on_commit=False)
        # PostgreSQL: reading sessions run in autocommit, which saves the BEGIN and ROLLBACK round trips
        # around their queries and sees exactly what READ COMMITTED would (a snapshot per statement);
        # writing through them is refused (ReadingSessionWrote). SQLite's driver begins a transaction
        # only before a write anyway.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT") \
            if engine.dialect.name == "postgresql" else None

    @classmethod
    def from_url(cls, url: str, clock: Clock = utc_now) -> Database:
        return cls(make_engine(url), clock)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def one_connection(self) -> Iterator[None]:
        """Let the sessions opened in this block (in this thread or task) share one pooled connection.

        A web request opens several short sessions one after another — the signed-in user, the page's
        data, the unread badge — and each would check a connection out of the pool and ping it. Inside
        this block they take turns on one connection, each still in a transaction of its own, so what
        they see and commit is unchanged. A session opened while another is in a transaction on the
        shared connection gets a pooled connection of its own, as outside the block."""
        shared = _SharedConnection(self.engine)
        token = _SHARED.set(shared)
        try:
            yield
        finally:
            _SHARED.reset(token)
            if shared.connection is not None:
                shared.connection.close()

    def _session(self, *, reading: bool = False) -> Session:
        shared = _SHARED.get()
        connection = shared.free(self.engine) if shared is not None else None
        if connection is None:
            return self.sessions(bind=self._autocommit) if reading and self._autocommit else self.sessions()
        if self._autocommit is not None:  # the shared connection switches (on the client, no round trip)
            level = "AUTOCOMMIT" if reading else self.engine.dialect.default_isolation_level
            if connection.get_execution_options().get("isolation_level") != level:
                connection.execution_options(isolation_level=level)
        return self.sessions(bind=connection)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One use case, one transaction: commit on success, roll back on any exception."""
        with self._session() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for queries only: an attempt to write through it raises ``ReadingSessionWrote``."""
        with self._session(reading=True) as session:
            session.info[_READING] = True
            yield session


_READING = "roadmap.reading"


def refuses_writes(session: Session) -> bool:
    """True for a ``db.reading()`` session: the fast write helpers refuse it as a flush would."""
    return bool(session.info.get(_READING))


class ReadingSessionWrote(RuntimeError):
    """Code under ``db.reading()`` tried to write: a programming error, never a user's."""

    def __init__(self) -> None:
        super().__init__("a db.reading() session must not write; use db.transaction()")


@event.listens_for(Session, "before_flush")
def _refuse_flush_while_reading(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_READING) and (session.new or session.deleted
                                       or any(session.is_modified(obj) for obj in session.dirty)):
        raise ReadingSessionWrote


@event.listens_for(Session, "do_orm_execute")
def _refuse_statements_that_write_while_reading(state: Any) -> None:
    if state.session.info.get(_READING) and (state.is_insert or state.is_update or state.is_delete):
        raise ReadingSessionWrote


def migrations_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "migrations"


def upgrade_schema(db: Database) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
