"""Instances and tasks through the engine services, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.audit import instance_history
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.errors import (
    FormInvalid,
    NotAllowed,
    OrgUnitNotFound,
    TaskAlreadyCompleted,
    TaskClaimed,
    TemplateNotFound,
)
from engine.models import AuditRecord, Deadline, InstanceStatus, ProcessInstance, Task, TaskStatus
from engine.process import instances, tasks
from engine.templates import versions
from engine.templates.versions import compiled_version
from tests.conftest import Org


@pytest.fixture
def template_key(db: Database, bundle_copy: Path) -> str:
    return versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key


def visible(db: Database, login: str, instance_id: int) -> list[str]:
    return [t.element_id for t in tasks.list_tasks(db, actor=login) if t.instance_id == instance_id]


def only_task(db: Database, login: str, instance_id: int) -> int:
    [found] = [t for t in tasks.list_tasks(db, actor=login) if t.instance_id == instance_id]
    return found.id


def instance_row(db: Database, instance_id: int) -> ProcessInstance:
    with db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row


def test_start_mirrors_the_first_task_with_stage_role_scope_and_due(db: Database, org: Org,
                                                                     template_key: str) -> None:
    started = instances.start_instance(db, template_key, org.school, actor=OPERATOR)
    with db.reading() as session:
        [task] = session.scalars(select(Task).where(Task.instance_id == started.instance_id)).all()
        assert (task.element_id, task.stage, task.role.value, task.status) == (
            "fill_questionnaire", "questionnaire", "school", TaskStatus.READY)
        assert task.school.code == org.school and task.due_at is not None
        assert (task.due_at - task.created_at).days == 14
        rows = session.scalars(select(Deadline).where(Deadline.task_id == task.id).order_by(Deadline.fire_at)).all()
        # Its arrival at once (the sweep tells the school), a reminder 2 working days before, the due
        # time, then +3, +7 and +14 working days of escalation.
        assert rows[0].fire_at == task.created_at
        assert [(d.kind.value, d.step) for d in rows] == [("arrival", 0), ("reminder", 1), ("due", 0),
                                                          ("escalation", 1), ("escalation", 2), ("escalation", 3)]
        assert rows[2].fire_at == task.due_at and rows[1].fire_at < task.due_at < rows[3].fire_at
        instance = session.get(ProcessInstance, started.instance_id)
        assert instance is not None and instance.current_stage == "questionnaire"
        assert instance.status is InstanceStatus.RUNNING and instance.serializer_version


def test_only_the_right_people_see_and_act(db: Database, org: Org, template_key: str) -> None:
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    assert visible(db, org.school_user, instance_id) == ["fill_questionnaire"]
    for outsider in (org.foreign_school_user, org.curator, org.municipal, org.regional, org.admin):
        assert visible(db, outsider, instance_id) == []
    task_id = only_task(db, org.school_user, instance_id)
    with pytest.raises(NotAllowed):
        tasks.complete_task(db, task_id, {"coverage": 50}, actor=org.foreign_school_user)
    tasks.complete_task(db, task_id, {"coverage": 50}, actor=org.school_user)
    assert visible(db, org.curator, instance_id) == ["review"]
    assert visible(db, org.sibling_curator, instance_id) == []
    assert visible(db, org.school_user, instance_id) == []


def test_full_run_with_rework_and_audit(db: Database, org: Org, template_key: str) -> None:
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    steps = [(org.school_user, {"coverage": 20}),
             (org.curator, {"decision": "rework", "review_comment": "Мало"}),
             (org.school_user, {"coverage": 80}),
             (org.curator, {"decision": "accepted"})]
    for login, data in steps:
        version_before = instance_row(db, instance_id).version
        done = tasks.complete_task(db, only_task(db, login, instance_id), data, actor=login)
        assert instance_row(db, instance_id).version == version_before + 1
    assert done.instance_completed and done.next_task_ids == []
    row = instance_row(db, instance_id)
    assert row.status is InstanceStatus.COMPLETED and row.completed_at is not None
    with db.reading() as session:
        actions = [r.action for r in instance_history(session, instance_id)]
        statuses = session.scalars(select(Task.status).where(Task.instance_id == instance_id)).all()
        open_deadlines = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.instance_id == instance_id, Deadline.fired_at.is_(None)))
    assert actions[0] == "instance.started" and actions[-1] == "instance.completed"
    assert actions.count("task.completed") == 4 and actions.count("task.ready") == 4
    assert statuses == [TaskStatus.COMPLETED] * 4
    assert open_deadlines == 0


def test_invalid_form_data_gives_field_errors_and_changes_nothing(db: Database, org: Org,
                                                                  template_key: str) -> None:
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    task_id = only_task(db, org.school_user, instance_id)
    before = instance_row(db, instance_id)
    with db.reading() as session:
        audit_before = session.scalar(select(func.count()).select_from(AuditRecord))
    with pytest.raises(FormInvalid) as caught:
        tasks.complete_task(db, task_id, {"coverage": 150, "surprise": 1}, actor=org.school_user)
    assert set(caught.value.errors) == {"coverage", "surprise"}
    after = instance_row(db, instance_id)
    assert (after.version, after.workflow_json) == (before.version, before.workflow_json)
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == audit_before
        task = session.get(Task, task_id)
        assert task is not None and task.status is TaskStatus.READY


def test_a_failing_gateway_keeps_the_submission_and_parks_the_rest(db: Database, org: Org,
                                                                   bundle_copy: Path) -> None:
    # The gateway really runs and fails: its accepting condition reads a key the school's data lacks.
    bpmn = bundle_copy / "mini.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace("decision == 'accepted'</",
                                                             "decision == 'accepted' and school['region_approved']</"),
                    encoding="utf-8")
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    tasks.complete_task(db, only_task(db, org.school_user, instance_id), {"coverage": 5}, actor=org.school_user)
    review = only_task(db, org.curator, instance_id)
    before = instance_row(db, instance_id)

    done = tasks.complete_task(db, review, {"decision": "accepted", "review_comment": "Всё верно"}, actor=org.curator)

    assert done.incident_id is not None and "region_approved" in (done.incident_error or "")
    assert "«Принято?» (decision)" in (done.incident_error or "")
    after = instance_row(db, instance_id)
    assert after.version == before.version + 1 and after.status is InstanceStatus.RUNNING
    with db.reading() as session:
        task = session.get(Task, review)
        assert task is not None and task.status is TaskStatus.COMPLETED and task.completed_by_id is not None
        stored = WorkflowRun.restore(compiled_version(session, after.template_version_id), after.workflow_json)
    # The submission is in the stored workflow, not only on the task row: what the gateway will read.
    assert (stored.data["decision"], stored.data["review_comment"]) == ("accepted", "Всё верно")
    # The rest is parked at the gateway: nobody is given a task, the process is not over, and running on
    # from the stored state runs that same gateway again (a retry after a fix continues from there).
    assert visible(db, org.curator, instance_id) == [] and visible(db, org.school_user, instance_id) == []
    assert stored.ready_user_tasks() == [] and not stored.is_completed
    again = stored.advance_or_park()
    assert again is not None and "region_approved" in again.message and "(decision)" in again.message


def test_completing_twice_is_a_clear_conflict(db: Database, org: Org, template_key: str) -> None:
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    task_id = only_task(db, org.school_user, instance_id)
    tasks.complete_task(db, task_id, {"coverage": 40}, actor=org.school_user)
    with pytest.raises(TaskAlreadyCompleted, match="уже выполнена"):
        tasks.complete_task(db, task_id, {"coverage": 40}, actor=org.school_user)


def test_claim_and_reassign(db: Database, org: Org, template_key: str) -> None:
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    tasks.complete_task(db, only_task(db, org.school_user, instance_id), {"coverage": 40}, actor=org.school_user)
    review = only_task(db, org.curator, instance_id)
    assert tasks.claim_task(db, review, actor=org.curator).assignee == org.curator
    with pytest.raises(NotAllowed):  # a curator of another school may not take it
        tasks.reassign_task(db, review, org.sibling_curator, actor=org.sibling_curator)
    with pytest.raises(NotAllowed):  # the target has no curator role for this school
        tasks.reassign_task(db, review, org.sibling_curator, actor=org.municipal)
    released = tasks.reassign_task(db, review, None, actor=org.municipal)
    assert released.assignee is None
    tasks.claim_task(db, review, actor=org.curator)
    with db.reading() as session:
        actions = [r.action for r in instance_history(session, instance_id)]
    assert actions.count("task.claimed") == 2 and actions.count("task.reassigned") == 1


def test_claimed_task_is_reserved_for_its_assignee(db: Database, org: Org, template_key: str) -> None:
    from engine.org.core import GrantRow, OrgData, UserRow, apply_org
    from engine.roles import Role

    second = f"{org.curator}-b"
    apply_org(db, OrgData(users=[UserRow(second, "Второй куратор")],
                          grants=[GrantRow(second, Role.CURATOR, org.school)]))
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    tasks.complete_task(db, only_task(db, org.school_user, instance_id), {"coverage": 40}, actor=org.school_user)
    review = only_task(db, org.curator, instance_id)
    tasks.claim_task(db, review, actor=org.curator)
    with pytest.raises(TaskClaimed, match="другой исполнитель"):
        tasks.claim_task(db, review, actor=second)
    with pytest.raises(NotAllowed, match="закреплена"):
        tasks.complete_task(db, review, {"decision": "accepted"}, actor=second)
    assert tasks.reassign_task(db, review, second, actor=org.curator).assignee == second
    tasks.complete_task(db, review, {"decision": "accepted"}, actor=second)


def test_draft_is_partial_but_valid_and_shows_in_the_task(db: Database, org: Org, template_key: str) -> None:
    instance_id = instances.start_instance(db, template_key, org.school, actor=OPERATOR).instance_id
    task_id = only_task(db, org.school_user, instance_id)
    tasks.save_draft(db, task_id, {"comment": "черновик"}, actor=org.school_user)
    with pytest.raises(FormInvalid):
        tasks.save_draft(db, task_id, {"coverage": -1}, actor=org.school_user)
    detail = tasks.get_task(db, task_id, actor=org.school_user)
    assert detail.values == {"comment": "черновик"}
    assert detail.form["components"][0]["key"] == "coverage"
    with pytest.raises(NotAllowed):
        tasks.get_task(db, task_id, actor=org.foreign_school_user)
    assert tasks.get_task(db, task_id, actor=org.municipal).task.id == task_id  # coordinators may look


def test_unknown_things_are_reported_by_name(db: Database, org: Org, template_key: str) -> None:
    with pytest.raises(TemplateNotFound):
        instances.start_instance(db, "no-such-template", org.school, actor=OPERATOR)
    with pytest.raises(OrgUnitNotFound, match="школа с кодом «NOPE» не найдена"):
        instances.start_instance(db, template_key, "NOPE", actor=OPERATOR)
    with pytest.raises(OrgUnitNotFound):
        tasks.list_tasks(db, actor="nobody")


def test_starting_as_a_user_needs_oversight(db: Database, org: Org, template_key: str) -> None:
    with pytest.raises(NotAllowed):
        instances.start_instance(db, template_key, org.school, actor=org.school_user)
    with pytest.raises(NotAllowed):
        instances.start_instance(db, template_key, org.school, actor=org.other_municipal)
    started = instances.start_instance(db, template_key, org.school, actor=org.municipal)
    assert started.ready_task_ids


def test_injected_clock_sets_every_timestamp(db: Database, org: Org, template_key: str) -> None:
    moment = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    frozen = Database(db.engine, clock=lambda: moment)
    instance_id = instances.start_instance(frozen, template_key, org.school, actor=OPERATOR).instance_id
    [view] = [t for t in tasks.list_tasks(frozen, actor=org.school_user) if t.instance_id == instance_id]
    assert view.created_at == moment
    assert view.due_at == datetime(2027, 2, 15, 9, 0, tzinfo=UTC)
