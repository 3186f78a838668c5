"""Background jobs through a real Redis and a real rq worker, and the inline queue without Redis."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from sqlalchemy import event, select

from engine.actors import OPERATOR
from engine.config import Settings
from engine.db import Database
from engine.models import ProcessInstance, School
from engine.templates import versions
from tests.conftest import Org, make_org
from workers import jobs
from workers.queue import QUEUE_NAME, InlineJobQueue, RqJobQueue, _worker_database

UNUSABLE_DATABASE_URL = "postgresql+psycopg://nobody@127.0.0.1:1/no-such-database"


@pytest.fixture
def deployed_key(pg_db: Database, bundle_copy: Path) -> str:
    return versions.deploy_template(pg_db, versions.read_bundle(bundle_copy), actor=OPERATOR).key


def _instance(db: Database, instance_id: int) -> ProcessInstance | None:
    with db.reading() as session:
        return session.get(ProcessInstance, instance_id)


def _started_at(db: Database, school_code: str) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(select(ProcessInstance.id).join(School, School.id == ProcessInstance.school_id)
                                    .where(School.code == school_code)))


def test_rq_worker_runs_an_enqueued_start(pg_db: Database, postgres_url: str, deployed_key: str,
                                          redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    org: Org = make_org(pg_db)
    monkeypatch.setenv("DATABASE_URL", postgres_url)  # the worker process's own configuration
    job_id = RqJobQueue(redis).enqueue(jobs.start_instance, deployed_key, org.school)
    queue = Queue(QUEUE_NAME, connection=redis)
    assert queue.count == 1
    SimpleWorker([queue], connection=redis).work(burst=True)
    job = queue.fetch_job(job_id)
    assert job is not None and job.is_finished
    assert job.description.startswith(f"workers.jobs.start_instance('{deployed_key}'")  # rq info names the job
    instance = _instance(pg_db, int(job.return_value()))
    assert instance is not None and instance.school_id is not None


def test_failing_job_lands_in_the_failed_registry(postgres_url: str, redis: Redis,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    job_id = RqJobQueue(redis).enqueue(jobs.start_instance, "no-such-template", "NO-SCHOOL")
    queue = Queue(QUEUE_NAME, connection=redis)
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert job_id in queue.failed_job_registry.get_job_ids()


def test_inline_queue_runs_the_job_in_its_thread_on_the_given_database(
        pg_db: Database, deployed_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's database, not DATABASE_URL: with the environment pointing nowhere the job still runs."""
    org = make_org(pg_db)
    monkeypatch.setenv("DATABASE_URL", UNUSABLE_DATABASE_URL)
    queue = InlineJobQueue(pg_db, Settings.from_env())
    queue.enqueue(jobs.start_instance, deployed_key, org.school)
    queue.join(timeout=60)
    assert len(_started_at(pg_db, org.school)) == 1


def test_inline_queue_logs_a_failing_job_and_goes_on(pg_db: Database, deployed_key: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    org = make_org(pg_db)
    queue = InlineJobQueue(pg_db, Settings.from_env())
    with caplog.at_level(logging.ERROR, logger="workers.queue"):
        queue.enqueue(jobs.start_instance, "no-such-template", org.school)
        queue.join(timeout=60)
    assert any("start_instance" in record.getMessage() and record.exc_info for record in caplog.records)
    queue.enqueue(jobs.start_instance, deployed_key, org.school)  # the queue still takes work
    queue.join(timeout=60)
    assert len(_started_at(pg_db, org.school)) == 1


def test_a_job_redis_refuses_runs_inline_when_the_queue_has_a_fallback(pg_db: Database, deployed_key: str) -> None:
    org = make_org(pg_db)
    inline = InlineJobQueue(pg_db, Settings.from_env())
    nowhere = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)  # nothing listens on port 1
    job_id = RqJobQueue(nowhere, fallback=inline).enqueue(jobs.start_instance, deployed_key, org.school)
    inline.join(timeout=60)
    assert job_id.startswith("inline-")
    assert len(_started_at(pg_db, org.school)) == 1
    with pytest.raises(RedisError):  # without a fallback the caller hears of it
        RqJobQueue(nowhere).enqueue(jobs.start_instance, deployed_key, org.school)


def test_a_job_shares_one_connection_and_leaves_none_open(postgres_url: str) -> None:
    taken: list[object] = []

    def count(*_: object) -> None:
        taken.append(None)

    with _worker_database(postgres_url) as db:
        event.listen(db.engine, "checkout", count)
        try:
            for _ in range(3):
                with db.reading() as session:
                    session.execute(select(ProcessInstance.id).limit(1)).all()
        finally:
            event.remove(db.engine, "checkout", count)
    assert len(taken) == 1
    assert db.engine.pool.checkedout() == 0 and db.engine.pool.checkedin() == 0  # an idle worker holds none
