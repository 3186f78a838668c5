"""The periodic jobs, for `rq cron` (``roadmap cron`` builds and starts this scheduler)."""

from __future__ import annotations

from redis import Redis
from rq.cron import CronScheduler

from workers import jobs
from workers.jobs import QUEUE_NAME

SWEEP_EVERY_SECONDS = 60


def build_scheduler(connection: Redis) -> CronScheduler:
    scheduler = CronScheduler(connection=connection, name="roadmap-cron")
    scheduler.register(jobs.sweep_deadlines, queue_name=QUEUE_NAME, interval=SWEEP_EVERY_SECONDS,
                       job_timeout=600)
    scheduler.register(jobs.flush_outbox, queue_name=QUEUE_NAME, interval=SWEEP_EVERY_SECONDS)
    scheduler.register(jobs.send_digests, queue_name=QUEUE_NAME, cron="0 3 * * *")  # 06:00 Moscow time
    return scheduler
