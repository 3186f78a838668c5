"""Alembic environment: runs on the connection ``engine.db.upgrade_schema`` lends, or on DATABASE_URL."""

from __future__ import annotations

from alembic import context

from engine.config import Settings
from engine.db import make_engine
from engine.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with make_engine(Settings.from_env().database_url).begin() as own_connection:
        _run(own_connection)
