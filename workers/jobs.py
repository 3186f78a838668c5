"""rq jobs: importable module-level functions that take ids, open their own database, call one engine
service, and let exceptions propagate so rq's retries and failed-job registry see them."""

from __future__ import annotations

from engine import instances
from engine.config import Settings
from engine.db import Database


def _database() -> Database:
    return Database.from_url(Settings.from_env().database_url)


def start_instance(template_key: str, school_code: str) -> int:
    """Start a roadmap for one school (bulk starts enqueue one job per school)."""
    db = _database()
    try:
        return instances.start_instance(db, template_key, school_code).instance_id
    finally:
        db.engine.dispose()
