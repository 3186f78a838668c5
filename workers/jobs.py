"""rq jobs: importable module-level functions that take ids, open their own database, call one engine
service, and let exceptions propagate so rq's failed-job registry sees them.

Jobs that produce e-mails hand the new outbox ids to ``deliver_email`` jobs on a best-effort basis: if
Redis is unreachable at that moment the letters simply wait in the outbox, and ``flush_outbox`` (every
minute from cron) picks them up — nothing is lost, and the outbox claim keeps anything from going twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
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
    """One Database per process and URL, its pool emptied after each job (``_job_database``).

    A new engine for every job left ~75 KiB behind each time: a worker that runs its jobs in-process
    (rq's SimpleWorker, the inline queue) grew by 4 MiB over 50 sweeps (bench/memory.py, docs/performance.md
    "Worker memory"). The pid is part of the key so that a forked work horse never reuses connections
    its parent opened."""
    url = Settings.from_env().database_url
    key = (url, os.getpid())
    if key not in _databases:
        _databases[key] = Database.from_url(url)
    return _databases[key]


@contextmanager
def _job_database() -> Iterator[Database]:
    """The process's Database for one job: its sessions share one connection (as a web request's do),
    and afterwards the pool is closed (the engine stays) — an idle worker holds no database connection,
    and a work horse ends without leaving a broken connection behind for the server to log."""
    db = _database()
    try:
        with db.one_connection():
            yield db
    finally:
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
    with _job_database() as db:
        return instances.start_instance(db, template_key, school_code).instance_id


def run_migration(run_id: int) -> dict[str, int]:
    """Move a template's running instances to another version (each in its own transaction)."""
    with _job_database() as db:
        run = instance_migration.run_migration(db, run_id)
    return {"moved": run.moved, "failed": run.failed}


def sweep_deadlines(now_iso: str | None = None, batch_size: int = DEFAULT_BATCH) -> dict[str, Any]:
    """Every minute from cron: act on due deadlines, then hand their e-mails to delivery jobs."""
    with _job_database() as db:
        now = datetime.fromisoformat(now_iso) if now_iso else None
        report = sweep(db, now=now, batch_size=batch_size, base_url=Settings.from_env().base_url)
    return {"fired": report.fired, "batches": report.batches, "queued": _enqueue_deliveries(report.outbox_ids)}


def deliver_email(outbox_id: int) -> bool:
    smtp = SmtpSettings.from_settings(Settings.from_env())
    if smtp is None:
        log.warning("SMTP_HOST is not set: outbox message %d waits", outbox_id)
        return False
    with _job_database() as db:
        return deliver(db, outbox_id, smtp)


def flush_outbox() -> int:
    """Every minute from cron: queue delivery of everything due in the outbox (retries, catch-up)."""
    with _job_database() as db:
        due = due_messages(db)
    return _enqueue_deliveries(due)


def send_digests() -> int:
    with _job_database() as db:
        outbox_ids = queue_digests(db, base_url=Settings.from_env().base_url)
    return _enqueue_deliveries(outbox_ids)
