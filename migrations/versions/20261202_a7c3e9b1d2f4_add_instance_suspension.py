"""add instance suspension

A roadmap can be suspended (issue 22): ``process_instance.suspended_at`` is set while it is, so the
sweep holds its deadline rows and resuming knows how many working days to shift them by.

Revision ID: a7c3e9b1d2f4
Revises: f1a2b3c4d5e6
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'a7c3e9b1d2f4'
down_revision = 'f1a2b3c4d5e6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_column("suspended_at")
