"""escape process data keys in stored workflows

Process data used to be stored as SpiffWorkflow wrote it, so a user's dict with a ``typename`` key was
read back as one of the serializer's objects and the instance could never be restored again. States
are now written with user keys escaped (engine/bpmn/stored_data.py); this rewrites the rows stored
before, with the same upgrade the engine applies when it reads an old state. Only the stored JSON and
its format label change; the instances' version (optimistic lock) is left alone.

Revision ID: d5e7f9a1b3c5
Revises: a11e5e55c0de
Create Date: 2026-12-02 12:40:00
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.bpmn.stored_data import FORMAT_KEY, downgrade_to_v1, upgrade_v1

revision = 'd5e7f9a1b3c5'
down_revision = 'a11e5e55c0de'
branch_labels = None
depends_on = None

_OLD, _NEW = "/roadmap-1", "/roadmap-2"
_BATCH = 500


def upgrade() -> None:
    _rewrite_rows(_OLD, _NEW, upgrade_v1, lambda state: FORMAT_KEY not in state)


def downgrade() -> None:
    _rewrite_rows(_NEW, _OLD, downgrade_to_v1, lambda state: FORMAT_KEY in state)


def _rewrite_rows(old: str, new: str, rewrite: Callable[[dict[str, Any]], dict[str, Any]],
                  needed: Callable[[dict[str, Any]], bool]) -> None:
    """Relabel the rows stored as ``old``, rewriting those whose JSON is still in that layout: a step
    completed by the new engine writes the new layout without touching the row's label."""
    connection = op.get_bind()
    table = sa.table("process_instance", sa.column("id", sa.BigInteger), sa.column("workflow_json", sa.Text),
                     sa.column("serializer_version", sa.String))
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.workflow_json, table.c.serializer_version)
            .where(table.c.id > last_id, table.c.serializer_version.like(f"%{old}"))
            .order_by(table.c.id).limit(_BATCH)).all()
        if not rows:
            return
        for row in rows:
            state = json.loads(row.workflow_json)
            if needed(state):
                state = rewrite(state)
            connection.execute(
                table.update().where(table.c.id == row.id).values(
                    workflow_json=json.dumps(state, ensure_ascii=False, separators=(",", ":")),
                    serializer_version=row.serializer_version.removesuffix(old) + new))
        last_id = rows[-1].id
