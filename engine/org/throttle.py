"""Rate limits kept in the database, one row per counted key, so they hold across web workers and restarts.

A request whose check may fail (a password, a questionnaire link) first *reserves* an attempt under the
row's lock: a locked-out key is refused; a key that has used up its failures is locked out and refused;
otherwise the attempt is counted as a failure before the slow check runs. Counting first is what makes
the limit hold for parallel requests: thirty requests at once see each other's reservations, where a
count read before any of them finished would let all thirty through. An attempt that turns out fine is
handed back (``forgive``), or the key is cleared altogether (``clear``: the owner proved who they are).

Each lock-out lasts twice as long as the one before (up to ``Limit.longest``), so a patient attacker
gets fewer tries per day instead of a fresh set every quarter of an hour; a key quiet for a day starts
over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.models import Throttle

FORGOTTEN_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    scope: str
    #: Failures allowed within ``window``; the next attempt starts a lock-out.
    failures: int
    window: timedelta
    #: The first lock-out; each following one doubles, up to ``longest``.
    lockout: timedelta
    longest: timedelta

    def lockout_for(self, strikes: int) -> timedelta:
        return min(self.lockout * (1 << max(0, min(strikes - 1, 20))), self.longest)


def _insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    return postgresql.insert(Throttle) if dialect == "postgresql" else sqlite.insert(Throttle)


def _locked_row(session: Session, limit: Limit, key: str, now: datetime) -> Throttle:
    """The key's row, created if new, locked until the transaction ends (PostgreSQL; SQLite lets one writer
    in at a time anyway)."""
    session.execute(_insert(session).values(scope=limit.scope, key=key, failures=0, window_start=now, strikes=0)
                    .on_conflict_do_nothing())
    return session.scalars(select(Throttle).where(Throttle.scope == limit.scope, Throttle.key == key)
                           .with_for_update().execution_options(populate_existing=True)).one()


def reserve(session: Session, limit: Limit, key: str, now: datetime) -> datetime | None:
    """Count an attempt for ``key`` as a failure, or refuse it: None to go ahead, else when the lock-out
    ends. The caller commits either way (a lock-out that begins must be stored) and raises after."""
    row = _locked_row(session, limit, key, now)
    if row.locked_until is not None and now < row.locked_until:
        return row.locked_until
    if now - row.window_start >= FORGOTTEN_AFTER:
        row.strikes = 0
    if now - row.window_start >= limit.window:
        row.failures, row.window_start = 0, now
    if row.failures >= limit.failures:
        row.strikes += 1
        row.locked_until = now + limit.lockout_for(row.strikes)
        row.failures, row.window_start = 0, row.locked_until
        return row.locked_until
    row.failures += 1
    return None


def forgive(session: Session, limit: Limit, key: str) -> None:
    """Hand back an attempt ``reserve`` counted: it did not fail."""
    session.execute(update(Throttle).where(Throttle.scope == limit.scope, Throttle.key == key,
                                           Throttle.failures > 0).values(failures=Throttle.failures - 1))


def clear(session: Session, limit: Limit, key: str) -> None:
    session.execute(delete(Throttle).where(Throttle.scope == limit.scope, Throttle.key == key))


def locked_until(session: Session, limit: Limit, key: str, now: datetime) -> datetime | None:
    """When the key's lock-out ends, if it is locked out now (a plain read: nothing is counted)."""
    until = session.scalar(select(Throttle.locked_until).where(Throttle.scope == limit.scope,
                                                               Throttle.key == key))
    return until if until is not None and now < until else None


def minutes_left(until: datetime, now: datetime) -> int:
    return max(1, -(-int((until - now).total_seconds()) // 60))
