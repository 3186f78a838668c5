"""Tables of the engine (SQLAlchemy 2 typed models), the same on PostgreSQL and SQLite.

Invariants live in the schema where a database can hold them: unique codes, one scope column per
role grant, one task row per Spiff task, an append-only audit log (a trigger refuses UPDATE/DELETE,
see the migration).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from engine.roles import Role

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite so autoincrement works there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored by value as plain strings: readable in SQL, and new values need no ALTER TYPE.
    return Enum(cls, name=name, native_enum=False, length=32,
                values_callable=lambda members: [m.value for m in members], validate_strings=True)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both databases (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the engine stores only aware (UTC) moments")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UtcDateTime}


class Region(Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # IANA name (engine/timing/zones.py): the region's schools count deadlines and working days in it.
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow",
                                           server_default=text("'Europe/Moscow'"))


class Municipality(Base):
    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)

    region: Mapped[Region] = relationship()


class School(Base):
    __tablename__ = "school"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    # Denormalized from the municipality: scope filters on region must not need a join.
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    # Set when the school was merged into another (engine/process/batches.py ``merge_schools``): its
    # withdrawn roadmap and history stay under its own code; its people reach the surviving school.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"))

    municipality: Mapped[Municipality] = relationship()


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    wants_digest: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    grants: Mapped[list[RoleGrant]] = relationship(back_populates="user", lazy="selectin")


class RoleGrant(Base):
    """A role held on one scope. Which scope column is set follows from the role (CHECK below)."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint(
            "(role IN ('school', 'curator') AND school_id IS NOT NULL"
            " AND municipality_id IS NULL AND region_id IS NULL)"
            " OR (role = 'municipal_coordinator' AND municipality_id IS NOT NULL"
            " AND school_id IS NULL AND region_id IS NULL)"
            " OR (role = 'regional_coordinator' AND region_id IS NOT NULL"
            " AND school_id IS NULL AND municipality_id IS NULL)"
            " OR (role IN ('federal', 'admin') AND school_id IS NULL"
            " AND municipality_id IS NULL AND region_id IS NULL)",
            name="scope_matches_role",
        ),
        UniqueConstraint("user_id", "role", "school_id", "municipality_id", "region_id",
                         name="uq_role_grant"),
        Index("ix_role_grant_scope", "role", "school_id", "municipality_id", "region_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))

    user: Mapped[User] = relationship(back_populates="grants")


class CuratorPoolEntry(Base):
    """A user put into a region's pool of curator candidates by an admin or the region's coordinator.

    Deliberately not a ``RoleGrant``: a curator grant is a scope (engine/org/scopes.py), and one on a whole
    region would open every school of it. A pool entry gives access to nothing; it only lets
    ``bind_curator`` bind the user as some school's curator, which then grants that one school."""

    __tablename__ = "curator_pool"
    __table_args__ = (UniqueConstraint("region_id", "user_id", name="uq_curator_pool"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    added_at: Mapped[datetime]


class TemplateStatus(enum.StrEnum):
    DEPLOYED = "deployed"
    RETIRED = "retired"


class TemplateVersion(Base):
    """An immutable deployed version of a template; instances keep the version they started on."""

    __tablename__ = "template_version"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_template_key_version"),
        UniqueConstraint("key", "content_hash", name="uq_template_key_content"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[TemplateStatus] = mapped_column(_enum(TemplateStatus, "template_status"),
                                                   default=TemplateStatus.DEPLOYED)
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    deployed_at: Mapped[datetime]
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    files: Mapped[list[TemplateFile]] = relationship(back_populates="template_version",
                                                     order_by="TemplateFile.path")


class TemplateFile(Base):
    __tablename__ = "template_file"
    __table_args__ = (UniqueConstraint("template_version_id", "path", name="uq_template_file_path"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_version.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))

    template_version: Mapped[TemplateVersion] = relationship(back_populates="files")


class TemplateDraft(Base):
    """The one editable working copy of a template, beside its immutable versions. It may be invalid:
    an admin's unfinished work is kept, and only a valid draft can be deployed (it then goes away)."""

    __tablename__ = "template_draft"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("template_version.id"))
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    files: Mapped[list[TemplateDraftFile]] = relationship(back_populates="draft", order_by="TemplateDraftFile.path",
                                                          cascade="all, delete-orphan")
    base_version: Mapped[TemplateVersion | None] = relationship()


class TemplateDraftFile(Base):
    __tablename__ = "template_draft_file"
    __table_args__ = (UniqueConstraint("draft_id", "path", name="uq_template_draft_file_path"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("template_draft.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    draft: Mapped[TemplateDraft] = relationship(back_populates="files")


class Cohort(Base):
    """One project year. Its calendar dates override the template's defaults (e.g. questionnaires close
    1 March): ``dates`` maps a calendar name to an ISO date."""

    __tablename__ = "cohort"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(255))
    dates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InstanceStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    # Withdrawn from the project (engine/process/management.py): its open tasks were cancelled, its
    # deadlines stopped; reports keep the school, as withdrawn.
    CANCELLED = "cancelled"


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_school_status", "school_id", "status"),
        # One roadmap per school per project year (instances without a cohort are ad hoc).
        UniqueConstraint("school_id", "cohort_id", name="uq_instance_school_cohort"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_version.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohort.id"), index=True)
    status: Mapped[InstanceStatus] = mapped_column(_enum(InstanceStatus, "instance_status"))
    current_stage: Mapped[str | None] = mapped_column(String(64))
    workflow_json: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(32))
    # Optimistic lock: every UPDATE checks and bumps it (SQLAlchemy version_id_col).
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    completed_at: Mapped[datetime | None]
    # Set while the roadmap is suspended: the sweep holds its deadline rows and its tasks cannot be
    # completed; on resume its deadlines shift by the working days since this moment.
    suspended_at: Mapped[datetime | None]

    template_version: Mapped[TemplateVersion] = relationship()
    school: Mapped[School] = relationship()
    cohort: Mapped[Cohort | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class TaskStatus(enum.StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Task(Base):
    """The mirror of one user task: what inboxes, dashboards and reports read, never the JSON."""

    __tablename__ = "task"
    __table_args__ = (
        # A list's scope, then its default order (due_at NULLS LAST, id): a page of the nearest deadlines is
        # the first entries of the index, however many open tasks the scope holds (engine/process/task_pages.py).
        Index("ix_task_open_school", "status", "role", "school_id", "due_at", "id"),
        Index("ix_task_open_municipality", "status", "role", "municipality_id", "due_at", "id"),
        Index("ix_task_open_region", "status", "role", "region_id", "due_at", "id"),
        Index("ix_task_assignee", "assignee_id", "status"),
        Index("ix_task_instance", "instance_id", "status"),
        CheckConstraint("escalation_level >= 0", name="escalation_level_non_negative"),
        CheckConstraint("(status = 'completed') = (completed_at IS NOT NULL)", name="completed_has_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500))
    stage: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    form_key: Mapped[str] = mapped_column(String(128))
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus, "task_status"))
    due_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # Set by the last escalation step: the federal level sees the task as overdue.
    federal_overdue: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    instance: Mapped[ProcessInstance] = relationship()
    school: Mapped[School] = relationship()


class DeadlineKind(enum.StrEnum):
    REMINDER = "reminder"
    DUE = "due"
    ESCALATION = "escalation"
    TIMER = "timer"
    RETRY = "retry"  # the next try of a step that failed after a completion (an incident's continuation)
    # A task has just opened: its people hear of it. Due at once; the sweep groups a batch's arrivals per
    # person (one notification for forty tasks), so the step that opened it writes one row and no more.
    ARRIVAL = "arrival"


class Deadline(Base):
    """A future moment the system must act on; the sweep takes rows whose ``fire_at`` has passed."""

    __tablename__ = "deadline"
    __table_args__ = (
        # Only unfired rows are ever swept, so the index holds only them (partial on both databases).
        Index("ix_deadline_due", "fire_at", postgresql_where=text("fired_at IS NULL"),
              sqlite_where=text("fired_at IS NULL")),
        Index("ix_deadline_task", "task_id"),
        # Most rows are a task's: the measure and visit indexes hold only rows that have one.
        Index("ix_deadline_measure", "measure_id", postgresql_where=text("measure_id IS NOT NULL"),
              sqlite_where=text("measure_id IS NOT NULL")),
        Index("ix_deadline_visit", "visit_id", postgresql_where=text("visit_id IS NOT NULL"),
              sqlite_where=text("visit_id IS NOT NULL")),
        CheckConstraint("step >= 0", name="step_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    # A measure's reminder, due or escalation row (engine/process/measures.py); task_id is then NULL.
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measure.id", ondelete="CASCADE"))
    # A planned curator visit's reminder or escalation row (engine/process/visits.py); task_id is then NULL.
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("planned_visit.id", ondelete="CASCADE"))
    kind: Mapped[DeadlineKind] = mapped_column(_enum(DeadlineKind, "deadline_kind"))
    step: Mapped[int] = mapped_column(Integer, default=0)
    fire_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    cancelled: Mapped[bool] = mapped_column(default=False)
    # None is SQL NULL, and every row carries the column: a flush then writes a task's due, reminder
    # and escalation rows (only the latter have a payload) in one INSERT instead of one per run of rows.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Failed tries of acting on this row (the sweep retries with backoff, then leaves it to an incident).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("payload", None)
        super().__init__(**kwargs)


class Incident(Base):
    """A step of one instance that failed (a timer's continuation, a gateway, a script or decision, an
    engine action) and waits for a retry — automatic with backoff, then an admin's. The work around it
    goes on; the instance keeps the state from before the failing step.

    One open incident per element of an instance: the same step failing again adds a try to it."""

    __tablename__ = "incident"
    __table_args__ = (
        Index("uq_incident_open_element", "instance_id", "element_id", unique=True,
              postgresql_where=text("resolved_at IS NULL"), sqlite_where=text("resolved_at IS NULL")),
        Index("ix_incident_open", "created_at", postgresql_where=text("resolved_at IS NULL"),
              sqlite_where=text("resolved_at IS NULL")),
        Index("ix_incident_deadline", "deadline_id"),
        CheckConstraint("tries >= 1", name="incident_tries_positive"),
        CheckConstraint("(resolved_at IS NULL) = (resolution IS NULL)", name="incident_resolved_with_reason"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    # The deadline row whose firing retries the step (a timer's own row, or a retry row after a completion).
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadline.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(32))  # completion, timer, retry, reminder, due, escalation
    element_id: Mapped[str] = mapped_column(String(255))
    element_name: Mapped[str] = mapped_column(String(500))
    error: Mapped[str] = mapped_column(Text)
    tries: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    next_retry_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    resolution: Mapped[str | None] = mapped_column(String(32))  # retried (by a person), automatic, passed

    instance: Mapped[ProcessInstance] = relationship()


class AuditRecord(Base):
    """Append-only: every state change writes one row in the same transaction as the change."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_instance", "instance_id", "id"),
        Index("ix_audit_at", "at"),
        # The template workspace reads a template's history by action.
        Index("ix_audit_action", "action", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    template_version_id: Mapped[int | None] = mapped_column(ForeignKey("template_version.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class QuestionnaireResponse(Base):
    """One respondent's answers. Anonymous groups keep only a hash of the respondent's link token,
    which is what makes "one response per respondent" enforceable without knowing who answered."""

    __tablename__ = "questionnaire_response"
    __table_args__ = (
        UniqueConstraint("instance_id", "group", "respondent_key", name="uq_response_respondent"),
        Index("ix_response_instance_group", "instance_id", "group"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    group: Mapped[str] = mapped_column(String(32))
    respondent_key: Mapped[str] = mapped_column(String(80))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[datetime]


class CalendarOverride(Base):
    """An admin's correction of the production calendar for one day (a transferred working Saturday,
    a regional holiday); it wins over the built-in Russian calendar."""

    __tablename__ = "calendar_override"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working_day: Mapped[bool]
    note: Mapped[str] = mapped_column(String(255), default="")
    changed_at: Mapped[datetime]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Notification(Base):
    """An in-app notification: written in the same transaction as the event, so it is never lost."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    read_at: Mapped[datetime | None]


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; an operator can requeue


class OutboxMessage(Base):
    """An e-mail waiting to go out. Written with the event; delivered by a job that claims it first
    (pending → sending), so two deliveries of one message cannot both send it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    to_address: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class SignInAttempt(Base):
    """Sign-in attempts, for the rate limit (and for admins to see who is knocking)."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (Index("ix_sign_in_login_at", "login", "at"), Index("ix_sign_in_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    succeeded: Mapped[bool]


class Throttle(Base):
    """A rate limit's count for one key: failed sign-ins of a login from an address, or of an address, or
    unknown questionnaire links asked for by an address (``scope`` says which). One row per key, locked
    while it is read and changed, so parallel requests are counted one after another (engine/org/throttle.py)."""

    __tablename__ = "throttle"
    __table_args__ = (CheckConstraint("failures >= 0 AND strikes >= 0", name="ck_throttle_counts"),)

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int]
    window_start: Mapped[datetime]
    #: Lock-outs so far; each one lasts twice as long as the one before.
    strikes: Mapped[int]
    locked_until: Mapped[datetime | None]


class UserSession(Base):
    """A signed-in browser. Its cookie carries the token, the table only the token's hash; signing out, a
    password change and an admin's reset delete rows, and a copied cookie stops working with them."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class Attachment(Base):
    """A document uploaded for a form field of a task. Every upload is a new version: a school's
    concept returned for rework keeps the version the curator reviewed."""

    __tablename__ = "attachment"
    __table_args__ = (
        UniqueConstraint("instance_id", "element_id", "field_key", "version", name="uq_attachment_version"),
        Index("ix_attachment_task", "task_id"),
        CheckConstraint("size > 0", name="attachment_not_empty"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    element_id: Mapped[str] = mapped_column(String(255))
    field_key: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class RespondentLink(Base):
    """A personal questionnaire link for one anonymous respondent; only the token's hash is kept."""

    __tablename__ = "respondent_link"
    __table_args__ = (Index("ix_respondent_link_instance_group", "instance_id", "group"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    group: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    used_at: Mapped[datetime | None]


class ApiToken(Base):
    """A personal API token: only its hash is stored; the token itself is shown once, when created."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class MigrationRunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"  # every candidate was tried; some may have failed (see the counters and results)
    FAILED = "failed"  # the run itself could not go on (e.g. the target version disappeared)


class MigrationRun(Base):
    """One bulk move of a template's running instances from one version to another.

    Each instance moves in its own transaction, which also bumps the counters, adds the instance's
    result and the ``heartbeat_at`` here, so a page polling the row sees progress while the run goes on,
    and a run whose heartbeat stopped (its worker was killed) is seen as interrupted and can be resumed.
    ``resumes`` counts the runners it has had: a runner that finds a higher number than its own stops."""

    __tablename__ = "migration_run"
    __table_args__ = (
        Index("ix_migration_run_key", "template_key", "id"),
        CheckConstraint("moved >= 0 AND failed >= 0 AND total >= 0", name="migration_counts_non_negative"),
        CheckConstraint("moved + failed <= total", name="migration_counts_within_total"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    template_key: Mapped[str] = mapped_column(String(64))
    from_version_id: Mapped[int] = mapped_column(ForeignKey("template_version.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("template_version.id"))
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[MigrationRunStatus] = mapped_column(_enum(MigrationRunStatus, "migration_run_status"),
                                                      default=MigrationRunStatus.PENDING)
    total: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Instance id (as text) → school, tasks, can_move, reasons, outcome.
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    resumes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    from_version: Mapped[TemplateVersion] = relationship(foreign_keys=[from_version_id])
    to_version: Mapped[TemplateVersion] = relationship(foreign_keys=[to_version_id])


class BatchRunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"  # every school was tried; some may have been refused (see the items)
    FAILED = "failed"  # the run itself could not go on


class BatchRun(Base):
    """One operation (withdraw, suspend, …) on a selection of schools' roadmaps (engine/process/batches.py).

    The schools are fixed when the run is recorded (``batch_item`` rows, pending): what the person confirmed
    is what runs. Each school is acted on in its own transaction, which also settles its item and bumps the
    counters and ``heartbeat_at`` here — the migration runs' model: progress is visible, one school's failure
    stays its own, and a run whose heartbeat stopped is interrupted and can be resumed (``resumes`` numbers
    its runners; one that finds a higher number stops)."""

    __tablename__ = "batch_run"
    __table_args__ = (
        CheckConstraint("done >= 0 AND failed >= 0 AND done + failed <= total", name="batch_counts_within_total"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operation: Mapped[str] = mapped_column(String(32))
    # The operation's own inputs (reason, comment, curator, step, municipality) and the filter it came from.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[BatchRunStatus] = mapped_column(_enum(BatchRunStatus, "batch_run_status"),
                                                   default=BatchRunStatus.PENDING)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    resumes: Mapped[int] = mapped_column(Integer, default=0)

    created_by: Mapped[User | None] = relationship()


class BatchItem(Base):
    """One school of a batch run: pending until its transaction settles it as done or failed (with the
    engine's message); in a dry run, ``done`` means «будет сделано» and ``failed`` «откажет»."""

    __tablename__ = "batch_item"
    __table_args__ = (UniqueConstraint("run_id", "school_id", name="uq_batch_item_school"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("batch_run.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    school_code: Mapped[str] = mapped_column(String(32))
    school_name: Mapped[str] = mapped_column(String(500))
    stage: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    message: Mapped[str] = mapped_column(Text, default="")
    settled_at: Mapped[datetime | None]


class Measure(Base):
    """One measure of a school's roadmap, planned in the template's measures task (engine/process/measures.py).

    ``key`` is stable across a rework of the plan (the normalised title), so a plan submitted again updates
    its measures instead of doubling them; ``status`` is one of the template's measure statuses (template data,
    not an enum). A measure dropped from a reworked plan is withdrawn, not deleted: its history stays."""

    __tablename__ = "measure"
    __table_args__ = (
        UniqueConstraint("instance_id", "key", name="uq_measure_key"),
        Index("ix_measure_school", "school_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(500))
    direction: Mapped[str | None] = mapped_column(String(64))
    due_date: Mapped[date]
    responsible: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    # The local date the measure reached a «done» status: on time when not after ``due_date``.
    done_on: Mapped[date | None]
    # [{"link": …, "note": …, "at": ISO moment, "by": login}], newest last.
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    accepted_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # Added on the measures page after the plan, not in the planning task's list: a rework of the plan keeps it.
    added_later: Mapped[bool] = mapped_column(default=False)
    # An addition waiting for the curator's agreement: not counted and not reminded until agreed.
    proposed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MeasureChange(Base):
    """The history of a measure: who changed what, when and why (append-only by the services)."""

    __tablename__ = "measure_change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # planned, changed, status, rescheduled, evidence, accepted, returned, withdrawn
    what: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)


class VisitStatus(enum.StrEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class PlannedVisit(Base):
    """A curator's visit to a school, planned by the municipal (or regional) coordinator on a date
    (engine/process/visits.py). The curator is reminded before it and, not done, it is escalated; the
    curator's visit report links to it (``report_task_id``, ``visited_on``). Moves keep their history
    (``history``: [{"at", "by", "from", "to", "reason"}]); a cancelled visit stays with its reason."""

    __tablename__ = "planned_visit"
    __table_args__ = (Index("ix_planned_visit_school", "school_id", "planned_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    planned_on: Mapped[date]
    status: Mapped[VisitStatus] = mapped_column(_enum(VisitStatus, "visit_status"))
    note: Mapped[str] = mapped_column(String(1000), default="")
    visited_on: Mapped[date | None]
    report_task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
class ReportTemplate(Base):
    """An admin's replacement of a report's DOCX template (engine/process/report_docx.py); none: the default."""

    __tablename__ = "report_template"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)  # school_report
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
class Event(Base):
    """Something integrators are told of (a task ready, completed, overdue, escalated; a stage changed; a
    roadmap completed), written in the same transaction as the change (engine/process/events.py). The
    fan-out turns each undispatched event into one delivery per matching subscriber; old events are pruned."""

    __tablename__ = "event"
    __table_args__ = (
        # The fan-out reads only undispatched events: the index holds only them (partial on both databases).
        Index("ix_event_undispatched", "id", postgresql_where=text("dispatched_at IS NULL"),
              sqlite_where=text("dispatched_at IS NULL")),
        Index("ix_event_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # What receivers dedupe by (``X-Roadmap-Event-Id``): the same on every attempt and every subscriber.
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dispatched_at: Mapped[datetime | None]


class Webhook(Base):
    """A subscriber: where events of the chosen types are POSTed, signed with its secret."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    # A new subscriber hears of what happens after it subscribed, not of the whole stored history.
    after_event_id: Mapped[int] = mapped_column(BigInteger, default=0)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    DEAD = "dead"


class WebhookDelivery(Base):
    """One event for one subscriber: claimed (pending → sending, with a lease) by the job that POSTs it, so it
    is never sent twice at once; retried with backoff; dead after ``MAX_ATTEMPTS``. ``attempt_log`` holds each
    try (time, status code, error, duration)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_delivery_webhook_event"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"),
                                                   default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class TemplateSimulation(Base):
    """An admin's trial run of a template's draft (engine/process/simulation.py): only what the admin chose
    and filled in — the made-up school's region, the start, the simulated clock, the forms in order. The
    run itself is replayed from these in a transaction that is always rolled back, so nothing a real
    roadmap would write (instances, tasks, deadlines, notifications, audit) is ever stored; this row is the
    whole trace a simulation leaves. One per admin and template: «Начать заново» overwrites it."""

    __tablename__ = "template_simulation"
    __table_args__ = (UniqueConstraint("user_id", "template_key", name="uq_simulation_user_template"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    template_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]
