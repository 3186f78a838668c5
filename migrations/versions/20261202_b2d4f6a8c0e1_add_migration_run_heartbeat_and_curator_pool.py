"""add migration run heartbeat and resumes, and the regions' curator pools

A run's heartbeat is bumped with every instance it moves, so a run whose worker died shows as
interrupted and can be resumed; ``resumes`` tells a stale runner that another has taken over. The
curator pool lists who may be bound as a school's curator in a region without being given any scope.

Revision ID: b2d4f6a8c0e1
Revises: c4a1e5d1b0a7
Create Date: 2026-12-02 07:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b2d4f6a8c0e1'
down_revision = 'c4a1e5d1b0a7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('migration_run', sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('migration_run', sa.Column('resumes', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.create_table('curator_pool',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('added_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region_id', 'user_id', name='uq_curator_pool')
    )
    op.create_index(op.f('ix_curator_pool_user_id'), 'curator_pool', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_curator_pool_user_id'), table_name='curator_pool')
    op.drop_table('curator_pool')
    with op.batch_alter_table('migration_run') as batch:
        batch.drop_column('resumes')
        batch.drop_column('heartbeat_at')
