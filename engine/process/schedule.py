"""The deadline rows of a task, written when it opens: reminders, due, escalation steps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.bpmn.manifest import EscalationStep, ManifestSections
from engine.fast_writes import queue_row
from engine.models import Deadline, DeadlineKind, Task
from engine.timing.due import DueRule
from engine.timing.workdays import WorkCalendar


def offset(moment: datetime, rule_text: str, workdays: WorkCalendar, *, before: bool = False) -> datetime:
    """``moment`` moved by a duration or a number of working days (backwards with ``before``)."""
    rule = DueRule.parse(rule_text)
    if rule.duration is not None:
        return moment - rule.duration if before else moment + rule.duration
    assert rule.working_days is not None  # counted in the school's local dates, kept in UTC like every moment
    if before:
        return workdays.subtract_working_days(moment, rule.working_days).astimezone(UTC)
    return workdays.add_working_days(moment, rule.working_days).astimezone(UTC)


def schedule_task(session: Session, task: Task, sections: ManifestSections, workdays: WorkCalendar,
                  own_steps: tuple[EscalationStep, ...] | None = None) -> None:
    """The task's reminder, due and escalation rows (none for a task without a due time).

    ``own_steps``: the task's own escalation chain (roadmap:escalation), () for none; None: the manifest's."""
    if task.due_at is None:
        return
    # Plain rows, written by the step's ``insert_pending``: no ORM object is needed for them.
    rows: list[tuple[DeadlineKind, int, datetime, dict[str, Any] | None]] = [(DeadlineKind.DUE, 0, task.due_at, None)]
    rows += _reminders(task, sections.reminders_before, workdays)
    steps = sections.escalation_steps if own_steps is None else own_steps
    for step, escalation in enumerate(steps, start=1):
        rows.append((DeadlineKind.ESCALATION, step, offset(task.due_at, escalation.after, workdays),
                     {"levels_up": escalation.levels_up, "federal_overdue": escalation.federal_overdue}))
    for kind, step, fire_at, payload in rows:
        queue_row(session, Deadline, deadline_row(task.instance_id, task.id, kind, step, fire_at, payload))


def _reminders(task: Task, rules: tuple[str, ...], workdays: WorkCalendar) -> list[
        tuple[DeadlineKind, int, datetime, dict[str, Any] | None]]:
    """Reminders at their moments before the due time. Those whose moment has passed when the task opens (a task
    opened two days before its cohort date, reminded «5WD» before) are not dropped: the person was to be warned by
    now, so ONE of them — however many passed — comes at once, unless the task is already due at opening (then the
    due notice says it all)."""
    assert task.due_at is not None
    rows: list[tuple[DeadlineKind, int, datetime, dict[str, Any] | None]] = []
    passed: list[int] = []
    for step, rule in enumerate(rules, start=1):
        moment = offset(task.due_at, rule, workdays, before=True)
        if moment > task.created_at:
            rows.append((DeadlineKind.REMINDER, step, moment, None))
        else:
            passed.append(step)
    if passed and task.due_at > task.created_at:
        rows.append((DeadlineKind.REMINDER, min(passed), task.created_at, None))
    return rows


def deadline_row(instance_id: int, task_id: int | None, kind: DeadlineKind, step: int, fire_at: datetime,
                 payload: dict[str, Any] | None) -> dict[str, Any]:
    """A deadline row as ``queue_row`` takes it: every column a new row sets, always the same keys."""
    return {"instance_id": instance_id, "task_id": task_id, "kind": kind, "step": step, "fire_at": fire_at,
            "fired_at": None, "cancelled": False, "payload": payload}
