"""order open task indexes by due date

The task lists page in SQL (keyset on due_at, id): the scope indexes end with the list's default order, so
the first page of a scope holding 10,000 open tasks reads 51 index entries instead of sorting all of them.

Revision ID: 7c1e2a9d4b6f
Revises: c4d2a8e61f07
Create Date: 2026-12-03 03:40:00
"""

from __future__ import annotations

from alembic import op

revision = '7c1e2a9d4b6f'
down_revision = 'c4d2a8e61f07'
branch_labels = None
depends_on = None

_SCOPES = (("ix_task_open_school", "school_id"), ("ix_task_open_municipality", "municipality_id"),
           ("ix_task_open_region", "region_id"))


def upgrade() -> None:
    for name, column in _SCOPES:
        op.drop_index(name, table_name="task")
        op.create_index(name, "task", ["status", "role", column, "due_at", "id"], unique=False)


def downgrade() -> None:
    for name, column in _SCOPES:
        op.drop_index(name, table_name="task")
        op.create_index(name, "task", ["status", "role", column], unique=False)
