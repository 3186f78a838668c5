"""rq jobs: importable module-level functions that take ids, open their own database, call one engine
service, and let exceptions propagate so rq's failed-job registry sees them.

Jobs that produce e-mails hand the new outbox ids to ``deliver_email`` jobs on a best-effort basis: if
Redis is unreachable at that moment the letters simply wait in the outbox, and ``flush_outbox`` (every
minute from cron) picks them up — nothing is lost, and the outbox claim keeps anything from going twice.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, get_current_job

from engine import instance_migration, instances
from engine.config import Settings
from engine.db import Database
from engine.deadlines import DEFAULT_BATCH, sweep
from engine.digests import queue_digests
from engine.mailer import SmtpSettings, deliver, due_messages

log = logging.getLogger(__name__)
QUEUE_NAME = "roadmap"


_databases: dict[tuple[str, int], Database] = {}


def _database() -> Database:
    """One Database per process and URL, its pool emptied after each job (``_done``).

    A new engine for every job left ~75 KiB behind each time: a worker that runs its jobs in-process
    (rq's SimpleWorker, the inline queue) grew by 4 MiB over 50 sweeps (bench/memory.py, docs/performance.md
    "Worker memory"). The pid is part of the key so that a forked work horse never reuses connections
    its parent opened."""
    url = Settings.from_env().database_url
    key = (url, os.getpid())
    if key not in _databases:
        _databases[key] = Database.from_url(url)
    return _databases[key]


def _done(db: Database) -> None:
    # Close the pooled connections (the engine stays): an idle worker holds no database connection, and a
    # work horse ends without leaving a broken connection behind for the server to log.
    db.engine.dispose()


def _enqueue_deliveries(outbox_ids: list[int]) -> int:
    job = get_current_job()
    if job is None or not outbox_ids:
        return 0
    queue = Queue(QUEUE_NAME, connection=job.connection)
    try:
        for outbox_id in outbox_ids:
            queue.enqueue(deliver_email, outbox_id)
    except RedisError:
        log.warning("Redis unavailable: %d e-mails wait in the outbox for flush_outbox", len(outbox_ids))
        return 0
    return len(outbox_ids)


def start_instance(template_key: str, school_code: str) -> int:
    """Start a roadmap for one school (bulk starts enqueue one job per school)."""
    db = _database()
    try:
        return instances.start_instance(db, template_key, school_code).instance_id
    finally:
        _done(db)


def run_migration(run_id: int) -> dict[str, int]:
    """Move a template's running instances to another version (each in its own transaction)."""
    db = _database()
    try:
        run = instance_migration.run_migration(db, run_id)
    finally:
        db.engine.dispose()
    return {"moved": run.moved, "failed": run.failed}


def sweep_deadlines(now_iso: str | None = None, batch_size: int = DEFAULT_BATCH) -> dict[str, Any]:
    """Every minute from cron: act on due deadlines, then hand their e-mails to delivery jobs."""
    db = _database()
    try:
        now = datetime.fromisoformat(now_iso) if now_iso else None
        report = sweep(db, now=now, batch_size=batch_size, base_url=Settings.from_env().base_url)
    finally:
        _done(db)
    return {"fired": report.fired, "batches": report.batches, "queued": _enqueue_deliveries(report.outbox_ids)}


def deliver_email(outbox_id: int) -> bool:
    smtp = SmtpSettings.from_settings(Settings.from_env())
    if smtp is None:
        log.warning("SMTP_HOST is not set: outbox message %d waits", outbox_id)
        return False
    db = _database()
    try:
        return deliver(db, outbox_id, smtp)
    finally:
        _done(db)


def flush_outbox() -> int:
    """Every minute from cron: queue delivery of everything due in the outbox (retries, catch-up)."""
    db = _database()
    try:
        due = due_messages(db)
    finally:
        _done(db)
    return _enqueue_deliveries(due)


def send_digests() -> int:
    db = _database()
    try:
        outbox_ids = queue_digests(db, base_url=Settings.from_env().base_url)
    finally:
        _done(db)
    return _enqueue_deliveries(outbox_ids)
