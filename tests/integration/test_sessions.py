"""The sessions services open, on PostgreSQL and SQLite: ``db.reading()`` never writes (and on
PostgreSQL runs without BEGIN/ROLLBACK), and inside ``db.one_connection()`` sessions take turns on one
pooled connection while each still commits or rolls back on its own."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from engine.db import Database, ReadingSessionWrote
from engine.fast_writes import insert_pending, queue_row, write_now
from engine.models import CalendarOverride, Task, User
from engine.process.instances import TaskMirror
from tests.conftest import Org

DAY = date(2031, 3, 8)  # no other test corrects this day of the calendar


@pytest.fixture(autouse=True)
def clean_day(db: Database) -> Iterator[None]:
    yield
    with db.transaction() as session:
        session.execute(delete(CalendarOverride).where(CalendarOverride.day == DAY))


@contextmanager
def checkouts(db: Database) -> Iterator[list[object]]:
    taken: list[object] = []

    def count(dbapi_connection: object, *_: object) -> None:
        taken.append(dbapi_connection)

    event.listen(db.engine.pool, "checkout", count)
    try:
        yield taken
    finally:
        event.remove(db.engine.pool, "checkout", count)


def _override(db: Database, working: bool) -> CalendarOverride:
    return CalendarOverride(day=DAY, is_working_day=working, note="тест", changed_at=db.now())


def _stored(db: Database) -> list[bool]:
    with db.reading() as session:
        return list(session.scalars(select(CalendarOverride.is_working_day).where(CalendarOverride.day == DAY)))


def test_sessions_one_after_another_share_one_checkout(db: Database) -> None:
    with checkouts(db) as taken, db.one_connection():
        for _ in range(3):
            with db.reading() as session:
                session.execute(select(CalendarOverride.day).limit(1)).all()
        with db.transaction() as session:
            session.add(_override(db, True))
    assert len(taken) == 1
    assert _stored(db) == [True]  # committed for everyone, not only inside the block


def test_without_the_block_every_session_checks_out(db: Database) -> None:
    with checkouts(db) as taken:
        for _ in range(3):
            with db.reading() as session:
                session.execute(select(CalendarOverride.day).limit(1)).all()
    assert len(taken) == 3


def test_a_transaction_opened_inside_another_session_commits_on_its_own_connection(db: Database) -> None:
    """Joining the open session's transaction would make the inner commit a no-op and the outer
    rollback would drop it: the inner one must get a connection of its own."""
    with checkouts(db) as taken, db.one_connection():
        with db.reading() as outer:
            outer.execute(select(CalendarOverride.day).limit(1)).all()
            with db.transaction() as inner:
                inner.add(_override(db, False))
        assert _stored(db) == [False]
    assert len(taken) == 2 and taken[0] is not taken[1]


def test_a_failed_transaction_leaves_nothing_and_the_connection_serves_the_next_session(db: Database) -> None:
    with db.one_connection():
        with pytest.raises(RuntimeError), db.transaction() as session:
            session.add(_override(db, True))
            session.flush()
            raise RuntimeError("the use case fails after writing")
        assert _stored(db) == []
        with db.transaction() as session:
            session.add(_override(db, False))
    assert _stored(db) == [False]


def test_the_connection_goes_back_to_the_pool_when_the_block_ends(db: Database) -> None:
    checked_in: list[object] = []

    def count(*_: object) -> None:
        checked_in.append(None)

    event.listen(db.engine.pool, "checkin", count)
    try:
        with db.one_connection():
            with db.reading() as session:
                session.execute(select(CalendarOverride.day).limit(1)).all()
            assert checked_in == []  # held between the sessions of the block
    finally:
        event.remove(db.engine.pool, "checkin", count)
    assert len(checked_in) == 1


def test_a_reading_session_refuses_to_write_and_stores_nothing(db: Database) -> None:
    with pytest.raises(ReadingSessionWrote), db.reading() as session:
        session.add(_override(db, True))
        session.execute(select(CalendarOverride.day)).all()  # the autoflush before a query is a write
    with pytest.raises(ReadingSessionWrote), db.reading() as session:
        session.execute(update(CalendarOverride).where(CalendarOverride.day == DAY).values(note="изменено"))
    with pytest.raises(ReadingSessionWrote), db.reading() as session:
        queue_row(session, CalendarOverride, {"day": DAY, "is_working_day": True, "note": "тест",
                                              "changed_at": db.now(), "changed_by_id": None})
        insert_pending(session)
    assert _stored(db) == []


def test_reading_sessions_run_without_a_transaction_on_postgresql(pg_db: Database) -> None:
    def autocommit(session: Session) -> bool:
        return bool(session.connection().connection.driver_connection.autocommit)  # type: ignore[union-attr]

    with pg_db.reading() as session:
        assert autocommit(session)
    with pg_db.transaction() as session:
        assert not autocommit(session)
    with pg_db.one_connection():
        with pg_db.reading() as session:
            assert autocommit(session)
        with pg_db.transaction() as session:
            assert not autocommit(session)


def test_a_transaction_after_reading_on_the_shared_connection_is_a_real_transaction(db: Database) -> None:
    """The shared connection reads in autocommit; a transaction after that must not write in it."""
    with db.one_connection():
        with db.reading() as session:
            session.execute(select(CalendarOverride.day).limit(1)).all()
        with pytest.raises(RuntimeError), db.transaction() as session:
            session.add(_override(db, True))
            session.flush()
            raise RuntimeError("the use case fails after writing")
        with db.reading() as session:
            session.execute(select(CalendarOverride.day).limit(1)).all()
    assert _stored(db) == []


def test_a_thread_with_a_copy_of_the_context_does_not_use_the_shared_connection(db: Database) -> None:
    def read() -> None:
        with db.reading() as session:
            session.execute(select(CalendarOverride.day).limit(1)).all()

    with checkouts(db) as taken, db.one_connection():
        read()
        worker = threading.Thread(target=contextvars.copy_context().run, args=(read,))
        worker.start()
        worker.join()
    assert len(taken) == 2 and taken[0] is not taken[1]


def test_write_now_leaves_the_row_as_stored_so_the_flush_writes_nothing_more(db: Database, org: Org) -> None:
    """``write_now`` stands in for the flush of one changed row; the row must come out of it clean, or
    the commit's flush would write it again."""
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.transaction() as session:
            user = session.scalars(select(User).where(User.login == org.school_user)).one()
            user.full_name = "Изменено сразу"
            write_now(session, user)
            assert not session.is_modified(user)
            session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert statements.count("UPDATE") == 1
    with db.reading() as session:
        assert session.scalar(select(User.full_name).where(User.login == org.school_user)) == "Изменено сразу"


def test_deadlines_of_opened_tasks_cannot_be_recorded_before_the_tasks_have_ids() -> None:
    unsaved = SimpleNamespace(opened=[Task()])
    with pytest.raises(RuntimeError, match="insert_tasks"):
        TaskMirror.record(unsaved)  # type: ignore[arg-type]
