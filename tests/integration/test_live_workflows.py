"""The per-process cache of live workflows: used only for exactly the stored state, never after another
writer or a failed attempt. On PostgreSQL and SQLite, through the engine services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import ConcurrentUpdate
from engine.models import InstanceStatus, ProcessInstance, Task, TaskStatus
from engine.process import instances, tasks
from engine.process.live_workflows import DEFAULT_SIZE, LiveWorkflows, of
from engine.templates import versions
from tests.conftest import Org

REWORK = {"decision": "rework", "review_comment": "Мало"}


@pytest.fixture
def live(db: Database) -> Iterator[LiveWorkflows]:
    """This database's cache, on (part of the suite runs with it off: tests/conftest.py)."""
    cache = of(db)
    size, cache.size = cache.size, DEFAULT_SIZE
    yield cache
    cache.size = size


@pytest.fixture
def template_key(db: Database, bundle_copy: Path) -> str:
    return versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key


def ready_task(db: Database, instance_id: int) -> int:
    with db.reading() as session:
        [task_id] = session.scalars(select(Task.id).where(Task.instance_id == instance_id,
                                                          Task.status == TaskStatus.READY)).all()
        return task_id


def stored(db: Database, instance_id: int) -> ProcessInstance:
    with db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row


def test_the_next_step_starts_from_the_live_workflow(db: Database, org: Org, live: LiveWorkflows, template_key: str) -> None:
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    tasks.complete_task(db, ready_task(db, instance_id), {"coverage": 20}, actor=org.school_user)
    hits = live.hits
    tasks.complete_task(db, ready_task(db, instance_id), REWORK, actor=org.curator)
    tasks.complete_task(db, ready_task(db, instance_id), {"coverage": 80}, actor=org.school_user)
    done = tasks.complete_task(db, ready_task(db, instance_id), {"decision": "accepted"}, actor=org.curator)
    assert live.hits == hits + 3
    assert done.instance_completed and stored(db, instance_id).status is InstanceStatus.COMPLETED
    assert stored(db, instance_id).version == 5


def test_the_task_page_leaves_its_workflow_for_the_submission(db: Database, org: Org, live: LiveWorkflows, template_key: str) -> None:
    """Opening a task restores its workflow to show the values; the submission that follows starts from it."""
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    task_id = ready_task(db, instance_id)
    live.clear()
    tasks.get_task(db, task_id, actor=org.school_user)
    hits = live.hits
    tasks.complete_task(db, task_id, {"coverage": 20}, actor=org.school_user)
    assert live.hits == hits + 1
    assert stored(db, instance_id).version == 2


def test_an_entry_left_behind_by_another_writer_is_not_used(db: Database, org: Org, live: LiveWorkflows, template_key: str) -> None:
    """Process A keeps the workflow at version 2; process B completes the next step; A must not use it."""
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    tasks.complete_task(db, ready_task(db, instance_id), {"coverage": 20}, actor=org.school_user)
    row = stored(db, instance_id)
    key = instance_id
    in_process_a = live.take(key, row.version, row.workflow_json)
    assert in_process_a is not None
    tasks.complete_task(db, ready_task(db, instance_id), REWORK, actor=org.curator)  # process B, from the JSON
    live.keep(key, row.version, row.workflow_json, in_process_a)  # A's entry, now stale
    misses = live.misses
    tasks.complete_task(db, ready_task(db, instance_id), {"coverage": 80}, actor=org.school_user)
    assert live.misses == misses + 1
    with db.reading() as session:
        elements = session.scalars(select(Task.element_id).where(Task.instance_id == instance_id,
                                                                 Task.status == TaskStatus.READY)).all()
    # Had A's workflow been used, it would wait on the first review again (and B's rework would be lost).
    assert elements == ["review"] and stored(db, instance_id).version == 4


def test_a_rolled_back_completion_leaves_nothing_to_reuse(sqlite_db: Database, bundle_copy: Path) -> None:
    """Another writer commits between our read and our write (SQLite has no row lock to queue it): the
    version check refuses our transaction after the workflow already advanced in memory. The retry
    must start from what is stored, not from that workflow."""
    from tests.conftest import make_org

    org = make_org(sqlite_db)
    key = versions.deploy_template(sqlite_db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instance_id = instances.start_instance(sqlite_db, key, org.school, actor=OPERATOR).instance_id
    tasks.complete_task(sqlite_db, ready_task(sqlite_db, instance_id), {"coverage": 20}, actor=org.school_user)
    other = Database(sqlite_db.engine)

    def clock_with_a_concurrent_writer() -> datetime:
        with other.transaction() as session:  # e.g. a timer fired by the sweep meanwhile
            session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                            .values(version=ProcessInstance.version + 1))
        return datetime.now(UTC)

    racing = Database(sqlite_db.engine, clock=clock_with_a_concurrent_writer, sessions=sqlite_db.sessions)
    racing.caches = sqlite_db.caches  # one process, one database: one cache of live workflows
    cache = of(sqlite_db)
    size, cache.size = cache.size, DEFAULT_SIZE
    review = ready_task(sqlite_db, instance_id)
    with pytest.raises(ConcurrentUpdate):
        tasks.complete_task(racing, review, REWORK, actor=org.curator)
    assert stored(sqlite_db, instance_id).version == 3
    with sqlite_db.reading() as session:
        assert session.get(Task, review).status is TaskStatus.READY  # type: ignore[union-attr]
    try:
        done = tasks.complete_task(sqlite_db, review, {"decision": "accepted"}, actor=org.curator)
    finally:
        cache.size = size
    assert done.instance_completed and stored(sqlite_db, instance_id).version == 4
