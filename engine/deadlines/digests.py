"""The optional daily digest: one e-mail a day per user who asked for it, listing their open tasks.

Tasks that arrived in the last day come first and are marked new: a person who takes the digest gets
no letter of their own when a task arrives (only the in-app notification), so the digest is where
their mail tells of it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from engine.db import Database
from engine.models import OutboxMessage, Task, TaskStatus, User
from engine.org.regions import zone_of_viewer
from engine.org.scopes import Scope
from engine.process.notifications import Message, moscow_time, notify
from engine.timing.due import MOSCOW
from engine.timing.zones import zone

#: What the digest calls new: what arrived since the day before (the digest goes out once a day).
NEW_FOR = timedelta(days=1)


def queue_digests(db: Database, *, now: datetime | None = None, base_url: str = "") -> list[int]:
    """Queue today's digest for every user who wants one and has open tasks; once per user per day."""
    moment = now or db.now()
    day = moment.astimezone(MOSCOW).date()  # once a Moscow day: one key for everyone
    outbox_ids: list[int] = []
    with db.transaction() as session:
        users = session.scalars(select(User).where(User.wants_digest.is_(True), User.is_active.is_(True),
                                                   User.email.is_not(None)))
        for user in users:
            key = f"digest:{day.isoformat()}"
            if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"{key}:user:{user.id}")):
                continue
            tasks = list(session.scalars(select(Task).where(Task.status == TaskStatus.READY,
                                                            Scope.of(user.grants).task_filter())
                                         .order_by((Task.created_at > moment - NEW_FOR).desc(), Task.due_at)
                                         .limit(50)))
            if tasks:
                today = moment.astimezone(zone(zone_of_viewer(session, user.login))).date()
                letters = notify(session, [user], _digest(tasks, moment, today, base_url), now=moment, key=key)
                session.flush()
                outbox_ids += [letter.id for letter in letters]
    return outbox_ids


def _digest(tasks: list[Task], now: datetime, today: date, base_url: str) -> Message:
    """The letter: each deadline in its school's own time (zone named), the date in the reader's."""
    overdue = sum(1 for t in tasks if t.due_at is not None and t.due_at < now)
    new = sum(1 for t in tasks if t.created_at > now - NEW_FOR)
    lines = [_line(t, now) for t in tasks]
    body = (f"Открытых задач: {len(tasks)}, из них новых за сутки: {new}, просрочено: {overdue}.\n\n"
            + "\n".join(lines))
    return Message("digest", f"Сводка задач на {today:%d.%m.%Y}", body,
                   f"{base_url}/tasks" if base_url else None)


def _line(task: Task, now: datetime) -> str:
    mark = "• НОВАЯ: " if task.created_at > now - NEW_FOR else "• "
    late = " — ПРОСРОЧЕНО" if task.due_at is not None and task.due_at < now else ""
    due = moscow_time(task.due_at, task.school.municipality.region.time_zone)
    return f"{mark}{task.school.code} — {task.name}; срок {due}{late}"
