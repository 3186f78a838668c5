"""Events for integrators: an outbox written in the same transaction as the change that causes them.

A step queues its event rows with its other write-only rows (``queue_row``), so they go in with the step's
one ``insert_pending``: one more INSERT per step, never a round trip per event (``bench/event_cost.py``).
A rolled-back step writes none. The fan-out (engine/process/webhooks.py) turns each into deliveries later,
so telling integrators can neither slow nor fail the user's request.

Types and their payload (every payload: ``school`` code and name, ``instance_id``):

- ``task.ready`` — a user task opened (``task``: id, name, element, stage, role, due_at);
- ``task.completed`` — a user completed it (``task`` as above, ``completed_by`` login);
- ``task.overdue`` — its due time came and it is not done (``task``);
- ``task.escalated`` — an escalation step fired (``task``, ``level``, ``notified_role``);
- ``stage.changed`` — the roadmap's current stage changed (``stage``, ``previous_stage``; at start the first);
- ``instance.completed`` — the roadmap completed (``stage``: its last).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.fast_writes import queue_row
from engine.models import Event, ProcessInstance, School, Task

TASK_READY = "task.ready"
TASK_COMPLETED = "task.completed"
TASK_OVERDUE = "task.overdue"
TASK_ESCALATED = "task.escalated"
STAGE_CHANGED = "stage.changed"
INSTANCE_COMPLETED = "instance.completed"
#: What a subscriber may ask for, in the order forms list them.
TYPES = (TASK_READY, TASK_COMPLETED, TASK_OVERDUE, TASK_ESCALATED, STAGE_CHANGED, INSTANCE_COMPLETED)
#: Sent to one subscriber on request (the admin page's «отправить тестовое событие»), never fanned out.
TEST = "webhook.test"


def emit(session: Session, type_: str, now: datetime, payload: dict[str, Any]) -> None:
    """Queue one event row; it is written with the step's other rows, or dropped with its rollback."""
    queue_row(session, Event, {"uid": str(uuid.uuid4()), "type": type_, "created_at": now, "payload": payload,
                               "dispatched_at": None})


def task_event(session: Session, type_: str, task: Task, school: School, now: datetime, **extra: Any) -> None:
    """An event about one task of a roadmap (the school passed in: callers have it loaded already)."""
    emit(session, type_, now, {"instance_id": task.instance_id, "school": {"code": school.code, "name": school.name},
                               "task": task_fields(task), **extra})


def task_fields(task: Task) -> dict[str, Any]:
    return {"id": task.id, "name": task.name, "element": task.element_id, "stage": task.stage,
            "role": task.role.value, "due_at": task.due_at.isoformat() if task.due_at else None}


def stage_changed(session: Session, instance: ProcessInstance, previous: str | None, now: datetime) -> None:
    emit(session, STAGE_CHANGED, now, {**_roadmap(instance), "stage": instance.current_stage,
                                       "previous_stage": previous})


def instance_completed(session: Session, instance: ProcessInstance, now: datetime) -> None:
    emit(session, INSTANCE_COMPLETED, now, {**_roadmap(instance), "stage": instance.current_stage})


def _roadmap(instance: ProcessInstance) -> dict[str, Any]:
    return {"instance_id": instance.id, "school": {"code": instance.school.code, "name": instance.school.name}}
