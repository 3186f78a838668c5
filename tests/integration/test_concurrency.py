"""Two people completing one task at the same moment: exactly one wins, nothing is half-written.

PostgreSQL only: that is where several web workers write at once (SQLite serializes writers).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import ConcurrentUpdate, Conflict
from engine.fast_writes import write_now
from engine.models import AuditRecord, ProcessInstance, Task, TaskStatus
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process import instances, migration, tasks
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Org, make_org


@pytest.fixture
def pg_org(pg_db: Database) -> Org:
    return make_org(pg_db)


@pytest.fixture
def started(pg_db: Database, pg_org: Org, bundle_copy: Path) -> tuple[int, int]:
    key = versions.deploy_template(pg_db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instance_id = instances.start_instance(pg_db, key, pg_org.school, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(pg_db, actor=pg_org.school_user) if t.instance_id == instance_id]
    return instance_id, task.id


def _count(db: Database, query: object) -> int:
    with db.reading() as session:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def test_two_concurrent_completions_exactly_one_wins(pg_db: Database, pg_org: Org,
                                                     started: tuple[int, int]) -> None:
    instance_id, task_id = started
    second_user = f"{pg_org.school_user}-deputy"
    apply_org(pg_db, OrgData(users=[UserRow(second_user, "Заместитель директора")],
                             grants=[GrantRow(second_user, Role.SCHOOL, pg_org.school)]))
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(login: str, coverage: int) -> None:
        barrier.wait()
        try:
            outcomes[login] = tasks.complete_task(pg_db, task_id, {"coverage": coverage}, actor=login)
        except Conflict as err:
            outcomes[login] = err

    threads = [threading.Thread(target=attempt, args=(pg_org.school_user, 30)),
               threading.Thread(target=attempt, args=(second_user, 90))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    conflicts = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(outcomes) == 2 and len(conflicts) == 1, outcomes
    assert "уже выполнена" in conflicts[0].message or isinstance(conflicts[0], ConcurrentUpdate)

    completed_audits = _count(pg_db, select(func.count()).select_from(AuditRecord).where(
        AuditRecord.task_id == task_id, AuditRecord.action == "task.completed"))
    review_rows = _count(pg_db, select(func.count()).select_from(Task).where(
        Task.instance_id == instance_id, Task.element_id == "review", Task.status == TaskStatus.READY))
    assert completed_audits == 1 and review_rows == 1
    with pg_db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None and instance.version == 2


def test_a_migration_over_a_stale_instance_version_is_a_conflict_and_rolls_back(
        pg_db: Database, pg_org: Org, started: tuple[int, int], bundle_copy: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration writes the instance through the unit of work's flush (not the completion's own UPDATE):
    if its row lock were bypassed, the version check still refuses the lost update — the instance is
    reported as failed with a reason an admin can act on, and nothing of the move is written."""
    instance_id, task_id = started
    renamed = tmp_path / "renamed"
    shutil.copytree(bundle_copy, renamed)
    bpmn = renamed / "mini.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace('name="Заполнить анкету"', 'name="Заполнить анкету 2"'),
                    encoding="utf-8")
    deployed = versions.deploy_template(pg_db, versions.read_bundle(renamed), actor=OPERATOR)
    assert deployed.version == 2
    with pg_db.reading() as session:
        before = session.get(ProcessInstance, instance_id)
        assert before is not None
    lock = migration.lock_instance

    def stale_lock(session: Session, instance_id: int) -> ProcessInstance:
        instance = lock(session, instance_id)
        set_committed_value(instance, "version", instance.version - 1)  # as if read before another writer
        return instance

    monkeypatch.setattr(migration, "lock_instance", stale_lock)
    run = migration.start_migration(pg_db, deployed.key, 1, 2, actor=pg_org.admin)
    result = migration.run_migration(pg_db, run.id)

    assert (result.moved, result.failed) == (0, 1)
    [check] = result.results
    assert check.instance_id == instance_id and "процесс изменился во время переноса" in check.reasons[0]
    with pg_db.reading() as session:
        after, task = session.get(ProcessInstance, instance_id), session.get(Task, task_id)
        assert after is not None and task is not None
        assert (after.version, after.template_version_id, after.workflow_json) == (
            before.version, before.template_version_id, before.workflow_json)
        assert task.name == "Заполнить анкету" and task.status is TaskStatus.READY
        actions = session.scalars(select(AuditRecord.action).where(AuditRecord.instance_id == instance_id)).all()
    assert "instance.migration_failed" in actions and "instance.migrated" not in actions


def test_a_completion_over_a_stale_version_is_a_conflict_and_writes_nothing(
        pg_db: Database, pg_org: Org, started: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The completion writes the instance with its own UPDATE: it must refuse a lost update as the flush did."""
    instance_id, task_id = started
    lock = tasks.lock_step

    def stale_lock(session: Session, task_id: int, login: str) -> instances.StepStart | None:
        start = lock(session, task_id, login)
        assert start is not None
        # as if read before another writer
        set_committed_value(start.instance, "version", start.instance.version - 1)
        return start

    monkeypatch.setattr(tasks, "lock_step", stale_lock)
    with pytest.raises(ConcurrentUpdate):
        tasks.complete_task(pg_db, task_id, {"coverage": 50}, actor=pg_org.school_user)
    with pg_db.reading() as session:
        task, instance = session.get(Task, task_id), session.get(ProcessInstance, instance_id)
        assert task is not None and task.status is TaskStatus.READY
        assert instance is not None and instance.version == 1
        assert session.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "task.completed", AuditRecord.instance_id == instance_id)) == 0


def test_writing_the_instance_bumps_its_version_once_and_leaves_it_clean(pg_db: Database,
                                                                        started: tuple[int, int]) -> None:
    instance_id, _ = started
    with pg_db.transaction() as session:
        instance = instances.lock_instance(session, instance_id)
        instance.current_stage = "elsewhere"
        write_now(session, instance)
        assert instance.version == 2 and not session.is_modified(instance) and instance not in session.dirty
        session.flush()
    with pg_db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None and (row.version, row.current_stage) == (2, "elsewhere")
