"""The periodic jobs, for `rq cron` (``roadmap cron`` builds and starts this scheduler)."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq.cron import CronScheduler

from workers import jobs
from workers.queue import QUEUE_NAME, Job, run_job

SWEEP_EVERY_SECONDS = 60


def build_scheduler(connection: Redis) -> CronScheduler:
    scheduler = CronScheduler(connection=connection, name="roadmap-cron")
    _register(scheduler, jobs.sweep_deadlines, interval=SWEEP_EVERY_SECONDS, job_timeout=600)
    _register(scheduler, jobs.flush_outbox, interval=SWEEP_EVERY_SECONDS)
    _register(scheduler, jobs.send_digests, cron="0 3 * * *")  # 06:00 Moscow time
    _register(scheduler, jobs.dispatch_webhooks, interval=SWEEP_EVERY_SECONDS)
    _register(scheduler, jobs.prune_events, cron="30 0 * * *")
    return scheduler


def _register(scheduler: CronScheduler, job: Job[[]], **when: Any) -> None:
    """What ``RqJobQueue`` enqueues, ``run_job(job)`` (the worker gives the job its context), named after
    the job itself: rq names a cron entry after its function, which would be ``run_job`` for all three."""
    scheduler.register(run_job, queue_name=QUEUE_NAME, args=(job,), name=f"{job.__module__}.{job.__qualname__}",
                       **when)
