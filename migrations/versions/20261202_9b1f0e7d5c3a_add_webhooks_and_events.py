"""add webhooks and events

Integrators are told rather than poll: an outbox of events written with the change that causes them
(``event``), subscribers (``webhook``: URL, secret, event types, active) and one delivery per event and
subscriber (``webhook_delivery``: claimed with a lease, retried with backoff, its attempts logged).

Revision ID: 9b1f0e7d5c3a
Revises: 5b7d9f1a3c6e
Create Date: 2026-12-02 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '9b1f0e7d5c3a'
down_revision = '5b7d9f1a3c6e'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("uid", sa.String(length=36), nullable=False, unique=True),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_event_undispatched", "event", ["id"], postgresql_where=sa.text("dispatched_at IS NULL"),
                    sqlite_where=sa.text("dispatched_at IS NULL"))
    op.create_index("ix_event_created", "event", ["created_at"])
    op.create_table(
        "webhook",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", BigId, sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("after_event_id", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("webhook_id", BigId, sa.ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", BigId, sa.ForeignKey("event.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.Enum("pending", "sending", "delivered", "dead", name="delivery_status",
                                           native_enum=False, length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_delivery_webhook_event"),
    )
    op.create_index("ix_delivery_due", "webhook_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_delivery_event", "webhook_delivery", ["event_id"])


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("webhook")
    op.drop_index("ix_event_created", table_name="event")
    op.drop_index("ix_event_undispatched", table_name="event")
    op.drop_table("event")
