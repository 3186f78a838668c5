"""Fast writes: the ways the hot paths write rows without SQLAlchemy's unit of work — and when to use which.

The unit of work (``session.add``, changing attributes, ``flush``) is the default everywhere: it is what
a reader expects, and it is right for rows read back or changed again in the same transaction. A
completion, a start and the deadline sweep write the same few kinds of rows thousands of times a
minute, and for them the unit of work's bookkeeping (identity map, history of every column, sorting of
dependencies) costs more than the SQL. Each helper below replaces it for one shape of write:

- ``queue_row`` — a write-only row, never read back in this transaction, as plain values (deadline rows,
  audit records); written by ``insert_pending`` or at commit, dropped on rollback.
- ``insert_pending`` — writes what was queued, and the pending ORM objects of write-only tables, with one
  INSERT per table (the end of every step).
- ``insert_tasks`` — new task rows whose ids the step needs next (their deadline rows and audit records
  hang on them): one INSERT … RETURNING id, the rows then in the session as if loaded.
- ``write_now`` — one changed, already loaded ORM row as one UPDATE by id, its version checked and bumped
  as a flush would (the instance and the completed task of a completion on SQLite).
- ``take_changes`` + ``write_together`` — PostgreSQL: a step's last writes in one statement, the
  instance's version-checked UPDATE carrying the task's UPDATE, closed deadline rows and every queued row
  as data-modifying CTEs (a completion: six statements → one); compiled once per shape.

Order matters in one place only, and ``TaskMirror.record`` checks it: deadline rows and audit records of
opened tasks are queued after ``insert_tasks`` gave those tasks their ids. Queued rows are written at
commit if nobody called ``insert_pending``, and dropped on rollback, as pending objects would be.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    JSON,
    Insert,
    Table,
    Text,
    Update,
    any_,
    bindparam,
    event,
    func,
    insert,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError

from engine import caches
from engine.caches import Bounded
from engine.db import ReadingSessionWrote, refuses_writes
from engine.models import Task


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
    if refuses_writes(session):
        raise ReadingSessionWrote
    batches = _take_pending(session, models)
    connection = session.connection()
    for model, values in batches:
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
    if refuses_writes(session):
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
    state._commit_all(current, session.identity_map)  # noqa: SLF001 - SQLAlchemy's own post-UPDATE step, see above


def writes_together(session: Session) -> bool:
    """Whether ``write_together`` can put a step's writes in one statement here: PostgreSQL runs
    data-modifying CTEs; SQLite does not, and takes the statement-per-kind path."""
    return session.get_bind().dialect.name == "postgresql"


def take_changes(session: Session, main: Any, *others: Any) -> Changes:
    """The changed columns of loaded objects, for ``write_together`` to write; the objects are left as
    stored from here on, so no flush in between writes them too (the transaction rolls back if the
    statement later fails, and the session with it)."""
    if refuses_writes(session):
        raise ReadingSessionWrote
    found = []
    for obj in (main, *others):
        change = _change(obj)
        if change is not None:
            change.commit(obj, session)
            found.append(change)
    return Changes(found[0] if found and found[0].obj is main else None,
                   [change for change in found if change.obj is not main])


@dataclass
class Changes:
    main: _Change | None
    others: list[_Change]


def write_together(session: Session, changes: Changes, closing: ClosedRows | None = None,
                   models: tuple[type[Any], ...] = ()) -> None:
    """The UPDATE of ``changes.main`` (its version checked and bumped) with, in the same one statement as
    data-modifying CTEs (PostgreSQL only, ``writes_together``): the UPDATEs of ``changes.others``,
    ``closing`` (rows of a table closed by a foreign key) and everything ``insert_pending(session,
    *models)`` would write.

    A completion's writes — instance, completed task, its deadline rows closed, new deadline rows, audit
    records and events — are then one round trip instead of six. All parts run on the same snapshot, so
    none may depend on another's effect (they touch different rows; rows that need ids of new tasks are
    queued after ``insert_tasks``). The statement's row count is the main UPDATE's: none means another
    writer changed the main row's version (``StaleDataError``), and the whole statement — every CTE with
    it — is rolled back with the transaction.

    The statement is built once per shape (which columns change, which columns of which tables are
    inserted — not how many rows: each table's rows go as one JSON parameter) with named parameters, and
    kept in a bounded cache (``together_statements`` in ``engine.caches``): built per call, SQLAlchemy
    would compile it every time, which cost more than the round trips it saves. Few parameters and a
    short text let psycopg keep the statement parsed and PostgreSQL prepared across steps."""
    if refuses_writes(session):
        raise ReadingSessionWrote
    batches = _take_pending(session, models)
    main = changes.main
    if main is None:  # nothing to check (a flush wrote it already): plain statements
        connection = session.connection()
        for change in changes.others:
            connection.execute(change.statement())
        if closing is not None:
            connection.execute(closing.statement())
        for model, rows in batches:
            connection.execute(insert(model.__table__), rows)
        return
    for model, rows in batches:  # scalar column defaults as values: the statement is kept as SQL text
        _fill_defaults(model.__table__, rows)
    # The shape does not count rows: each batch goes as one JSON parameter, so a step that opens two tasks
    # runs the statement of a step that opens one — parsed once by the driver, prepared once by the server.
    shape = (main.shape(), tuple(change.shape() for change in changes.others),
             closing.shape() if closing is not None else None,
             tuple((model, tuple(rows[0])) for model, rows in batches))
    params = main.params("m")
    for i, change in enumerate(changes.others):
        params.update(change.params(f"o{i}"))
    if closing is not None:
        params.update(closing.params())
    connection = session.connection()
    compiled = _TOGETHER.get(shape)
    if compiled is None:
        statement = _together_statement(main, changes.others, closing, batches)
        compiled = _Compiled.of(statement, connection.dialect)
        if compiled is None or compiled.names != params.keys() | {f"b{b}" for b in range(len(batches))}:
            compiled = None  # a column default computed per row: no text to keep, rows one by one
        else:
            _TOGETHER.put(shape, compiled)
    if compiled is not None:
        for b, (model, rows) in enumerate(batches):
            params[f"b{b}"] = _packed(model.__table__, rows, connection.dialect)
        written = connection.exec_driver_sql(compiled.sql, compiled.process(params)).rowcount
    else:
        written = connection.execute(_together_statement(main, changes.others, closing, batches, packed=False),
                                     _unpacked(params, batches)).rowcount
    if written != 1:
        raise StaleDataError(f"UPDATE statement on table '{main.table}' expected to update 1 row(s); "
                             "0 were matched.")


def _unpacked(params: dict[str, Any], batches: Sequence[tuple[type[Any], list[dict[str, Any]]]]) -> dict[str, Any]:
    """``params`` with every batch's rows as parameters of their own (``packed=False``)."""
    found = dict(params)
    for b, (_, rows) in enumerate(batches):
        for r, row in enumerate(rows):
            found.update({f"b{b}_{r}_{key}": value for key, value in row.items()})
    return found


def _packed(table: Table, rows: list[dict[str, Any]], dialect: Any) -> str:
    """A batch's rows as one JSON array for ``json_populate_recordset``: each value as its column's bind
    processor makes it (an enum's stored text), times in ISO 8601 with their offset; a JSON column's value
    goes as it is, nested — and fails on what JSON cannot hold, as the column's own type would."""
    plan = _PACKING.get((table, type(dialect)))
    if plan is None:  # by dialect class, not engine: one plan per table and kind of database, however many engines
        plan = _PACKING[(table, type(dialect))] = {column.key: _packer(column, dialect) for column in table.c}
    return json.dumps([{key: value if value is None or (pack := plan[key]) is None else pack(value)
                        for key, value in row.items()} for row in rows], ensure_ascii=False)


def _packer(column: Any, dialect: Any) -> Callable[[Any], Any] | None:
    if isinstance(column.type, JSON):
        return None
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)

    def pack(value: Any) -> Any:
        if processor is not None:
            value = processor(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value) if isinstance(value, UUID | Decimal) else value

    return pack


_PACKING: dict[tuple[Table, type[Any]], dict[str, Callable[[Any], Any] | None]] = {}


def _fill_defaults(table: Table, rows: list[dict[str, Any]]) -> None:
    for column in table.c:
        default = column.default
        if column.key not in rows[0] and default is not None and getattr(default, "is_scalar", False):
            for row in rows:
                row[column.key] = default.arg  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Compiled:
    """A statement SQLAlchemy cannot cache (data-modifying CTEs have no cache key), compiled once for its
    dialect: the SQL text and each parameter's bind processor (JSON, enums), run with ``exec_driver_sql``."""

    sql: str
    processors: dict[str, Any]

    @property
    def names(self) -> Any:
        return self.processors.keys()

    @classmethod
    def of(cls, statement: Any, dialect: Any) -> _Compiled | None:
        compiled = statement.compile(dialect=dialect)
        if compiled.positional:
            return None
        processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                      for name, bind in compiled.binds.items()}
        return cls(compiled.string, processors)

    def process(self, params: dict[str, Any]) -> dict[str, Any]:
        return {name: value if (processor := self.processors[name]) is None or value is None else processor(value)
                for name, value in params.items()}


def _together_statement(main: _Change, others: Sequence[_Change], closing: ClosedRows | None,
                        batches: Sequence[tuple[type[Any], list[dict[str, Any]]]], *, packed: bool = True) -> Any:
    parts: list[Any] = [change.named_statement(f"o{i}") for i, change in enumerate(others)]
    if closing is not None:
        parts.append(closing.named_statement())
    for b, (model, rows) in enumerate(batches):
        table = model.__table__
        keys = list(rows[0])
        if packed:
            # INSERT … SELECT the batch's columns FROM json_populate_recordset(NULL::table, the rows as JSON):
            # the table's own types read each value, and columns left out get their server defaults.
            found = func.json_populate_recordset(literal_column(f"NULL::{table.name}"),
                                                 sql_cast(bindparam(f"b{b}", type_=Text), JSON)).table_valued(*keys)
            parts.append(insert(table).from_select(keys, select(*(found.c[key] for key in keys))))
        else:
            parts.append(insert(table).values([{key: bindparam(f"b{b}_{r}_{key}", type_=table.c[key].type)
                                                for key in keys} for r in range(len(rows))]))
    # No RETURNING: the row count of the main UPDATE says whether the version matched, and a statement that
    # returns no rows spares building a result's column metadata (a fifth of the call's Python).
    statement = main.named_statement("m")
    if parts:
        statement = statement.add_cte(*(part.cte(f"step_{i}") for i, part in enumerate(parts)))
    return statement


@dataclass(frozen=True)
class ClosedRows:
    """``UPDATE table SET values WHERE key IN ids AND open``: e.g. the deadline rows of a completed task."""

    table: Table
    key: str
    ids: tuple[Any, ...]
    values: dict[str, Any]
    open: Any  # the condition that a row is still open (a column expression)

    def shape(self) -> tuple[Any, ...]:
        return (self.table.name, self.key, tuple(self.values))

    def statement(self) -> Update:
        return update(self.table).where(self.table.c[self.key].in_(self.ids), self.open).values(self.values)

    def named_statement(self) -> Update:
        # PostgreSQL (write_together only): the ids as one array, so any number of them is one statement.
        ids = bindparam("c_ids", type_=ARRAY(self.table.c[self.key].type))
        return (update(self.table).where(self.table.c[self.key] == any_(ids), self.open)
                .values({key: bindparam(f"c_{key}", type_=self.table.c[key].type) for key in self.values}))

    def params(self) -> dict[str, Any]:
        return {"c_ids": list(self.ids), **{f"c_{key}": value for key, value in self.values.items()}}


_TOGETHER: Bounded[tuple[Any, ...], Any] = Bounded(256)
caches.register("together_statements", _TOGETHER)


class _Change:
    """One loaded object's changed columns, as ``write_now`` finds them."""

    def __init__(self, obj: Any, table: Table, values: dict[str, Any], where_id: Any, version_key: str | None,
                 version: Any) -> None:
        self.obj, self.table, self.values, self.where_id, self.version_key, self.version = (
            obj, table, values, where_id, version_key, version)

    def shape(self) -> tuple[Any, ...]:
        return (self.table.name, tuple(self.values), self.version_key)

    def statement(self) -> Update:
        statement = update(self.table).where(self.table.c.id == self.where_id)
        if self.version_key is not None:
            statement = statement.where(self.table.c[self.version_key] == self.version)
        return statement.values(self.values)

    def named_statement(self, prefix: str) -> Update:
        table = self.table
        statement = update(table).where(table.c.id == bindparam(f"{prefix}_where_id", type_=table.c.id.type))
        if self.version_key is not None:
            column = table.c[self.version_key]
            statement = statement.where(column == bindparam(f"{prefix}_where_version", type_=column.type))
        return statement.values({key: bindparam(f"{prefix}_{key}", type_=table.c[key].type) for key in self.values})

    def params(self, prefix: str) -> dict[str, Any]:
        found = {f"{prefix}_{key}": value for key, value in self.values.items()}
        found[f"{prefix}_where_id"] = self.where_id
        if self.version_key is not None:
            found[f"{prefix}_where_version"] = self.version
        return found

    def commit(self, obj: Any, session: Session) -> None:
        state = inspect(obj)
        state.dict.update(self.values)
        state._commit_all(state.dict, session.identity_map)  # noqa: SLF001 - as in write_now


def _change(obj: Any) -> _Change | None:
    state = inspect(obj)
    current, modified = state.dict, state.committed_state
    _, columns, version_key = _updates(state.mapper)
    if state.key is None or not modified or not modified.keys() <= columns or not modified.keys() <= current.keys():
        return None
    values = {key: current[key] for key in modified if current[key] != modified[key]}
    if not values:
        return None
    version = None
    if version_key is not None:
        version = current[version_key]
        values[version_key] = version + 1
    return _Change(obj, cast(Table, state.mapper.local_table), values, current["id"], version_key, version)


def _take_pending(session: Session, models: tuple[type[Any], ...]) -> list[tuple[type[Any], list[dict[str, Any]]]]:
    """The queued rows, then the pending objects of ``models`` (taken out of the session), by model and in
    order: each batch's rows carry the same keys, so each batch is one multi-row VALUES."""
    queued: dict[type[Any], list[dict[str, Any]]] = {}
    for model, values in session.info.pop(_QUEUED, ()):
        queued.setdefault(model, []).append(values)
    rows: dict[type[Any], list[dict[str, Any]]] = {}
    pending = sorted((obj for obj in session.new if isinstance(obj, models)), key=lambda o: inspect(o).insert_order)
    for obj in pending:
        state = inspect(obj)
        columns = state.mapper.columns.keys()
        rows.setdefault(type(obj), []).append({key: state.dict[key] for key in columns if key in state.dict})
        session.expunge(obj)
    return [*queued.items(), *rows.items()]


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


def insert_tasks(session: Session, rows: Sequence[Task]) -> None:
    """Write new task rows (built by ``TaskMirror.of``) with one plain INSERT … RETURNING id, then put
    them in the session as stored rows: what a flush of pending objects does, without the unit of
    work's cost. The ids come back in the order of the rows."""
    if not rows:
        return
    values = [{key: row.__dict__[key] for key in _TASK_INSERT_COLUMNS} for row in rows]
    ids = session.connection().execute(_INSERT_TASKS, values).scalars().all()
    for row, row_id in zip(rows, ids, strict=True):
        row.id = row_id
        make_transient_to_detached(row)  # as if just loaded: no history, nothing to write
        session.add(row)


def adopt_tasks(session: Session, rows: Sequence[Task], ids: Sequence[int]) -> None:
    """``insert_tasks`` for rows whose ids were taken from the sequence beforehand (``lock_step``): each row is
    queued for the step's one write statement (``write_together``, or ``insert_pending``) instead of an
    INSERT of its own, and put in the session as stored. Their deadline rows, audit records and events go
    in that same statement; PostgreSQL checks their foreign keys at its end, when the task row is there."""
    for row, row_id in zip(rows, ids, strict=True):
        row.id = row_id
        queue_row(session, Task, {"id": row_id, **{key: row.__dict__[key] for key in _TASK_INSERT_COLUMNS}})
        make_transient_to_detached(row)
        session.add(row)


_TASKS = cast(Table, Task.__table__)
# No draft: an empty one is SQL NULL, which the JSON type would write as JSON 'null' if given None.
_TASK_INSERT_COLUMNS = tuple(prop.key for prop in Task.__mapper__.column_attrs if prop.key not in ("id", "draft"))
_INSERT_TASKS = insert(_TASKS).returning(_TASKS.c.id, sort_by_parameter_order=True)
