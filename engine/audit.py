"""The append-only audit log: one record per state change, written in the change's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.fast_writes import queue_row
from engine.models import AuditRecord


def record(session: Session, at: datetime, action: str, *, actor_id: int | None = None,
           instance_id: int | None = None, task_id: int | None = None,
           template_version_id: int | None = None, **details: Any) -> AuditRecord:
    entry = AuditRecord(at=at, action=action, actor_id=actor_id, instance_id=instance_id,
                        task_id=task_id, template_version_id=template_version_id, details=details)
    session.add(entry)
    return entry


def queue(session: Session, at: datetime, action: str, *, actor_id: int | None = None,
          instance_id: int | None = None, task_id: int | None = None,
          template_version_id: int | None = None, **details: Any) -> None:
    """``record`` without the ORM object, for the steps of a workflow: the row goes in with the step's
    ``insert_pending`` (and in the order queued, after records of objects flushed before)."""
    queue_row(session, AuditRecord, {"at": at, "action": action, "actor_id": actor_id, "instance_id": instance_id,
                                     "task_id": task_id, "template_version_id": template_version_id,
                                     "details": details})


def instance_history(session: Session, instance_id: int) -> list[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.instance_id == instance_id).order_by(AuditRecord.id)
    return list(session.scalars(query))
