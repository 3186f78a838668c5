"""add region time zone

Deadlines, working days and the cohort calendar's «end of the day» are counted in the school's local
time: each region names its IANA time zone. Existing regions get Moscow's, which is what every date
meant before.

Revision ID: f1a2b3c4d5e6
Revises: d5e7f9a1b3c5
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'f1a2b3c4d5e6'
down_revision = 'd5e7f9a1b3c5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("region") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=False,
                                   server_default=sa.text("'Europe/Moscow'")))


def downgrade() -> None:
    with op.batch_alter_table("region") as batch:
        batch.drop_column("time_zone")
