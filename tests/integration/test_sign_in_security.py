"""Sign-in under attack: an unknown login costs the same password check as a known one (no user
enumeration by timing); the limits hold for parallel guesses; they throttle the guesser's address, not
the account's owner elsewhere, and each lock-out of the guesser lasts longer than the one before."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import argon2
import pytest
from sqlalchemy import func, select, update

from engine.db import Database
from engine.errors import TooManyAttempts
from engine.models import SignInAttempt, User
from engine.org import accounts
from engine.org.accounts import SignInRefused, sign_in
from engine.org.passwords import _stand_in_hash, hash_password
from tests.conftest import Clock, Org, unique
from tests.helpers import PASSWORD, password_hash, set_password


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2036, 2, 3, 10, 0, tzinfo=UTC))


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def owner(db: Database, org: Org) -> str:
    set_password(db, org.curator)
    return org.curator


def address() -> str:
    return unique("addr-")


def _refused(db: Database, login: str, password: str, where: str) -> type[Exception] | None:
    try:
        sign_in(db, login, password, where)
    except (SignInRefused, TooManyAttempts) as err:
        return type(err)
    return None


def _checked(db: Database, login: str) -> int:
    """How many attempts got as far as the password check (each one leaves a row in the sign-in log)."""
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(SignInAttempt).where(SignInAttempt.login == login)) or 0


# --- timing: the same work whether the login exists or not ------------------------------------------------


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every argon2 verification the process performs (they still run: this only counts them).

    Counting instead of timing: medians of wall-clock times on a shared two-core machine are noisy enough
    that a margin generous enough never to flake would also let a real difference through; one argon2 check
    on every path, with a stand-in hash of the same parameters, is what makes the times equal."""
    seen: list[str] = []
    real = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        seen.append(hash if isinstance(hash, str) else hash.decode())
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    yield seen


def test_unknown_and_known_logins_cost_one_password_check_each(db: Database, owner: str, org: Org,
                                                              verifications: list[str]) -> None:
    where = address()
    cases = {"known login, wrong password": owner, "unknown login": unique("nobody-"),
             "user without a password": org.regional}
    for case, login in cases.items():
        before = len(verifications)
        assert _refused(db, login, "не тот пароль", where) is SignInRefused, case
        assert len(verifications) == before + 1, case
    with db.transaction() as session:
        session.execute(update(User).where(User.login == org.federal).values(
            password_hash=password_hash(), is_active=False))
    before = len(verifications)
    assert _refused(db, org.federal, PASSWORD, where) is SignInRefused  # deactivated: refused, same work
    assert len(verifications) == before + 1


def test_the_stand_in_hash_costs_what_a_real_one_costs() -> None:
    stand_in = argon2.extract_parameters(_stand_in_hash())
    real = argon2.extract_parameters(hash_password(PASSWORD))
    assert stand_in == real
    assert _stand_in_hash() == _stand_in_hash()  # made once


# --- the limits -------------------------------------------------------------------------------------------


def test_parallel_wrong_passwords_are_checked_at_most_the_limit(pg_db: Database) -> None:
    org = _pg_org(pg_db)
    where = address()
    barrier = threading.Barrier(30)
    outcomes: list[type[Exception] | None] = []

    def guess(n: int) -> None:
        barrier.wait()
        outcomes.append(_refused(pg_db, org, f"guess-{n}", where))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limit = accounts.BY_LOGIN_FROM_ADDRESS.failures
    assert _checked(pg_db, org) == limit
    assert outcomes.count(SignInRefused) == limit and outcomes.count(TooManyAttempts) == 30 - limit


def test_parallel_guesses_over_many_logins_stop_at_the_address_ceiling(pg_db: Database) -> None:
    where = address()
    logins = [unique("nobody-") for _ in range(30)]
    barrier = threading.Barrier(len(logins))
    outcomes: list[type[Exception] | None] = []

    def guess(login: str) -> None:
        barrier.wait()
        outcomes.append(_refused(pg_db, login, "guess", where))

    threads = [threading.Thread(target=guess, args=(login,)) for login in logins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with pg_db.reading() as session:
        checked = session.scalar(select(func.count()).select_from(SignInAttempt).where(SignInAttempt.address == where))
    assert checked == accounts.BY_ADDRESS.failures
    assert outcomes.count(TooManyAttempts) == len(logins) - accounts.BY_ADDRESS.failures


def _pg_org(pg_db: Database) -> str:
    from tests.conftest import make_org

    login = make_org(pg_db).curator
    set_password(pg_db, login)
    return login


def test_the_owner_signs_in_from_elsewhere_while_the_guesser_is_locked_out(timed: Database, owner: str) -> None:
    attacker, home = address(), address()
    for n in range(accounts.BY_LOGIN_FROM_ADDRESS.failures):
        assert _refused(timed, owner, f"guess-{n}", attacker) is SignInRefused
    assert _refused(timed, owner, PASSWORD, attacker) is TooManyAttempts  # the right password, the wrong place
    signed = sign_in(timed, owner, PASSWORD, home)
    assert signed.login == owner and signed.session_token


def test_the_guessers_lockout_grows(timed: Database, clock: Clock, owner: str) -> None:
    attacker = address()
    limit = accounts.BY_LOGIN_FROM_ADDRESS
    lockouts = []
    for _ in range(3):
        for n in range(limit.failures):
            assert _refused(timed, owner, f"guess-{n}", attacker) is SignInRefused
        with pytest.raises(TooManyAttempts) as refused:
            sign_in(timed, owner, PASSWORD, attacker)
        minutes = int(re.search(r"через (\d+) мин", refused.value.message).group(1))  # type: ignore[union-attr]
        clock.advance(minutes=minutes - 1)
        assert _refused(timed, owner, PASSWORD, attacker) is TooManyAttempts  # still locked a minute before
        clock.advance(minutes=1)
        lockouts.append(minutes)
    assert lockouts == [15, 30, 60]
    assert sign_in(timed, owner, PASSWORD, attacker).login == owner  # the window is over: the password works


def test_a_successful_sign_in_clears_the_count(timed: Database, owner: str) -> None:
    home = address()
    for _ in range(3):
        for n in range(accounts.BY_LOGIN_FROM_ADDRESS.failures - 1):
            assert _refused(timed, owner, f"typo-{n}", home) is SignInRefused
        assert sign_in(timed, owner, PASSWORD, home).login == owner


def test_an_address_has_a_ceiling_over_all_logins(timed: Database, owner: str) -> None:
    scanner, home = address(), address()
    for _ in range(accounts.BY_ADDRESS.failures):
        assert _refused(timed, unique("nobody-"), "guess", scanner) is SignInRefused
    assert _refused(timed, owner, PASSWORD, scanner) is TooManyAttempts
    assert sign_in(timed, owner, PASSWORD, home).login == owner
