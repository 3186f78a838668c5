"""The periodic jobs, for `rq cron` (``roadmap cron`` builds and starts this scheduler)."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq.cron import CronScheduler

from engine.config import Settings
from workers import jobs
from workers.queue import DEADLINES_QUEUE_NAME, QUEUE_NAME, Job, run_job

#: The outbox catch-up and the webhook fan-out run every minute. The sweep runs every ``SWEEP_EVERY_SECONDS``
#: (``Settings.sweep_every``, 15 s by default): a row is acted on at most that long after its time plus one
#: sweep's work, well under the minute promised (docs/performance.md "A national year"); at 60 s a row waited
#: up to a minute before any sweep looked at it. An idle sweep is two index look-ups.
EVERY_MINUTE = 60


def build_scheduler(connection: Redis, settings: Settings | None = None) -> CronScheduler:
    every = (settings or Settings.from_env()).sweep_every
    scheduler = CronScheduler(connection=connection, name="roadmap-cron")
    _register(scheduler, jobs.sweep_deadlines, interval=every, job_timeout=600, queue=DEADLINES_QUEUE_NAME)
    _register(scheduler, jobs.flush_outbox, interval=EVERY_MINUTE)
    _register(scheduler, jobs.send_digests, cron="0 3 * * *")  # 06:00 Moscow time
    _register(scheduler, jobs.dispatch_webhooks, interval=EVERY_MINUTE)
    _register(scheduler, jobs.prune_events, cron="30 0 * * *")
    return scheduler


def _register(scheduler: CronScheduler, job: Job[[]], queue: str = QUEUE_NAME, **when: Any) -> None:
    """What ``RqJobQueue`` enqueues, ``run_job(job)`` (the worker gives the job its context), named after
    the job itself: rq names a cron entry after its function, which would be ``run_job`` for all three."""
    scheduler.register(run_job, queue_name=queue, args=(job,), name=f"{job.__module__}.{job.__qualname__}",
                       **when)
