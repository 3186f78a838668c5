"""Background work: the ``JobQueue`` protocol, its two implementations, and what every job is given.

A caller hands a queue the job function itself — ``queue.enqueue(jobs.run_migration, run_id)`` — so mypy
checks the arguments against the job's signature and a misspelt job is an import error, not a failure in
a worker hours later. Every job (``workers/jobs.py``) takes a ``JobContext`` first, then plain ids:

- ``RqJobQueue`` (Redis, production): rq runs ``run_job`` in a worker process, which builds the context
  from that process's own settings (a worker is configured like any other process: ``DATABASE_URL`` …).
- ``InlineJobQueue`` (no Redis, the embedded default): each job runs in a daemon thread the queue starts,
  on the app's own database, so the request that enqueued it returns at once.

The web app gets its queue from ``create_app(queue=...)``, by default ``job_queue`` from its settings.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, get_current_job

from engine.config import Settings
from engine.db import Database

__all__ = ["DEADLINES_QUEUE_NAME", "QUEUE_NAME", "WORKER_QUEUES", "InlineJobQueue", "JobContext", "JobQueue",
           "RqJobQueue", "job_queue", "job_timeout",
           "run_job"]

log = logging.getLogger(__name__)
QUEUE_NAME = "roadmap"
#: The sweep's own queue, which every worker takes first: a sweep must never wait behind the e-mails the
#: previous sweep queued. In the busiest hour of a national year (bench/national_year.py) the letters of one
#: sweep are tens of thousands of jobs; on one queue the next sweep waited behind them for many minutes.
DEADLINES_QUEUE_NAME = "roadmap-deadlines"
WORKER_QUEUES = (DEADLINES_QUEUE_NAME, QUEUE_NAME)  # in rq's order of priority
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class JobContext:
    """What a job works with: the database, the settings (base URL, SMTP) and the queue for follow-up
    jobs (``None`` when the job was called outside any queue)."""

    db: Database
    settings: Settings
    queue: JobQueue | None


Job = Callable[Concatenate[JobContext, P], Any]


class JobQueue(Protocol):
    def enqueue(self, job: Job[P], *args: P.args, **kwargs: P.kwargs) -> str:
        """Schedule ``job(context, *args, **kwargs)``; return an id to look the job up by."""
        ...


_TIMEOUTS: dict[Callable[..., Any], int] = {}


def job_timeout(seconds: int) -> Callable[[F], F]:
    """Give a job ``seconds`` under rq instead of rq's 180 s default (the job itself is unchanged)."""

    def mark(job: F) -> F:
        _TIMEOUTS[job] = seconds
        return job

    return mark


class RqJobQueue:
    """Jobs for rq workers. With a ``fallback`` (the web app's inline queue), a job Redis does not take
    runs in this process instead: a migration run nobody picks up would wait forever."""

    def __init__(self, connection: Redis, name: str = QUEUE_NAME, *, fallback: JobQueue | None = None) -> None:
        self.queue = Queue(name, connection=connection)
        self.fallback = fallback

    @classmethod
    def from_url(cls, url: str, *, fallback: JobQueue | None = None) -> RqJobQueue:
        return cls(Redis.from_url(url), fallback=fallback)

    def enqueue(self, job: Job[P], *args: P.args, **kwargs: P.kwargs) -> str:
        call = f"{job.__module__}.{job.__qualname__}({', '.join(map(repr, args))})"
        try:
            return str(self.queue.enqueue(run_job, args=(job, *args), kwargs=kwargs, description=call,
                                          job_timeout=_TIMEOUTS.get(job)).id)
        except (RedisError, OSError):
            if self.fallback is None:
                raise
            log.warning("Redis did not take %s; running it in this process", call, exc_info=True)
            return self.fallback.enqueue(job, *args, **kwargs)


def run_job(job: Job[P], *args: P.args, **kwargs: P.kwargs) -> Any:
    """What an rq worker runs: ``job`` on the worker process's database, with the job's own Redis
    connection for follow-up jobs. Exceptions propagate, so rq's failed-job registry sees them."""
    settings = Settings.from_env()
    current = get_current_job()
    follow_ups = RqJobQueue(current.connection) if current is not None else None
    with _worker_database(settings.database_url) as db:
        return job(JobContext(db, settings, follow_ups), *args, **kwargs)


_databases: dict[tuple[str, int], Database] = {}


@contextmanager
def _worker_database(url: str) -> Iterator[Database]:
    """One Database per process and URL; a job's sessions share one connection (as a web request's do),
    and afterwards the pool is closed (the engine stays) — an idle worker holds no database connection,
    and a work horse ends without leaving a broken connection behind for the server to log.

    A new engine for every job left ~75 KiB behind each time: a worker that runs its jobs in-process
    (rq's SimpleWorker) grew by 4 MiB over 50 sweeps (bench/memory.py, docs/performance.md "Worker
    memory"). The pid is part of the key so that a forked work horse never reuses connections its parent
    opened."""
    key = (url, os.getpid())
    if key not in _databases:
        _databases[key] = Database.from_url(url)
    db = _databases[key]
    try:
        with db.one_connection():
            yield db
    finally:
        db.engine.dispose()


class InlineJobQueue:
    """Without Redis: each job runs at once in a daemon thread of its own, on the given (the app's)
    database. A thread per job, not one worker thread, so a long migration run does not hold the next
    job back (rq deployments run several workers for the same reason). A failure is logged — there is
    no failed-job registry here; the job's own records (a run's status, an incident) tell the users. A
    job still running when the process stops dies with it, as in a killed rq work horse: a migration
    run's heartbeat then shows it interrupted."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def enqueue(self, job: Job[P], *args: P.args, **kwargs: P.kwargs) -> str:
        job_id = f"inline-{uuid.uuid4().hex}"
        thread = threading.Thread(target=self._run, args=(job_id, job, args, kwargs), daemon=True,
                                  name=f"roadmap-{job.__name__}-{job_id[7:15]}")
        with self._lock:
            self._threads = [*(t for t in self._threads if t.is_alive()), thread]
        thread.start()
        return job_id

    def _run(self, job_id: str, job: Job[...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            with self.db.one_connection():
                job(JobContext(self.db, self.settings, self), *args, **kwargs)
        except Exception:  # the thread ends here: nobody else would see the failure
            log.exception("inline job %s (%s) failed", job_id, job.__qualname__)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the jobs enqueued so far to end (tests; an orderly shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


def job_queue(redis_url: str | None, db: Database, settings: Settings) -> JobQueue:
    """The web app's default queue: rq when Redis is configured (running a job inline when Redis does not
    take it), inline otherwise."""
    inline = InlineJobQueue(db, settings)
    return RqJobQueue.from_url(redis_url, fallback=inline) if redis_url else inline
