"""Incidents: a step of one instance that failed, recorded where admins see it, retried without stalling anyone.

Camunda's model, adapted. A failing automatic step — a timer's continuation, a gateway, a script or
decision, an engine action — is never allowed to roll back other instances' work or to block a sweep:

- the sweep acts on each deadline row in isolation (``engine.deadlines.sweep``); a row that fails is rolled
  back alone, tried again with backoff (``RETRY_BACKOFF``), and its failure is an incident here;
- a completion whose continuation fails keeps what the user submitted: the task is completed, the
  failing step is parked ready in the stored workflow (``WorkflowRun.advance_or_park``) and a ``retry``
  deadline row runs it again later (``park_step``).

One open incident per element of an instance; each new failure of the same step adds a try. It is
resolved when the step goes through — by an automatic retry, by an admin's retry (``deadlines.retry_incident``,
audited), or after the instance was migrated to a fixed template version and retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import audit, labels
from engine.actors import Who
from engine.db import Database
from engine.errors import EngineError, IncidentNotFound, WorkflowFailed
from engine.models import (
    Deadline,
    DeadlineKind,
    Incident,
    ProcessInstance,
    School,
    TemplateVersion,
)
from engine.org.core import operator_or_admin

log = logging.getLogger(__name__)

#: Waits before the automatic tries that follow a failure: the first retry a minute later (a lock or a
#: restart passes), then ten minutes, then an hour; a step failing that often is waiting for a fix, and
#: only a person's retry tries it again (Camunda's default is likewise three retries).
RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1))


def next_try(attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed tries, or None once the automatic tries are spent."""
    return now + RETRY_BACKOFF[attempts - 1] if attempts <= len(RETRY_BACKOFF) else None


def describe(err: BaseException) -> str:
    """An admin's words for a failure: the engine's own message, or what kind of fault it was."""
    if isinstance(err, EngineError):
        return err.message
    log.error("incident: unexpected failure", exc_info=err)
    return f"внутренняя ошибка ({type(err).__name__}): {err}"[:2000]


@dataclass(frozen=True)
class FailedStep:
    element_id: str
    element_name: str
    error: str

    @classmethod
    def of(cls, err: BaseException, element_id: str, element_name: str) -> FailedStep:
        """The element the error names (a workflow failure knows it), else the one the caller was acting on."""
        if isinstance(err, WorkflowFailed) and err.element_id:
            return cls(err.element_id, err.element_name or err.element_id, describe(err))
        return cls(element_id, element_name, describe(err))


def record_failure(session: Session, instance_id: int, step: FailedStep, *, trigger: str, now: datetime,
                   deadline_id: int | None, next_retry_at: datetime | None) -> Incident:
    """Open an incident on the failing element, or add a try to the one already open there."""
    if deadline_id is not None:
        # The same retry now fails further on: the step it was about went through.
        session.execute(update(Incident).where(
            Incident.deadline_id == deadline_id, Incident.resolved_at.is_(None),
            Incident.element_id != step.element_id[:255]).values(resolved_at=now, resolution="passed")
            .execution_options(synchronize_session=False))
    incident = session.scalar(select(Incident).where(
        Incident.instance_id == instance_id, Incident.element_id == step.element_id[:255],
        Incident.resolved_at.is_(None)).with_for_update())
    if incident is None:
        incident = Incident(instance_id=instance_id, element_id=step.element_id[:255],
                            element_name=step.element_name[:500], trigger=trigger, error=step.error, tries=1,
                            created_at=now, last_failed_at=now, next_retry_at=next_retry_at,
                            deadline_id=deadline_id)
        session.add(incident)
        session.flush()
        audit.record(session, now, "incident.opened", instance_id=instance_id, incident_id=incident.id,
                     element=incident.element_id, error=step.error, trigger=trigger)
        return incident
    incident.tries += 1
    incident.error, incident.last_failed_at, incident.next_retry_at = step.error, now, next_retry_at
    if deadline_id is not None:
        incident.deadline_id = deadline_id
    return incident


def park_step(session: Session, instance: ProcessInstance, failure: WorkflowFailed, now: datetime) -> Incident:
    """A completion went through but the step after it failed: record the incident and, unless a retry
    of it is already waiting, a ``retry`` deadline row that runs the parked step again."""
    step = FailedStep.of(failure, "", "")
    open_incident = session.scalar(select(Incident).where(
        Incident.instance_id == instance.id, Incident.element_id == step.element_id[:255],
        Incident.resolved_at.is_(None)))
    waiting = None
    if open_incident is not None and open_incident.deadline_id is not None:
        waiting = session.scalar(select(Deadline).where(Deadline.id == open_incident.deadline_id,
                                                        Deadline.fired_at.is_(None)))
    if waiting is None:
        waiting = Deadline(instance_id=instance.id, task_id=None, kind=DeadlineKind.RETRY, step=0,
                           fire_at=now + RETRY_BACKOFF[0], fired_at=None, cancelled=False,
                           payload={"element": step.element_id, "name": step.element_name})
        session.add(waiting)
        session.flush()
    return record_failure(session, instance.id, step, trigger="completion", now=now, deadline_id=waiting.id,
                          next_retry_at=waiting.fire_at)


def resolve_for_deadline(session: Session, deadline_id: int, now: datetime, *, actor_id: int | None) -> int:
    """The step behind this deadline row went through: its open incidents are resolved."""
    resolution = "retried" if actor_id is not None else "automatic"
    rows = session.execute(update(Incident).where(Incident.deadline_id == deadline_id, Incident.resolved_at.is_(None))
                           .values(resolved_at=now, resolved_by_id=actor_id, resolution=resolution,
                                   next_retry_at=None)
                           .returning(Incident.id, Incident.instance_id, Incident.element_id)
                           .execution_options(synchronize_session=False)).all()
    for incident_id, instance_id, element in rows:
        audit.record(session, now, "incident.resolved", actor_id=actor_id, instance_id=instance_id,
                     incident_id=incident_id, element=element, resolution=resolution)
    return len(rows)


@dataclass(frozen=True)
class IncidentView:
    id: int
    instance_id: int
    school_code: str
    school_name: str
    template_key: str
    template_version: int
    element_id: str
    element_name: str
    trigger: str
    error: str
    tries: int
    created_at: datetime
    last_failed_at: datetime
    next_retry_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None

    @classmethod
    def from_row(cls, row: Any) -> IncidentView:
        """From a row of ``_VIEW``, whose columns are this class's fields in order."""
        return cls(*row)

    @property
    def trigger_words(self) -> str:
        return labels.INCIDENT_TRIGGERS.get(self.trigger, self.trigger)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "instance_id": self.instance_id, "school": self.school_code,
            "school_name": self.school_name, "template": self.template_key,
            "template_version": self.template_version, "element_id": self.element_id,
            "element_name": self.element_name, "trigger": self.trigger, "error": self.error,
            "tries": self.tries, "created_at": self.created_at.isoformat(),
            "last_failed_at": self.last_failed_at.isoformat(),
            "next_retry_at": self.next_retry_at.isoformat() if self.next_retry_at else None,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolution": self.resolution,
        }


_VIEW = (select(Incident.id, Incident.instance_id, School.code, School.name, TemplateVersion.key,
                TemplateVersion.version, Incident.element_id, Incident.element_name, Incident.trigger,
                Incident.error, Incident.tries, Incident.created_at, Incident.last_failed_at,
                Incident.next_retry_at, Incident.resolved_at, Incident.resolution)
         .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
         .join(School, School.id == ProcessInstance.school_id)
         .join(TemplateVersion, TemplateVersion.id == ProcessInstance.template_version_id))

ADMINS_ONLY = "инциденты видят и повторяют только администраторы"


def _authorize(session: Session, actor: Who) -> int | None:
    """Admins, or the operator at the command line; returns the acting user's id (None for the operator)."""
    return operator_or_admin(session, actor, ADMINS_ONLY)


def list_incidents(db: Database, *, actor: Who, include_resolved: bool = False, school: str | None = None,
                   limit: int = 500) -> list[IncidentView]:
    """Incidents, newest first (open ones only unless asked)."""
    with db.reading() as session:
        _authorize(session, actor)
        query = _VIEW
        if not include_resolved:
            query = query.where(Incident.resolved_at.is_(None))
        if school:
            query = query.where(School.code == school)
        rows = session.execute(query.order_by(Incident.resolved_at.is_not(None), Incident.id.desc()).limit(limit))
        return [IncidentView.from_row(row) for row in rows]


def get_incident(db: Database, incident_id: int, *, actor: Who) -> IncidentView:
    with db.reading() as session:
        _authorize(session, actor)
        return incident_view(session, incident_id)


def incident_view(session: Session, incident_id: int) -> IncidentView:
    row = session.execute(_VIEW.where(Incident.id == incident_id)).first()
    if row is None:
        raise IncidentNotFound(f"инцидент {incident_id} не найден")
    return IncidentView.from_row(row)


def open_count(session: Session) -> int:
    """Open incidents in the whole system: the admins' header badge."""
    return session.scalar(select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None))) or 0


def open_elements(session: Session, instance_id: int) -> list[IncidentView]:
    """The instance's open incidents, for its page (the diagram marks their elements)."""
    rows = session.execute(_VIEW.where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
                           .order_by(Incident.id))
    return [IncidentView.from_row(row) for row in rows]
