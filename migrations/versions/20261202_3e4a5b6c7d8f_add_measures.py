"""add measures

A school's roadmap of measures is tracked: one row per planned measure (status, due date, evidence, the
curator's acceptance) and its history of changes (who, when, what, why). A deadline row may be a measure's
(``deadline.measure_id``; its ``task_id`` is then NULL): measures are reminded, due and escalated by the sweep.

Revision ID: 3e4a5b6c7d8f
Revises: a7c3e9b1d2f4
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '3e4a5b6c7d8f'
down_revision = 'a7c3e9b1d2f4'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        "measure",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("instance_id", BigId, sa.ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False),
        sa.Column("school_id", BigId, sa.ForeignKey("school.id"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("direction", sa.String(length=64), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("responsible", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("accepted_by_id", BigId, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_later", sa.Boolean(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("instance_id", "key", name="uq_measure_key"),
    )
    op.create_index("ix_measure_school", "measure", ["school_id"])
    op.create_table(
        "measure_change",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("measure_id", BigId, sa.ForeignKey("measure.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", BigId, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("what", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_measure_change_measure_id", "measure_change", ["measure_id"])
    with op.batch_alter_table("deadline") as batch:
        batch.add_column(sa.Column("measure_id", BigId, nullable=True))
        batch.create_foreign_key("fk_deadline_measure_id_measure", "measure", ["measure_id"], ["id"],
                                 ondelete="CASCADE")
    op.create_index("ix_deadline_measure", "deadline", ["measure_id"])


def downgrade() -> None:
    op.drop_index("ix_deadline_measure", table_name="deadline")
    with op.batch_alter_table("deadline") as batch:
        batch.drop_constraint("fk_deadline_measure_id_measure", type_="foreignkey")
        batch.drop_column("measure_id")
    op.drop_index("ix_measure_change_measure_id", table_name="measure_change")
    op.drop_table("measure_change")
    op.drop_index("ix_measure_school", table_name="measure")
    op.drop_table("measure")
