"""add migration runs: bulk moves of running instances to another template version

Revision ID: 8ab0590a90e4
Revises: 4a48de2ac8bd
Create Date: 2026-11-30 14:45:35.337443
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '8ab0590a90e4'
down_revision = '4a48de2ac8bd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('migration_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('template_key', sa.String(length=64), nullable=False),
    sa.Column('from_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'done', 'failed', name='migration_run_status', native_enum=False, length=32), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('moved', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('moved + failed <= total', name='migration_counts_within_total'),
    sa.CheckConstraint('moved >= 0 AND failed >= 0 AND total >= 0', name='migration_counts_non_negative'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['from_version_id'], ['template_version.id'], ),
    sa.ForeignKeyConstraint(['to_version_id'], ['template_version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_migration_run_key', 'migration_run', ['template_key', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_migration_run_key', table_name='migration_run')
    op.drop_table('migration_run')
