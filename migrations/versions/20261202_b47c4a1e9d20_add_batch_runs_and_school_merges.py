"""add batch runs and school merges

Operations on a selection of running roadmaps run as recorded batches (issue 22): ``batch_run`` with one
``batch_item`` per school, settled one transaction each, resumable like a migration run. A school merged
into another keeps its row, with ``school.merged_into_id`` naming the surviving school.

Revision ID: b47c4a1e9d20
Revises: 3e4a5b6c7d8f
Create Date: 2026-12-02 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b47c4a1e9d20'
down_revision = '3e4a5b6c7d8f'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('batch_run',
    sa.Column('id', _ID, nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('selection', sa.JSON(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'done', 'failed', name='batch_run_status', native_enum=False, length=32), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('created_by_id', _ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resumes', sa.Integer(), nullable=False),
    sa.CheckConstraint('done >= 0 AND failed >= 0 AND done + failed <= total', name='batch_counts_within_total'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('batch_item',
    sa.Column('id', _ID, nullable=False),
    sa.Column('run_id', _ID, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('school_id', _ID, nullable=False),
    sa.Column('school_code', sa.String(length=32), nullable=False),
    sa.Column('school_name', sa.String(length=500), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['batch_run.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'school_id', name='uq_batch_item_school')
    )
    op.create_index('ix_batch_item_run_id', 'batch_item', ['run_id'], unique=False)
    with op.batch_alter_table('school') as batch:
        batch.add_column(sa.Column('merged_into_id', _ID, nullable=True))
        batch.create_foreign_key('fk_school_merged_into_id_school', 'school', ['merged_into_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('school') as batch:
        batch.drop_constraint('fk_school_merged_into_id_school', type_='foreignkey')
        batch.drop_column('merged_into_id')
    op.drop_index('ix_batch_item_run_id', table_name='batch_item')
    op.drop_table('batch_item')
    op.drop_table('batch_run')
