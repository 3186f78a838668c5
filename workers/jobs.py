"""Background jobs: module-level functions that take a ``JobContext`` (workers/queue.py) and plain ids,
call one engine service, and let exceptions propagate so rq's failed-job registry sees them. Either queue
runs them: an rq worker on its own database, the inline queue on the app's.

Jobs that produce e-mails hand the new outbox ids to ``deliver_email`` jobs on a best-effort basis: if
Redis is unreachable at that moment the letters simply wait in the outbox, and ``flush_outbox`` (every
minute from cron) picks them up — nothing is lost, and the outbox claim keeps anything from going twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from engine.actors import OPERATOR
from engine.deadlines.digests import queue_digests
from engine.deadlines.sweep import DEFAULT_BATCH, sweep
from engine.process import batches, instances, migration, webhooks
from engine.process.mailer import SmtpSettings, deliver, due_messages
from workers.queue import JobContext, job_timeout

log = logging.getLogger(__name__)


#: Letters per delivery job. One job per letter cost a worker ~150 ms each (rq forks a work horse, which
#: connects to the database) — two workers sent 7 letters a second while a national sweep queued thousands.
LETTERS_PER_JOB = 50


def _enqueue_deliveries(ctx: JobContext, outbox_ids: list[int]) -> int:
    if ctx.queue is None or not outbox_ids:
        return 0
    try:
        for start in range(0, len(outbox_ids), LETTERS_PER_JOB):
            chunk = outbox_ids[start:start + LETTERS_PER_JOB]
            if len(chunk) == 1:
                ctx.queue.enqueue(deliver_email, chunk[0])
            else:
                ctx.queue.enqueue(deliver_emails, chunk)
    except RedisError:
        log.warning("Redis unavailable: %d e-mails wait in the outbox for flush_outbox", len(outbox_ids))
        return 0
    return len(outbox_ids)


def start_instance(ctx: JobContext, template_key: str, school_code: str) -> int:
    """Start a roadmap for one school (bulk starts enqueue one job per school)."""
    return instances.start_instance(ctx.db, template_key, school_code, actor=OPERATOR).instance_id


# rq stops a job after 180 s by default; a bulk migration of a region's few hundred instances, up to a
# second each, would be cut off midway. The run's heartbeat, not the timeout, tells a run that stopped.
@job_timeout(6 * 3600)
def run_migration(ctx: JobContext, run_id: int) -> dict[str, int]:
    """Move a template's running instances to another version (each in its own transaction)."""
    run = migration.run_migration(ctx.db, run_id)
    return {"moved": run.moved, "failed": run.failed}


# A batch over a region's schools takes as long as a migration run; its heartbeat tells a stopped run.
@job_timeout(6 * 3600)
def run_batch(ctx: JobContext, run_id: int) -> dict[str, int]:
    """Do (or, for a dry run, try and roll back) a batch operation school by school, each in its own transaction."""
    run = batches.run_batch(ctx.db, run_id)
    return {"done": run.done, "failed": run.failed}


def sweep_deadlines(ctx: JobContext, now_iso: str | None = None, batch_size: int = DEFAULT_BATCH) -> dict[str, Any]:
    """Every minute from cron: act on due deadlines, then hand their e-mails to delivery jobs."""
    now = datetime.fromisoformat(now_iso) if now_iso else None
    report = sweep(ctx.db, now=now, batch_size=batch_size, base_url=ctx.settings.base_url)
    return {"fired": report.fired, "announced": report.announced, "batches": report.batches,
            "queued": _enqueue_deliveries(ctx, report.outbox_ids)}


def deliver_email(ctx: JobContext, outbox_id: int) -> bool:
    smtp = SmtpSettings.from_settings(ctx.settings)
    if smtp is None:
        log.warning("SMTP_HOST is not set: outbox message %d waits", outbox_id)
        return False
    return deliver(ctx.db, outbox_id, smtp)


def deliver_emails(ctx: JobContext, outbox_ids: list[int]) -> int:
    """Several letters in one job, each on its own as ``deliver_email`` would: one that fails is recorded for
    a retry (``flush_outbox``) and the rest still go; the job then fails so rq's registry shows it."""
    smtp = SmtpSettings.from_settings(ctx.settings)
    if smtp is None:
        log.warning("SMTP_HOST is not set: %d outbox messages wait", len(outbox_ids))
        return 0
    sent, failed = 0, None
    for outbox_id in outbox_ids:
        try:
            sent += deliver(ctx.db, outbox_id, smtp)
        except Exception as err:  # noqa: BLE001 - recorded on the letter by deliver(); the others still go
            failed = err
    if failed is not None:
        raise failed
    return sent


def flush_outbox(ctx: JobContext) -> int:
    """Every minute from cron: queue delivery of everything due in the outbox (retries, catch-up)."""
    return _enqueue_deliveries(ctx, due_messages(ctx.db))


def send_digests(ctx: JobContext) -> int:
    return _enqueue_deliveries(ctx, queue_digests(ctx.db, base_url=ctx.settings.base_url))


#: Fan-out batches per cron run: a cohort start's thousands of events go out within the minute.
DISPATCH_ROUNDS = 20


def dispatch_webhooks(ctx: JobContext) -> int:
    """Every minute from cron: fan new events out into deliveries, then queue a delivery job for each of them
    and for every delivery due again (a retry, or one whose worker died). Returns how many were queued."""
    ids: list[int] = []
    for _ in range(DISPATCH_ROUNDS):
        dispatched = webhooks.dispatch_events(ctx.db)
        ids += dispatched.delivery_ids
        if dispatched.events < webhooks.DISPATCH_BATCH:
            break
    ids = list(dict.fromkeys(ids + webhooks.due_deliveries(ctx.db)))
    return _enqueue_webhook_deliveries(ctx, ids)


def _enqueue_webhook_deliveries(ctx: JobContext, ids: list[int]) -> int:
    if ctx.queue is None or not ids:
        return 0
    try:
        for delivery_id in ids:
            ctx.queue.enqueue(deliver_webhook, delivery_id)
    except RedisError:
        log.warning("Redis unavailable: %d webhook deliveries wait for the next fan-out", len(ids))
        return 0
    return len(ids)


def deliver_webhook(ctx: JobContext, delivery_id: int) -> bool:
    """POST one delivery (claimed with a lease first, so a duplicate job sends nothing)."""
    return webhooks.deliver(ctx.db, delivery_id, webhooks.DeliverySettings.from_settings(ctx.settings))


def prune_events(ctx: JobContext) -> int:
    """Daily: events older than 30 days, with their deliveries."""
    return webhooks.prune(ctx.db)
