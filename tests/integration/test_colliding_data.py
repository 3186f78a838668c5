"""Data that looks like the serializer's own (``typename`` keys, nested and in lists) goes through the whole
engine: forms, completions restored from the database at every step, instance migration, and the Alembic
migration that rewrites states stored before user keys were escaped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.bpmn import stored_data
from engine.bpmn.runtime import SERIALIZER_VERSION, WorkflowRun
from engine.db import Database
from engine.models import InstanceStatus, ProcessInstance, Task, TaskStatus
from engine.process import instances, live_workflows, tasks
from engine.process.migration import plan_migration
from engine.templates import versions
from tests.conftest import Org
from tests.helpers import v1_dump

MIGRATION = next((Path(__file__).parents[2] / "migrations" / "versions").glob("*_d5e7f9a1b3c5_*.py"))

COLLIDING = {
    "coverage": 60,
    "typename": "BpmnWorkflow",
    "items": [{"typename": "UUID", "note": "~x"}, {"typename": "Task", "note": "typename"}],
}


@pytest.fixture
def colliding_key(db: Database, bundle_copy: Path) -> str:
    """The mini template whose questionnaire has a field keyed ``typename`` and a list whose items have one."""
    path = bundle_copy / "forms" / "questionnaire.form"
    form = json.loads(path.read_text(encoding="utf-8"))
    form["components"] += [
        {"type": "textfield", "key": "typename", "label": "Тип"},
        {"type": "dynamiclist", "path": "items", "label": "Пункты", "components": [
            {"type": "textfield", "key": "typename", "label": "Тип пункта"},
            {"type": "textfield", "key": "note", "label": "Заметка"}]},
    ]
    path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    return versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key


@pytest.fixture
def no_live_cache(db: Database) -> Any:
    """Every step restores its workflow from the stored JSON, as after a restart or on another worker."""
    live = live_workflows.of(db)
    size, live.size = live.size, 0
    live.clear()
    yield
    live.size = size


def ready(db: Database, instance_id: int) -> Task:
    with db.reading() as session:
        return session.scalars(select(Task).where(Task.instance_id == instance_id,
                                                  Task.status == TaskStatus.READY)).one()


def stored_run(db: Database, instance_id: int) -> tuple[ProcessInstance, WorkflowRun]:
    with db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row, WorkflowRun.restore(versions.compiled_version(session, row.template_version_id),
                                        row.workflow_json)


@pytest.mark.usefixtures("no_live_cache")
def test_a_form_with_typename_keys_runs_the_whole_lifecycle(db: Database, org: Org, colliding_key: str) -> None:
    instance_id = instances.start_instance(db, colliding_key, org.school, actor=OPERATOR).instance_id
    steps = [(org.school_user, COLLIDING), (org.curator, {"decision": "rework"}),
             (org.school_user, {**COLLIDING, "coverage": 90, "typename": "Task"}),
             (org.curator, {"decision": "accepted"})]
    for login, data in steps:
        tasks.complete_task(db, ready(db, instance_id).id, data, actor=login)
        row, run = stored_run(db, instance_id)
        assert {key: run.data[key] for key in data} == data
        assert row.serializer_version == SERIALIZER_VERSION
    row, run = stored_run(db, instance_id)
    assert row.status is InstanceStatus.COMPLETED and run.data["typename"] == "Task"


def test_the_dry_run_of_a_migration_reads_colliding_data(db: Database, org: Org, colliding_key: str,
                                                         bundle_copy: Path) -> None:
    instance_id = instances.start_instance(db, colliding_key, org.school, actor=OPERATOR).instance_id
    tasks.complete_task(db, ready(db, instance_id).id, COLLIDING, actor=org.school_user)
    (bundle_copy / "mini.bpmn").write_text((bundle_copy / "mini.bpmn").read_text(encoding="utf-8")
                                           .replace('name="Проверить анкету"', 'name="Проверить анкету школы"'),
                                           encoding="utf-8")
    versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR)
    [check] = [c for c in plan_migration(db, colliding_key, 1, 2, actor=org.admin).instances
                if c.instance_id == instance_id]
    assert check.can_move, check.reasons


def _run_migration(db: Database, step: str) -> None:
    spec = importlib.util.spec_from_file_location("escape_process_data_keys", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with db.engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        getattr(module, step)()


def _store_as_v1(db: Database, instance_id: int) -> None:
    """Rewrite the row as the engine stored it before keys were escaped."""
    _, run = stored_run(db, instance_id)
    with db.transaction() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        row.workflow_json = v1_dump(run)
        row.serializer_version = SERIALIZER_VERSION.replace("/roadmap-2", "/roadmap-1")


@pytest.mark.usefixtures("no_live_cache")
def test_the_alembic_migration_rewrites_old_states_and_only_them(db: Database, org: Org, colliding_key: str) -> None:
    old, already_new = (instances.start_instance(db, colliding_key, org.school, actor=OPERATOR).instance_id
                        for _ in range(2))
    for instance_id in (old, already_new):
        tasks.complete_task(db, ready(db, instance_id).id,
                            {"coverage": 50, "typename": "~x", "items": [{"typename": "~y", "note": "z"}]},
                            actor=org.school_user)
    _store_as_v1(db, old)
    with db.transaction() as session:  # a step by the new engine rewrites the JSON but leaves the old label
        row = session.get(ProcessInstance, already_new)
        assert row is not None
        row.serializer_version = SERIALIZER_VERSION.replace("/roadmap-2", "/roadmap-1")
        new_json = row.workflow_json

    _run_migration(db, "upgrade")
    for instance_id in (old, already_new):
        row, run = stored_run(db, instance_id)
        assert row.serializer_version == SERIALIZER_VERSION
        assert json.loads(row.workflow_json)[stored_data.FORMAT_KEY] == stored_data.FORMAT
        assert run.data["typename"] == "~x" and run.data["items"] == [{"typename": "~y", "note": "z"}]
    assert stored_run(db, already_new)[0].workflow_json == new_json  # not escaped twice
    tasks.complete_task(db, ready(db, old).id, {"decision": "accepted"}, actor=org.curator)
    assert stored_run(db, old)[0].status is InstanceStatus.COMPLETED

