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
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    Update,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    update,
)
from sqlalchemy.orm import Mapper, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

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


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


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


def queue_row(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    """Add one row of a write-only table as plain values, for ``insert_pending`` to write.

    For the hot paths (a task's deadline rows, a step's audit records): an ORM object would be built,
    tracked and expunged again only to become this dict. Every queued row of a table must carry the
    same keys (None for what is empty), so the table's rows go in one statement. A commit writes rows
    still queued, as it would flush pending objects; a rollback drops them."""
    session.info.setdefault(_QUEUED, []).append((model, values))


def insert_pending(session: Session, *models: type[Any]) -> None:
    """Write the session's queued rows, then its pending rows of write-only tables (``models``), with
    one INSERT per table and kind.

    The unit of work would track each row's identity and, for a bulk start, send thousands of rows as
    one huge RETURNING statement for the driver to parse. Deadline rows and audit records written by a
    step are never read back in the same transaction, so they skip that: pending objects are taken out
    of the session in the order they were added and sent as plain parameter sets."""
    if session.info.get(_READING):
        raise ReadingSessionWrote
    queued: dict[type[Any], list[dict[str, Any]]] = {}
    for model, values in session.info.pop(_QUEUED, ()):
        queued.setdefault(model, []).append(values)
    pending = sorted((obj for obj in session.new if isinstance(obj, models)), key=lambda o: inspect(o).insert_order)
    rows: dict[type[Any], list[dict[str, Any]]] = {}
    for obj in pending:
        state = inspect(obj)
        columns = state.mapper.columns.keys()
        rows.setdefault(type(obj), []).append({key: state.dict[key] for key in columns if key in state.dict})
        session.expunge(obj)
    connection = session.connection()
    for batch in (queued, rows):
        for model, values in batch.items():
            # Every parameter set has the same keys (None stays None), so a table's rows go in one
            # statement; columns nobody set get their Python-side defaults. A step's handful of rows go
            # as one multi-row VALUES: asking for RETURNING makes SQLAlchemy batch them that way from a
            # cached statement (the ids are not needed). Thousands (a cohort start) go as an
            # executemany, which the driver prepares once instead of parsing an enormous VALUES list.
            if len(values) <= _VALUES_ROWS:
                connection.execute(_inserts(model)[0], values)
            else:
                connection.execute(_inserts(model)[1], values)


def _inserts(model: type[Any]) -> tuple[Insert, Insert]:
    """A table's two INSERTs (as VALUES with RETURNING, as executemany), built once: every step runs one."""
    built = _INSERTS.get(model)
    if built is None:
        table = model.__table__
        built = _INSERTS[model] = insert(table).returning(table.c.id), insert(table)
    return built


_INSERTS: dict[type[Any], tuple[Insert, Insert]] = {}


def write_now(session: Session, obj: Any) -> None:
    """Write an ORM object's changed columns now, as one plain UPDATE by primary key, without the unit
    of work's cost (history of every column, relationship processors); the object is left as stored.

    A mapper's version column is checked and bumped exactly as its flush would: ``StaleDataError``
    when the row no longer has the version read. Changes other than plain columns are left to the
    flush, which then writes them all, as before."""
    if session.info.get(_READING):
        raise ReadingSessionWrote
    state = inspect(obj)
    current, modified = state.dict, state.committed_state
    update_, columns, version_key = _updates(state.mapper)
    if state.key is None or not modified or not modified.keys() <= columns or not modified.keys() <= current.keys():
        return
    values = {key: current[key] for key in modified if current[key] != modified[key]}
    if not values:  # set back to what it was: the flush would write nothing, nor bump a version
        return
    where = {"where_id": current["id"]}
    if version_key is not None:
        values[version_key] = current[version_key] + 1
        where["where_version"] = current[version_key]
    written = session.connection().execute(update_, {**values, **where}).rowcount
    if written != 1:
        raise StaleDataError(f"UPDATE statement on table '{update_.table}' expected to update 1 row(s); "
                             f"{written} were matched.")
    current.update(values)
    # What the flush does after its UPDATE: every attribute now as stored, the object no longer dirty.
    # (Public set_committed_value would leave it on the session's modified list, and the flush would
    # then walk it again, costing most of what this saves.)
    state._commit_all(current, session.identity_map)


def _updates(mapper: Mapper[Any]) -> tuple[Update, frozenset[str], str | None]:
    """A mapper's UPDATE by id (and version), its writable column keys and its version key; built once.
    The SET list follows the parameters given at execution."""
    built = _UPDATES.get(mapper)
    if built is None:
        table = cast(Table, mapper.local_table)
        version = mapper.version_id_col
        version_key = None if version is None else mapper.get_property_by_column(version).key
        columns = frozenset(prop.key for prop in mapper.column_attrs
                            if prop.key == prop.columns[0].name and prop.key not in ("id", version_key))
        statement = update(table).where(table.c.id == bindparam("where_id"))
        if version is not None:
            statement = statement.where(version == bindparam("where_version"))
        built = _UPDATES[mapper] = statement, columns, version_key
    return built


_UPDATES: dict[Mapper[Any], tuple[Update, frozenset[str], str | None]] = {}
_QUEUED = "engine.queued_rows"


_READING = "roadmap.reading"


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


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    # A caller that queued rows and did not write them: commit them, as pending objects would be.
    if session.info.get(_QUEUED):
        insert_pending(session)


def drop_queued(session: Session) -> None:
    """Forget queued rows: the savepoint they were queued in was rolled back."""
    session.info.pop(_QUEUED, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_queued(session: Session, _previous: Any) -> None:
    session.info.pop(_QUEUED, None)  # rows of a rolled-back attempt must not reach a later commit


_VALUES_ROWS = 50


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
