"""add planned visits

The curator visit schedule: the municipal (or regional) coordinator plans a curator's visits to a school on
dates; the visit report links to the nearest open one of its half-year. A deadline row may be a visit's
(``deadline.visit_id``; its ``task_id`` is then NULL): the curator is reminded before the visit and, not
done, it is escalated by the sweep.

Revision ID: 5a1c7e9d3b20
Revises: b47c4a1e9d20
Create Date: 2026-12-02 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '5a1c7e9d3b20'
down_revision = 'b47c4a1e9d20'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        "planned_visit",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("school_id", BigId, sa.ForeignKey("school.id"), nullable=False),
        sa.Column("instance_id", BigId, sa.ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("status", sa.Enum("planned", "done", "cancelled", name="visit_status", native_enum=False,
                                    length=32), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=True),
        sa.Column("report_task_id", BigId, sa.ForeignKey("task.id", ondelete="SET NULL"), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_by_id", BigId, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_planned_visit_school", "planned_visit", ["school_id", "planned_on"])
    with op.batch_alter_table("deadline") as batch:
        batch.add_column(sa.Column("visit_id", BigId, nullable=True))
        batch.create_foreign_key("fk_deadline_visit_id_planned_visit", "planned_visit", ["visit_id"], ["id"],
                                 ondelete="CASCADE")
    op.create_index("ix_deadline_visit", "deadline", ["visit_id"])


def downgrade() -> None:
    op.drop_index("ix_deadline_visit", table_name="deadline")
    with op.batch_alter_table("deadline") as batch:
        batch.drop_constraint("fk_deadline_visit_id_planned_visit", type_="foreignkey")
        batch.drop_column("visit_id")
    op.drop_index("ix_planned_visit_school", table_name="planned_visit")
    op.drop_table("planned_visit")
