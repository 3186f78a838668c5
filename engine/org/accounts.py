"""Accounts: signing in (with rate limits), signed-in sessions, and passwords set or reset by an admin.

The rate limits count failed attempts in the database (engine/org/throttle.py), so they hold across web
workers and restarts. They are kept per login *and address*: an attacker guessing a password from one
address locks out only that pair, for a window that doubles with each lock-out, while the account's
owner still signs in from anywhere else. An address also has a ceiling of its own over all logins.
(A limit per login alone would let anyone lock any account by failing five times.)

Every sign-in opens a session (a row; the browser's cookie carries its token): signing out ends it, a
password change ends the user's other sessions and an admin's reset ends them all, so a copied cookie
stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who, login_of
from engine.db import Database
from engine.errors import EngineError, NotAllowed, TooManyAttempts
from engine.models import Notification, RoleGrant, School, SignInAttempt, User, UserSession
from engine.org import throttle
from engine.org.core import find_user, load_admin
from engine.org.passwords import hash_password, verify_password

BY_LOGIN_FROM_ADDRESS = throttle.Limit("sign_in", failures=5, window=timedelta(minutes=15),
                                       lockout=timedelta(minutes=15), longest=timedelta(hours=24))
BY_ADDRESS = throttle.Limit("sign_in_address", failures=20, window=timedelta(minutes=15),
                            lockout=timedelta(minutes=15), longest=timedelta(hours=24))
MIN_PASSWORD_LENGTH = 8

__all__ = ["TooManyAttempts"]  # raised by sign_in; the class lives in engine.errors


class SignInRefused(NotAllowed):
    pass


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    login: str
    full_name: str
    #: The new session's token, for the browser's cookie (only its hash is stored).
    session_token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(db: Database, login: str, password: str, address: str) -> SignedIn:
    """Check a login and password and open a session; failures count towards the limits.

    Two transactions around the password check: the attempt is counted and committed first, so parallel
    attempts see each other (holding a row lock through the 0.1–0.6 s hash instead would queue every
    sign-in from a school's shared address); the outcome is recorded after."""
    login, address = login.strip()[:100], address[:64]
    pair = f"{address}/{login}"
    now = db.now()
    with db.transaction() as session:
        refused_until = _reserve(session, pair, address, now)
        user = session.execute(select(User.id, User.login, User.full_name, User.password_hash)
                               .where(User.login == login, User.is_active.is_(True))).first()
    if refused_until is not None:
        minutes = throttle.minutes_left(refused_until, now)
        raise TooManyAttempts(f"Слишком много неудачных попыток входа. Попробуйте через {minutes} мин.")
    ok = verify_password(user.password_hash if user is not None else None, password)
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        session.add(SignInAttempt(login=login, address=address, at=now, succeeded=ok))
        if ok and user is not None:
            throttle.clear(session, BY_LOGIN_FROM_ADDRESS, pair)
            throttle.forgive(session, BY_ADDRESS, address)
            session.add(UserSession(user_id=user.id, token_hash=_token_hash(token), created_at=now))
    if not ok or user is None:
        raise SignInRefused("Неверный логин или пароль.")
    return SignedIn(user.id, user.login, user.full_name, token)


def _reserve(session: Session, pair: str, address: str, now: datetime) -> datetime | None:
    """Reserve the attempt on both limits, or say until when it is refused (nothing stays counted then)."""
    refused = throttle.reserve(session, BY_ADDRESS, address, now)
    if refused is None:
        refused = throttle.reserve(session, BY_LOGIN_FROM_ADDRESS, pair, now)
        if refused is not None:
            throttle.forgive(session, BY_ADDRESS, address)
    return refused


def sign_out(db: Database, session_token: str) -> None:
    """End one session (the browser that signs out)."""
    with db.transaction() as session:
        session.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(session_token)))


def reset_password(db: Database, target_login: str, *, actor: Who) -> str:
    """An admin sets a new random password for a user; it is returned once, to hand over."""
    password = secrets.token_urlsafe(9)
    with db.transaction() as session:
        admin = load_admin(session, actor, "сбросить пароль может только администратор")
        user = find_user(session, target_login)
        user.password_hash = hash_password(password)
        # Whoever holds the old password may hold a session too: every session of the user ends.
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        audit.record(session, db.now(), "user.password_reset", actor_id=admin.user_id, user=target_login)
    return password


def change_password(db: Database, old: str, new: str, *, actor: Who, keep_session: str | None = None) -> None:
    """Change one's own password; every other session of the user ends (``keep_session``, the browser
    making the change, stays signed in)."""
    if len(new) < MIN_PASSWORD_LENGTH:
        raise EngineError(f"Пароль должен быть не короче {MIN_PASSWORD_LENGTH} символов.")
    with db.transaction() as session:
        user = find_user(session, login_of(actor))
        if not verify_password(user.password_hash, old):
            raise SignInRefused("Текущий пароль указан неверно.")
        user.password_hash = hash_password(new)
        others = delete(UserSession).where(UserSession.user_id == user.id)
        if keep_session is not None:
            others = others.where(UserSession.token_hash != _token_hash(keep_session))
        session.execute(others)
        audit.record(session, db.now(), "user.password_changed", actor_id=user.id)


@dataclass(frozen=True)
class SessionUser:
    """Who is signed in, with the roles the pages need to choose their menus (authorization itself is
    always done again by the engine service a page calls)."""

    user_id: int
    login: str
    full_name: str
    roles: frozenset[str]
    school_codes: tuple[str, ...]
    #: Unread notifications when the request began: the badge in every page's header.
    unread: int = 0

    @property
    def coordinates(self) -> bool:
        return bool(self.roles & {"municipal_coordinator", "regional_coordinator", "federal", "admin"})

    @property
    def works_with_schools(self) -> bool:
        return bool(self.roles & {"school", "curator"})

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


_UNREAD = (select(func.count()).select_from(Notification)
           .where(Notification.user_id == User.id, Notification.read_at.is_(None))
           .correlate(User).scalar_subquery())
_SESSION_USER = (select(User.login, User.full_name, RoleGrant.role, School.code, _UNREAD.label("unread"))
                 .join(UserSession, (UserSession.user_id == User.id)
                       & (UserSession.token_hash == bindparam("token_hash")))
                 .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
                 .outerjoin(School, School.id == RoleGrant.school_id)
                 .where(User.id == bindparam("user_id"), User.is_active.is_(True)))


def session_user(db: Database, user_id: int, session_token: str) -> SessionUser | None:
    """Who is signed in with this session and how many notifications they have not read — read on every
    page request, so in one query (a row per grant) instead of four; None once the session has ended."""
    with db.reading() as session:
        rows = session.execute(_SESSION_USER, {"user_id": user_id,
                                               "token_hash": _token_hash(session_token)}).all()
    if not rows:
        return None
    roles = frozenset(row.role.value for row in rows if row.role is not None)
    codes = tuple(sorted({row.code for row in rows if row.code is not None}))
    return SessionUser(user_id, rows[0].login, rows[0].full_name, roles, codes, rows[0].unread)


@dataclass(frozen=True)
class UserListing:
    login: str
    full_name: str
    email: str | None
    roles: str
    active: bool


def list_users(db: Database, *, actor: Who, search: str = "", limit: int = 200) -> list[UserListing]:
    with db.reading() as session:
        load_admin(session, actor, "список пользователей доступен администратору")
        query = select(User).order_by(User.login).limit(limit)
        if search:
            pattern = f"%{search.strip()}%"
            query = query.where(User.login.ilike(pattern) | User.full_name.ilike(pattern))
        return [UserListing(u.login, u.full_name, u.email, ", ".join(sorted(g.role.value for g in u.grants)),
                            u.is_active) for u in session.scalars(query)]
