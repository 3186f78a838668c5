"""add sign-in attempts, attachments and respondent links

Revision ID: 93b64ae696aa
Revises: de8c37ca2da3
Create Date: 2026-11-22 21:49:57.508490
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '93b64ae696aa'
down_revision = 'de8c37ca2da3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_attempt',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('login', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sign_in_address_at', 'sign_in_attempt', ['address', 'at'], unique=False)
    op.create_index('ix_sign_in_login_at', 'sign_in_attempt', ['login', 'at'], unique=False)
    op.create_table('respondent_link',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('group', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_respondent_link_instance_group', 'respondent_link', ['instance_id', 'group'], unique=False)
    op.create_table('attachment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('element_id', sa.String(length=255), nullable=False),
    sa.Column('field_key', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('size > 0', name='attachment_not_empty'),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance_id', 'element_id', 'field_key', 'version', name='uq_attachment_version')
    )
    op.create_index('ix_attachment_task', 'attachment', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_attachment_task', table_name='attachment')
    op.drop_table('attachment')
    op.drop_index('ix_respondent_link_instance_group', table_name='respondent_link')
    op.drop_table('respondent_link')
    op.drop_index('ix_sign_in_login_at', table_name='sign_in_attempt')
    op.drop_index('ix_sign_in_address_at', table_name='sign_in_attempt')
    op.drop_table('sign_in_attempt')
