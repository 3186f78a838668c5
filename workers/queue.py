"""The two ``JobQueue`` implementations: rq on Redis, and inline for a machine without Redis."""

from __future__ import annotations

import uuid
from typing import Any

from redis import Redis
from rq import Queue

from workers import jobs
from workers.jobs import QUEUE_NAME

__all__ = ["QUEUE_NAME", "InlineJobQueue", "RqJobQueue", "job_queue"]

#: rq stops a job after 180 s by default; a bulk migration of a region's few hundred instances, up to a
#: second each, would be cut off midway. The run's heartbeat, not the timeout, tells a run that stopped.
JOB_TIMEOUTS = {"run_migration": 6 * 3600}


class RqJobQueue:
    def __init__(self, connection: Redis, name: str = QUEUE_NAME) -> None:
        self.queue = Queue(name, connection=connection)

    @classmethod
    def from_url(cls, url: str) -> RqJobQueue:
        return cls(Redis.from_url(url))

    def enqueue(self, job: str, *args: Any) -> str:
        function = getattr(jobs, job)
        return str(self.queue.enqueue(function, *args, job_timeout=JOB_TIMEOUTS.get(job)).id)


class InlineJobQueue:
    """Runs the job at once in the caller's thread; failures propagate to the caller."""

    def enqueue(self, job: str, *args: Any) -> str:
        getattr(jobs, job)(*args)
        return f"inline-{uuid.uuid4().hex}"


def job_queue(redis_url: str | None) -> RqJobQueue | InlineJobQueue:
    return RqJobQueue.from_url(redis_url) if redis_url else InlineJobQueue()
