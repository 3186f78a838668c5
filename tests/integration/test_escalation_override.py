"""A user task with its own escalation chain (roadmap:escalation) gets its own deadline rows, and the
sweep follows them: other moments, other levels, and none at all for ``none``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.models import Deadline, DeadlineKind, Notification, Task, User
from engine.process import instances, tasks
from engine.templates import versions
from engine.templates.diff import diff_versions
from tests.conftest import Org

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday
DUE = START + timedelta(days=14)  # the school's task: P14D, Monday 15 March


def start_with_escalation(db: Database, org: Org, bundle: Path, rule: str) -> int:
    """Deploy the mini bundle with ``rule`` on the school's first task, start it, return that task's id."""
    bpmn = bundle / "mini.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    bpmn.write_text(text.replace('id="fill_questionnaire" ', f'id="fill_questionnaire" roadmap:escalation="{rule}" '),
                    encoding="utf-8")
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    at_start = Database(db.engine, clock=lambda: START, sessions=db.sessions)
    instance_id = instances.start_instance(at_start, key, org.school, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    return task.id


def escalation_rows(db: Database, task_id: int) -> list[tuple[int, datetime, dict[str, object]]]:
    with db.reading() as session:
        rows = session.scalars(select(Deadline).where(Deadline.task_id == task_id,
                                                      Deadline.kind == DeadlineKind.ESCALATION).order_by(Deadline.step))
        return [(r.step, r.fire_at.replace(tzinfo=r.fire_at.tzinfo or UTC), dict(r.payload or {})) for r in rows]


def test_overridden_task_escalates_on_its_own_chain(db: Database, org: Org, bundle_copy: Path) -> None:
    task_id = start_with_escalation(db, org, bundle_copy, "1WD:2, P10D:3:federal")
    assert escalation_rows(db, task_id) == [
        (1, datetime(2027, 3, 16, 9, tzinfo=UTC), {"levels_up": 2, "federal_overdue": False}),  # +1 working day
        (2, DUE + timedelta(days=10), {"levels_up": 3, "federal_overdue": True}),
    ]
    first = [a.kind for a in sweep(db, now=datetime(2027, 3, 16, 10, tzinfo=UTC)).actions if a.task_id == task_id]
    assert first == ["reminder", "due", "escalation"]
    with db.reading() as session:
        heard = set(session.scalars(select(User.login).join(Notification, Notification.user_id == User.id)
                                    .where(Notification.task_id == task_id, Notification.kind == "escalation")))
        task = session.get(Task, task_id)
        assert task is not None and task.escalation_level == 1 and not task.federal_overdue
    assert heard == {org.municipal}  # two levels up from the school, skipping the curator


def test_none_means_due_notice_but_no_escalation(db: Database, org: Org, bundle_copy: Path) -> None:
    task_id = start_with_escalation(db, org, bundle_copy, "none")
    assert escalation_rows(db, task_id) == []
    with db.reading() as session:
        kinds = set(session.scalars(select(Deadline.kind).where(Deadline.task_id == task_id)))
    assert DeadlineKind.DUE in kinds
    actions = [a.kind for a in sweep(db, now=DUE + timedelta(days=60)).actions if a.task_id == task_id]
    assert actions == ["reminder", "due"]  # the school is still told; nobody above it


def test_template_diff_names_a_changed_escalation(db: Database, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    bpmn = bundle_copy / "mini.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace('id="review" ', 'id="review" roadmap:escalation="none" '),
                    encoding="utf-8")
    assert versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).version == 2
    changed = diff_versions(db, key, 1, 2, actor=OPERATOR).tasks.changed
    assert changed == {"review": ["эскалация: «как в manifest.json» → «none»"]}
