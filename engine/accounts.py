"""Accounts: signing in (with a rate limit), and passwords set or reset by an admin.

The rate limit counts failed attempts in the database, so it holds across web workers and restarts:
after too many failures for a login, or from an address, sign-in is refused for a while, whatever
the password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, select

from engine import audit
from engine.db import Database
from engine.errors import EngineError, NotAllowed
from engine.models import Notification, RoleGrant, School, SignInAttempt, User
from engine.org import find_user, load_actor
from engine.passwords import hash_password, verify_password

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 8


class SignInRefused(NotAllowed):
    pass


class TooManyAttempts(NotAllowed):
    pass


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    login: str
    full_name: str


def sign_in(db: Database, login: str, password: str, address: str) -> SignedIn:
    """Check a login and password; every attempt is recorded, failures count towards the limit."""
    login = login.strip()[:100]
    now = db.now()
    with db.transaction() as session:
        since = now - WINDOW
        failures = select(func.count()).select_from(SignInAttempt).where(
            SignInAttempt.at >= since, SignInAttempt.succeeded.is_(False))
        by_login = session.scalar(failures.where(SignInAttempt.login == login)) or 0
        by_address = session.scalar(failures.where(SignInAttempt.address == address)) or 0
        if by_login >= MAX_FAILURES_PER_LOGIN or by_address >= MAX_FAILURES_PER_ADDRESS:
            raise TooManyAttempts("Слишком много неудачных попыток входа. Попробуйте через 15 минут.")
        user = session.scalar(select(User).where(User.login == login, User.is_active.is_(True)))
        ok = user is not None and verify_password(user.password_hash, password)
        session.add(SignInAttempt(login=login, address=address[:64], at=now, succeeded=ok))
    if not ok or user is None:
        raise SignInRefused("Неверный логин или пароль.")
    return SignedIn(user.id, user.login, user.full_name)


def active_user(db: Database, user_id: int) -> SignedIn | None:
    """The signed-in user of a session, or None if deactivated since."""
    with db.reading() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            return None
        return SignedIn(user.id, user.login, user.full_name)


def reset_password(db: Database, admin_login: str, target_login: str) -> str:
    """An admin sets a new random password for a user; it is returned once, to hand over."""
    password = secrets.token_urlsafe(9)
    with db.transaction() as session:
        admin = load_actor(session, admin_login)
        if not admin.scope.is_admin:
            raise NotAllowed("сбросить пароль может только администратор")
        user = find_user(session, target_login)
        user.password_hash = hash_password(password)
        audit.record(session, db.now(), "user.password_reset", actor_id=admin.user_id, user=target_login)
    return password


def change_password(db: Database, login: str, old: str, new: str) -> None:
    if len(new) < MIN_PASSWORD_LENGTH:
        raise EngineError(f"Пароль должен быть не короче {MIN_PASSWORD_LENGTH} символов.")
    with db.transaction() as session:
        user = find_user(session, login)
        if not verify_password(user.password_hash, old):
            raise SignInRefused("Текущий пароль указан неверно.")
        user.password_hash = hash_password(new)
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
                 .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
                 .outerjoin(School, School.id == RoleGrant.school_id)
                 .where(User.id == bindparam("user_id"), User.is_active.is_(True)))


def session_user(db: Database, user_id: int) -> SessionUser | None:
    """Who is signed in and how many notifications they have not read — read on every page request, so in
    one query (a row per grant) instead of four."""
    with db.reading() as session:
        rows = session.execute(_SESSION_USER, {"user_id": user_id}).all()
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


def list_users(db: Database, admin_login: str, *, search: str = "", limit: int = 200) -> list[UserListing]:
    with db.reading() as session:
        if not load_actor(session, admin_login).scope.is_admin:
            raise NotAllowed("список пользователей доступен администратору")
        query = select(User).order_by(User.login).limit(limit)
        if search:
            pattern = f"%{search.strip()}%"
            query = query.where(User.login.ilike(pattern) | User.full_name.ilike(pattern))
        return [UserListing(u.login, u.full_name, u.email, ", ".join(sorted(g.role.value for g in u.grants)),
                            u.is_active) for u in session.scalars(query)]
