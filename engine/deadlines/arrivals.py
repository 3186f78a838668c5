"""Arrivals: a task that has just opened is told to its people — one notification per person, however
many tasks arrived for them at once.

The step that opens a task (a completion, a start, a timer) writes one ``arrival`` deadline row due at
once, in the INSERT it makes for the task's other deadline rows anyway; the sweep claims arrival rows
like any other, exactly once, and hands them here a batch at a time. Grouping per person is what keeps
a cohort start of forty schools from telling the regional coordinator forty times: one notification
lists the forty tasks. A person who takes the daily digest hears in the app only; the digest's letter
lists the new tasks (``engine.deadlines.digests``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engine.models import OutboxMessage, Task, User
from engine.process.notifications import Message, moscow_time, notify, task_link

#: Tasks a notification of many names one by one; the rest are counted (the inbox lists them all).
LISTED = 20
#: Schools a title of many tasks names by code.
TITLE_SCHOOLS = 3


@dataclass(frozen=True)
class Arrived:
    """One claimed arrival row: its open task and who is to hear of it."""

    row_id: int
    task: Task
    recipients: list[User]


def announce(session: Session, arrived: list[Arrived], *, now: datetime, base_url: str) -> list[OutboxMessage]:
    """One notification (and letter, unless the digest covers it) per person for everything in ``arrived``.

    A letter's dedupe key is the person's first arrival row of the group: rows are claimed once, so no
    two groups share it, and no group can queue a person's letter twice."""
    per_user: dict[int, tuple[User, list[Task], int]] = {}
    for item in arrived:
        for user in item.recipients:
            per_user.setdefault(user.id, (user, [], item.row_id))[1].append(item.task)
    letters: list[OutboxMessage] = []
    for user, tasks, first_row in per_user.values():
        letters += notify(session, [user], arrival_message(tasks, base_url), now=now, key=f"arrival:{first_row}",
                          task_id=tasks[0].id if len(tasks) == 1 else None, digest_covers=True)
    return letters


def arrival_message(tasks: list[Task], base_url: str) -> Message:
    """«Новая задача …» for one task (linked to it); a list linked to the inbox for several."""
    if len(tasks) == 1:
        [task] = tasks
        school = _school(task)
        return Message("arrival", f"Новая задача «{task.name}»: {school}",
                       f"Школа: {school}.\nПоступила задача «{task.name}»; срок — {moscow_time(task.due_at)}.",
                       task_link(base_url, task))
    ordered = sorted(tasks, key=lambda t: (t.school.code, t.due_at is None, t.due_at, t.id))
    lines = [f"• {_school(t)} — «{t.name}»; срок {moscow_time(t.due_at)}" for t in ordered[:LISTED]]
    if len(ordered) > LISTED:
        lines.append(f"… и ещё {len(ordered) - LISTED}.")
    # The schools in the title: two notifications (and letters) of new tasks to one person tell them apart.
    codes = list(dict.fromkeys(t.school.code for t in ordered))
    schools = ", ".join(codes[:TITLE_SCHOOLS]) + (" и др." if len(codes) > TITLE_SCHOOLS else "")
    return Message("arrival", f"Новые задачи: {len(tasks)} — {schools}",
                   f"Поступили новые задачи — {len(tasks)}:\n\n" + "\n".join(lines), f"{base_url}/tasks")


def _school(task: Task) -> str:
    return f"{task.school.name} ({task.school.code})"
