"""Notifications: in-app rows and e-mails in the outbox, written in the same transaction as the event.

Texts are Russian and say what happened, which school, which task, when it is (was) due, and where to
click. In-app notifications are delivered by being written; e-mails wait in the outbox for a delivery
job, so a mail server or Redis being down loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.actors import Who
from engine.db import Database
from engine.models import Notification, OutboxMessage, OutboxStatus, Task, User
from engine.org.core import load_user
from engine.timing.zones import local_time


@dataclass(frozen=True)
class Message:
    kind: str  # arrival, reminder, due, escalation, digest
    title: str
    body: str
    link: str | None = None


def moscow_time(moment: datetime | None, zone_name: str | None = None) -> str:
    """«01.03.2027 23:59 (МСК+9)»: in ``zone_name`` (the school's region's; Moscow's by default), the zone named."""
    return local_time(moment, zone_name)


def task_link(base_url: str, task: Task) -> str:
    return f"{base_url}/tasks/{task.id}"


def notify(session: Session, users: Iterable[User], message: Message, *, now: datetime, key: str,
           task_id: int | None = None, digest_covers: bool = False) -> list[OutboxMessage]:
    """Write one in-app notification per user and queue an e-mail for each user with an address.

    ``key`` makes every e-mail's dedupe key (with the user id): the same event can never queue the same
    letter twice. ``digest_covers``: the daily digest tells of this event, so a user who takes the digest
    gets it in the app only, not in a letter of its own. Returns the queued letters (unflushed: callers
    flush once per batch, then hand the ids to the delivery job)."""
    letters = []
    for user in users:
        session.add(Notification(user_id=user.id, created_at=now, kind=message.kind, title=message.title[:500],
                                 body=message.body, link=message.link, task_id=task_id))
        if user.email and not (digest_covers and user.wants_digest):
            letter = OutboxMessage(dedupe_key=f"{key}:user:{user.id}", created_at=now, to_address=user.email,
                                   user_id=user.id, subject=message.title[:500], body=_email_body(user, message),
                                   status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now)
            session.add(letter)
            letters.append(letter)
    return letters


def _email_body(user: User, message: Message) -> str:
    link = f"\n\nОткрыть: {message.link}" if message.link else ""
    return (f"Здравствуйте, {user.full_name}!\n\n{message.body}{link}\n\n"
            "—\nДорожные карты «500+». Это автоматическое письмо, отвечать на него не нужно.")


@dataclass(frozen=True)
class NotificationView:
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read: bool


def list_notifications(db: Database, *, actor: Who, unread_only: bool = False,
                       limit: int = 50) -> tuple[list[NotificationView], int]:
    """A user's newest notifications and their unread count."""
    with db.reading() as session:
        user = load_user(session, actor)
        mine = Notification.user_id == user.user_id
        query = select(Notification).where(mine)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        rows = session.scalars(query.order_by(Notification.id.desc()).limit(limit))
        unread = session.scalar(select(func.count()).where(mine, Notification.read_at.is_(None))) or 0
        views = [NotificationView(n.id, n.kind, n.title, n.body, n.link, n.created_at, n.read_at is not None)
                 for n in rows]
        return views, unread


def mark_read(db: Database, ids: list[int] | None = None, *, actor: Who) -> int:
    """Mark the given (or all) of the user's notifications read; returns how many changed."""
    with db.transaction() as session:
        user = load_user(session, actor)
        query = update(Notification).where(Notification.user_id == user.user_id, Notification.read_at.is_(None))
        if ids is not None:
            query = query.where(Notification.id.in_(ids))
        return len(session.execute(query.values(read_at=db.now()).returning(Notification.id)).all())
