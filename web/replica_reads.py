"""Read-your-writes with a streaming replica (``DATABASE_READ_URL``; engine/db.py ``Database.read_your_writes``).

A request that wrote leaves the primary's WAL position in the user's signed session cookie; the user's next
requests read dashboards from the replica only once it has replayed that position, and the mark goes when it
has. Nothing happens without a replica: no cookie, no extra query."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from flask import Flask, g, session
from werkzeug.wrappers import Response

from engine.db import Database, ReadMarks

_COOKIE_KEY = "wal"  # in Flask's signed session cookie: a user cannot forge a position to pin reads anywhere


def init_app(app: Flask, db: Database) -> None:
    if db.replica is None:
        return

    def begin() -> None:
        manager = db.read_your_writes(session.get(_COOKIE_KEY))
        g.read_marks = manager.__enter__()
        g.read_marks_manager = manager

    def remember(response: Response) -> Response:
        marks: ReadMarks | None = g.get("read_marks")
        if marks is None:
            return response
        if marks.wrote:
            position = db.write_position()
            if position is not None:
                session[_COOKIE_KEY] = position
        elif marks.replica_caught_up and _COOKIE_KEY in session:
            session.pop(_COOKIE_KEY)
        return response

    def end(_error: BaseException | None) -> None:
        manager: AbstractContextManager[Any] | None = g.pop("read_marks_manager", None)
        if manager is not None:
            manager.__exit__(None, None, None)

    app.before_request(begin)
    app.after_request(remember)
    app.teardown_request(end)
