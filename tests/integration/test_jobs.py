"""Background jobs through a real Redis and a real rq worker, and the inline fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import event, select

from engine import templates
from engine.db import Database
from engine.errors import TemplateNotFound
from engine.models import InstanceStatus, ProcessInstance, School, TemplateVersion
from tests.conftest import Org, make_org
from workers import jobs
from workers.queue import QUEUE_NAME, InlineJobQueue, RqJobQueue


@pytest.fixture
def deployed_key(pg_db: Database, bundle_copy: Path) -> str:
    return templates.deploy_template(pg_db, templates.read_bundle(bundle_copy)).key


def _instance(db: Database, instance_id: int) -> ProcessInstance | None:
    with db.reading() as session:
        return session.get(ProcessInstance, instance_id)


def test_rq_worker_runs_an_enqueued_start(pg_db: Database, postgres_url: str, deployed_key: str,
                                          redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    org: Org = make_org(pg_db)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    job_id = RqJobQueue(redis).enqueue("start_instance", deployed_key, org.school)
    queue = Queue(QUEUE_NAME, connection=redis)
    assert queue.count == 1
    SimpleWorker([queue], connection=redis).work(burst=True)
    job = queue.fetch_job(job_id)
    assert job is not None and job.is_finished
    instance = _instance(pg_db, int(job.return_value()))
    assert instance is not None and instance.school_id is not None


def test_failing_job_lands_in_the_failed_registry(postgres_url: str, redis: Redis,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    job_id = RqJobQueue(redis).enqueue("start_instance", "no-such-template", "NO-SCHOOL")
    queue = Queue(QUEUE_NAME, connection=redis)
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert job_id in queue.failed_job_registry.get_job_ids()


def test_inline_queue_runs_at_once(pg_db: Database, postgres_url: str, deployed_key: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org(pg_db)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    assert InlineJobQueue().enqueue("start_instance", deployed_key, org.school).startswith("inline-")
    with pg_db.reading() as session:  # done by the time enqueue returns: the school's process is there
        started = session.execute(select(ProcessInstance.status, TemplateVersion.key).join(TemplateVersion)
                                  .join(School).where(School.code == org.school)).all()
    assert [tuple(row) for row in started] == [(InstanceStatus.RUNNING, deployed_key)]
    with pytest.raises(TemplateNotFound):  # and its failure is the caller's, at once
        InlineJobQueue().enqueue("start_instance", "no-such-template", org.school)


def test_a_job_shares_one_connection_and_leaves_none_open(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    taken: list[object] = []

    def count(*_: object) -> None:
        taken.append(None)

    with jobs._job_database() as db:
        event.listen(db.engine, "checkout", count)
        try:
            for _ in range(3):
                with db.reading() as session:
                    session.execute(select(ProcessInstance.id).limit(1)).all()
        finally:
            event.remove(db.engine, "checkout", count)
    assert len(taken) == 1
    assert db.engine.pool.checkedout() == 0 and db.engine.pool.checkedin() == 0  # an idle worker holds none
