"""add incidents and deadline attempts: a failing step becomes an incident, not a stalled sweep

Revision ID: c4a1e5d1b0a7
Revises: e2cb8afc1d5f
Create Date: 2026-12-02 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'c4a1e5d1b0a7'
down_revision = 'e2cb8afc1d5f'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('deadline', sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('deadline', sa.Column('last_error', sa.Text(), nullable=True))
    op.create_table('incident',
    sa.Column('id', BigId, nullable=False),
    sa.Column('instance_id', BigId, nullable=False),
    sa.Column('deadline_id', BigId, nullable=True),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('element_id', sa.String(length=255), nullable=False),
    sa.Column('element_name', sa.String(length=500), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', BigId, nullable=True),
    sa.Column('resolution', sa.String(length=32), nullable=True),
    sa.CheckConstraint('tries >= 1', name='incident_tries_positive'),
    sa.CheckConstraint('(resolved_at IS NULL) = (resolution IS NULL)', name='incident_resolved_with_reason'),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deadline_id'], ['deadline.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_incident_instance_id', 'incident', ['instance_id'], unique=False)
    op.create_index('ix_incident_deadline', 'incident', ['deadline_id'], unique=False)
    op.create_index('uq_incident_open_element', 'incident', ['instance_id', 'element_id'], unique=True,
                    postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))
    op.create_index('ix_incident_open', 'incident', ['created_at'], unique=False,
                    postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_incident_open', table_name='incident')
    op.drop_index('uq_incident_open_element', table_name='incident')
    op.drop_index('ix_incident_deadline', table_name='incident')
    op.drop_index('ix_incident_instance_id', table_name='incident')
    op.drop_table('incident')
    with op.batch_alter_table('deadline') as batch:
        batch.drop_column('last_error')
        batch.drop_column('attempts')
