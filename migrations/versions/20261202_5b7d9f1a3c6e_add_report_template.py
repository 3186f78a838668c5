"""add report template

An admin's replacement of a report's DOCX template (engine/reports/documents.py): one row per report kind;
without a row the default template shipped in engine/reports/templates/ is used.

Revision ID: 5b7d9f1a3c6e
Revises: 5a1c7e9d3b20
Create Date: 2026-12-02 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '5b7d9f1a3c6e'
down_revision = '5a1c7e9d3b20'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        "report_template",
        sa.Column("kind", sa.String(length=64), primary_key=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by_id", BigId, sa.ForeignKey("app_user.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("report_template")
