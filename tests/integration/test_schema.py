"""The schema as migrated equals the models, on both databases, and keeps its invariants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import exc, select, update

from engine.db import Database, upgrade_schema
from engine.models import AuditRecord, Base, RoleGrant, User
from engine.roles import Role


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent(db: Database) -> None:
    upgrade_schema(db)
    upgrade_schema(db)


def test_audit_log_is_append_only(db: Database) -> None:
    with db.transaction() as session:
        entry = AuditRecord(at=datetime.now(UTC), action="test.appended", details={"n": 1})
        session.add(entry)
    for statement in (update(AuditRecord).where(AuditRecord.id == entry.id).values(action="forged"),
                      AuditRecord.__table__.delete().where(AuditRecord.id == entry.id)):
        with pytest.raises(exc.DatabaseError, match="append-only"), db.transaction() as session:
            session.execute(statement)
    with db.reading() as session:
        assert session.scalar(select(AuditRecord.action).where(AuditRecord.id == entry.id)) == "test.appended"


def test_role_grant_scope_must_match_the_role(db: Database) -> None:
    with db.transaction() as session:
        user = User(login=f"grant-check-{datetime.now(UTC).timestamp()}", full_name="Проверка")
        session.add(user)
    with pytest.raises(exc.IntegrityError), db.transaction() as session:
        session.add(RoleGrant(user_id=user.id, role=Role.CURATOR))  # a curator without a school


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(exc.StatementError, match="naive datetime"), db.transaction() as session:
        session.add(AuditRecord(at=datetime(2027, 1, 1), action="test.naive", details={}))
