"""``Database.one_connection``: the sessions of a block take turns on one pooled connection, and each
still commits or rolls back on its own — on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import delete, event, select

from engine.db import Database
from engine.models import CalendarOverride

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
