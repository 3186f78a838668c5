"""add template simulations (an admin's trial run of a draft: its inputs, replayed and rolled back)

Revision ID: c4d2a8e61f07
Revises: 9b1f0e7d5c3a
Create Date: 2026-12-03 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'c4d2a8e61f07'
down_revision = '9b1f0e7d5c3a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('template_simulation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('template_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'template_key', name='uq_simulation_user_template')
    )


def downgrade() -> None:
    op.drop_table('template_simulation')
