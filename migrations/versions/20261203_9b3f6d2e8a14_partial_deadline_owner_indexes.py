"""index a deadline row's measure and visit only where it has one

Almost every deadline row is a task's (six per opened task): its ``measure_id`` and ``visit_id`` are NULL,
yet each row put a NULL entry into both indexes on insert and again on every update (closing a row changes
``fired_at``, the due index's predicate, so the update is never HOT). The indexes are only ever searched for
one measure or visit (``= id``, which implies NOT NULL), so they hold only rows that have one: two index
entries fewer per task deadline row written.

Revision ID: 9b3f6d2e8a14
Revises: 7c1e2a9d4b6f
Create Date: 2026-12-03 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '9b3f6d2e8a14'
down_revision = '7c1e2a9d4b6f'
branch_labels = None
depends_on = None

_OWNERS = (("ix_deadline_measure", "measure_id"), ("ix_deadline_visit", "visit_id"))


def upgrade() -> None:
    for name, column in _OWNERS:
        op.drop_index(name, table_name="deadline")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "deadline", [column], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, column in _OWNERS:
        op.drop_index(name, table_name="deadline")
        op.create_index(name, "deadline", [column])
