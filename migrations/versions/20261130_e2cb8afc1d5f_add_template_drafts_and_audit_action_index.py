"""add template drafts and audit action index

Revision ID: e2cb8afc1d5f
Revises: 8ab0590a90e4
Create Date: 2026-11-30 14:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'e2cb8afc1d5f'
down_revision = '8ab0590a90e4'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('template_draft',
    sa.Column('id', _ID, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('base_version_id', _ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', _ID, nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', _ID, nullable=True),
    sa.ForeignKeyConstraint(['base_version_id'], ['template_version.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('template_draft_file',
    sa.Column('id', _ID, nullable=False),
    sa.Column('draft_id', _ID, nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', _ID, nullable=True),
    sa.ForeignKeyConstraint(['draft_id'], ['template_draft.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('draft_id', 'path', name='uq_template_draft_file_path')
    )
    op.create_index('ix_audit_action', 'audit_log', ['action', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_action', table_name='audit_log')
    op.drop_table('template_draft_file')
    op.drop_table('template_draft')
