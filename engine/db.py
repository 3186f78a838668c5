"""Database access: engine creation, the one place that commits, and schema upgrades.

Services open ``db.transaction()``; it commits when the block ends normally and rolls back on any
exception, so a failed use case leaves nothing half-written. Nothing else in the code commits.
"""

from __future__ import annotations

import logging
import re
import threading
import time
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
    literal_column,
    text,
)
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
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


class joined_strings(FunctionElement[str]):
    """SQL: an aggregate's values joined by ``separator`` into one string (PostgreSQL's ``string_agg``, SQLite's
    ``group_concat``). SQLAlchemy's ``aggregate_strings`` sends the separator as a parameter to render anew on
    every execution — a regex pass over the statement, a twentieth of a completion's locking read; here it is
    written into the SQL once, when the statement is compiled and cached."""

    type = String()
    name = "joined_strings"
    inherit_cache = True

    def __init__(self, values: Any, separator: str) -> None:
        if len(separator) != 1 or separator in "'\\":
            raise ValueError(f"a separator is one character, not a quote: {separator!r}")
        super().__init__(values, literal_column(f"'{separator}'"))


@compiles(joined_strings)
def _joined_in_postgresql(element: joined_strings, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)})"


@compiles(joined_strings, "sqlite")
def _joined_in_sqlite(element: joined_strings, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)})"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **kwargs)
    _note_unicode_lower(engine)
    _check_alive_after_idle(engine)
    return engine


#: Seconds a pooled connection may have rested before its check-out pings it (HikariCP's "alive bypass
#: window", 0.5 s there). Module-level so tests can shorten it.
PING_AFTER_IDLE = 1.0
_IDLE_SINCE = "roadmap.idle_since"


def _check_alive_after_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for connections that rested in the pool over ``PING_AFTER_IDLE``.

    The ping finds connections the server or the network dropped while they rested (a restart, an idle
    timeout) before a request trips on them. It is a round trip, and on the hot paths a connection comes
    back to the pool and goes out again within milliseconds: a completion spent one of its seven round
    trips on it. A connection used a moment ago is as alive as a ping would show; if the server died in
    that moment, the request's statement fails, SQLAlchemy sees the disconnect and drops the pool, as
    it would have on the ping — one request errs instead of none, the price HikariCP pays by default."""

    def rested(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def check_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since <= PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as err:
            # As the pre-ping: every connection made before now may be dead too (the server restarted).
            raise InvalidatePoolError(f"проверка соединения с базой данных не прошла: {err}") from err

    event.listen(engine, "connect", rested)  # a new connection needs no ping
    event.listen(engine, "checkin", rested)
    event.listen(engine, "checkout", check_out)


class Database:
    """An engine, its sessions and the clock the services read time from (injectable for tests)."""

    def __init__(self, engine: Engine, clock: Clock = utc_now,
                 sessions: sessionmaker[Session] | None = None, replica: Replica | None = None) -> None:
        self.engine = engine
        #: A streaming replica for ``reading(replica=True)`` (``DATABASE_READ_URL``), or None: all on the primary.
        self.replica = replica
        if replica is not None and not event.contains(engine, "before_cursor_execute", _note_write):
            event.listen(engine, "before_cursor_execute", _note_write)
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
    def from_url(cls, url: str, clock: Clock = utc_now, *, read_url: str | None = None,
                 max_lag: float = 30.0) -> Database:
        """``read_url``: a PostgreSQL hot standby of ``url`` serving ``reading(replica=True)``; ignored on SQLite."""
        engine = make_engine(url)
        replica = Replica.from_url(read_url, max_lag=max_lag) \
            if read_url and engine.dialect.name == "postgresql" else None
        return cls(engine, clock, replica=replica)

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
        reads = _SharedConnection(self.replica.engine) if self.replica is not None else None
        reads_token = _SHARED_READS.set(reads)
        try:
            yield
        finally:
            _SHARED.reset(token)
            _SHARED_READS.reset(reads_token)
            for one in (shared, reads):
                if one is not None and one.connection is not None:
                    one.connection.close()

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
    def reading(self, *, replica: bool = False) -> Iterator[Session]:
        """A session for queries only: an attempt to write through it raises ``ReadingSessionWrote``.

        ``replica=True`` (dashboards, heat maps, summaries, exports): served by the streaming replica when one
        is configured, healthy, and has replayed what this reader wrote (``read_your_writes``); else, and
        always for the code that goes on to write, by the primary."""
        with self._replica_session() if replica and self._reads_from_replica() \
                else self._session(reading=True) as session:
            session.info[_READING] = True
            yield session

    def _reads_from_replica(self) -> bool:
        replica = self.replica
        if replica is None or not replica.healthy():
            return False
        marks = _READ_AFTER.get()
        if marks is None:
            return True
        if marks.wrote:  # this very request wrote: its commit may not have reached the replica yet
            return False
        if marks.after_lsn is not None and marks.replica_caught_up is None:
            marks.replica_caught_up = replica.has_replayed(marks.after_lsn)
        return marks.replica_caught_up is not False

    def _replica_session(self) -> Session:
        assert self.replica is not None
        shared = _SHARED_READS.get()
        connection = shared.free(self.replica.engine) if shared is not None else None
        return self.sessions(bind=connection if connection is not None else self.replica.engine)

    @contextmanager
    def read_your_writes(self, after_lsn: str | None = None) -> Iterator[ReadMarks]:
        """Around one request of one user: ``after_lsn`` is the primary's WAL position after that user's last
        write (from their signed cookie). Replica reads in the block go to the primary while the replica has
        not replayed it, and for the rest of the block once the block itself wrote; ``ReadMarks.wrote`` then
        tells the caller to take ``write_position()`` for the next cookie."""
        marks = ReadMarks(after_lsn if after_lsn and _LSN.fullmatch(after_lsn) else None)
        token = _READ_AFTER.set(marks)
        try:
            yield marks
        finally:
            _READ_AFTER.reset(token)

    def write_position(self) -> str | None:
        """The primary's WAL insert position (PostgreSQL), which covers every commit made so far.

        The insert position, not ``pg_current_wal_lsn()`` (the write position): a commit under
        ``synchronous_commit = off`` may sit in the WAL buffers, before the write position, for a moment."""
        if not self.is_postgresql:
            return None
        with self.engine.connect() as connection:
            return str(connection.scalar(text("SELECT pg_current_wal_insert_lsn()")))


_READING = "roadmap.reading"
_SHARED_READS: ContextVar[_SharedConnection | None] = ContextVar("roadmap_shared_read_connection", default=None)


# --- a streaming replica for the reading sessions ----------------------------------------------------------
# Dashboards, heat maps, summaries and exports are the heavy reads (the national page groups 40,000 schools);
# a hot standby can serve them while the primary keeps the completions and the sweep. The replica is a few
# milliseconds behind, so a user who just wrote must not read from it until it has replayed their write:
# the web keeps the primary's WAL position after the user's last write in their signed session cookie, and
# a request whose replica has not yet replayed it reads from the primary (one cheap comparison per request,
# only while such a mark is live). Waiting for the replica instead would hold a server thread for the very
# requests the primary can answer at once; routing is never slower than having no replica.

_log = logging.getLogger("roadmap.replica")
_LSN = re.compile(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}")
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|MERGE|COPY|WITH|CREATE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)


class ReadMarks:
    """What one request knows about its user's writes (``Database.read_your_writes``)."""

    def __init__(self, after_lsn: str | None) -> None:
        self.after_lsn = after_lsn
        self.wrote = False
        self.replica_caught_up: bool | None = None  # asked once per request, only when after_lsn is set


_READ_AFTER: ContextVar[ReadMarks | None] = ContextVar("roadmap_read_after", default=None)


def _note_write(_conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any,
                _executemany: bool) -> None:
    marks = _READ_AFTER.get()
    if marks is not None and not marks.wrote and _WRITES.match(statement):
        marks.wrote = True


class Replica:
    """A hot standby's engine and what this process last learnt of its health.

    Health is asked at most every ``check_every`` seconds per process (one query); a replica that fails, stops
    streaming or lags more than ``max_lag`` seconds is left alone — the primary serves its reads — and retried
    after ``check_every``. A change of state is logged once, not once per request: one failure stays one log line
    and at most the one request that was on the replica when it went away."""

    def __init__(self, engine: Engine, *, max_lag: float = 30.0, check_every: float = 5.0) -> None:
        self.engine = engine
        self.max_lag = max_lag
        self.check_every = check_every
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._usable = False
        self._why_not: str | None = "ещё не проверена"
        event.listen(engine, "handle_error", self._on_error)

    @classmethod
    def from_url(cls, url: str, *, max_lag: float = 30.0) -> Replica:
        # A dead replica host must cost a request a second or two, not the operating system's TCP timeout.
        engine = make_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2})
        return cls(engine, max_lag=max_lag)

    def healthy(self) -> bool:
        if time.monotonic() - self._checked_at >= self.check_every and self._lock.acquire(blocking=False):
            try:
                self._set(self._check())
            finally:
                self._checked_at = time.monotonic()
                self._lock.release()
        return self._usable

    def _check(self) -> str | None:
        """None when the replica may serve reads, else why not."""
        try:
            with self.engine.connect() as connection:
                recovering, streaming, lag = connection.execute(text(
                    "SELECT pg_is_in_recovery(),"
                    " coalesce((SELECT status FROM pg_stat_wal_receiver), '') = 'streaming',"
                    " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
                    " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END")).one()
        except DBAPIError as error:
            return f"недоступна: {str(error.orig).strip().splitlines()[0] if error.orig else error}"
        if not recovering:
            return "не в режиме восстановления (не реплика или уже повышена до основной)"
        if not streaming:
            return "не получает WAL от основной базы"
        if lag is not None and float(lag) > self.max_lag:
            return f"отстаёт на {float(lag):.0f} с (предел {self.max_lag:.0f} с)"
        return None

    def _set(self, why_not: str | None) -> None:
        if why_not != self._why_not:
            if why_not is None:
                _log.info("реплика %s обслуживает чтение", self.engine.url.render_as_string(hide_password=True))
            else:
                _log.warning("реплика %s: %s — чтение идёт с основной базы",
                             self.engine.url.render_as_string(hide_password=True), why_not)
        self._why_not = why_not
        self._usable = why_not is None

    def _on_error(self, context: Any) -> None:
        if context.is_disconnect:  # the standby went away mid-query: the next requests read from the primary
            self._set("соединение прервано")
            self._checked_at = time.monotonic()

    def has_replayed(self, lsn: str) -> bool:
        try:
            with self.engine.connect() as connection:
                return bool(connection.scalar(text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                                              {"lsn": lsn}))
        except DBAPIError:
            return False


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
