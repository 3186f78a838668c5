"""The pool's liveness check (engine/db.py ``_check_alive_after_idle``) on the real PostgreSQL: a connection
that rested in the pool longer than ``PING_AFTER_IDLE`` is pinged on check-out, and one the server dropped
meanwhile is replaced before the caller sees it; a connection back from a request a moment ago is not
pinged (that round trip was one in seven of a completion's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from engine import db as db_module
from engine.db import Database


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    database = Database.from_url(postgres_url)
    yield database
    database.engine.dispose()


def _pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The dialect's real ping, recorded on each call."""
    seen: list[Any] = []
    real = database.engine.dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(database.engine.dialect, "do_ping", ping)
    return seen


def _backend_pid(database: Database) -> int:
    with database.transaction() as session:
        return int(session.scalar(text("SELECT pg_backend_pid()")))


def test_a_connection_just_returned_is_not_pinged(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 60.0)
    pings = _pings(database, monkeypatch)
    first = _backend_pid(database)  # a new connection: needs no ping either
    assert [_backend_pid(database) for _ in range(5)] == [first] * 5
    assert pings == []


def test_a_rested_connection_is_pinged_and_a_dropped_one_replaced(database: Database, postgres_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pings = _pings(database, monkeypatch)
    first = _backend_pid(database)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.0)  # every pooled connection now counts as rested
    assert _backend_pid(database) == first
    assert len(pings) == 1  # pinged, alive, kept
    # The server drops the pooled connection while it rests (a restart, an idle timeout, an admin).
    server = postgres_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone() == (True,)
    # The next use does not trip on it: the ping fails, the pool drops it and connects anew.
    replaced = _backend_pid(database)
    assert replaced != first
    dead = pings[0]
    assert pings[1] is dead and dead.closed  # the ping found it dropped …
    assert pings[2] is not dead and not pings[2].closed  # … and the new connection serves the request
