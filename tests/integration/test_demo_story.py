"""The demo tells a story: right after `make run` the schools are at different steps, some late and
escalated, and every role has something to do — written by the engine's own services and sweeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.db import Database, upgrade_schema
from engine.demo import load_demo, school_login
from engine.demo_story import PLOT
from engine.models import AuditRecord, Cohort, Notification, ProcessInstance, Task, TaskStatus
from engine.process import attachments, measures, notifications, tasks, visits
from engine.templates import versions
from tests.conftest import Clock

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"
TODAY = datetime(2027, 11, 17, 11, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def demo_db(tmp_path: Path) -> Iterator[Database]:
    """A database of its own: the story's sweeps act on every deadline that is due, not only the demo's."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'demo.sqlite3'}", clock=Clock(TODAY))
    upgrade_schema(db)
    versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR)
    yield db
    db.engine.dispose()


def test_the_demo_cohort_is_under_way_with_late_and_escalated_work(demo_db: Database) -> None:
    loaded = load_demo(demo_db)
    assert loaded.story is not None and len(loaded.cohort.started) == 8
    assert loaded.story.steps == sum(len(plot) for plot in PLOT.values())
    with demo_db.reading() as session:
        stages = {row.current_stage for row in session.scalars(select(ProcessInstance))}
        cohort = session.scalars(select(Cohort)).one()
        ready = session.scalars(select(Task).where(Task.status == TaskStatus.READY)).all()
        late = [t for t in ready if t.due_at is not None and t.due_at.replace(tzinfo=UTC) < TODAY]
        stamps = [*session.scalars(select(Notification.created_at)), *session.scalars(select(AuditRecord.at))]
        started = session.scalar(select(func.min(ProcessInstance.started_at)))
    assert stages == {"selection", "questionnaire", "risk_profile", "measures_program", "monitoring"}
    # The calendar moved with the story: questionnaires closed, concepts due ahead.
    assert date.fromisoformat(cohort.dates["questionnaire_close"]) < TODAY.date() \
        < date.fromisoformat(cohort.dates["concept_due"])
    assert started is not None and (TODAY - started.replace(tzinfo=UTC)).days > 50
    # Late work, escalated as far as the sweeps took it; nothing written after "now".
    assert {t.element_id for t in late} == {"confirm_participation", "run_questionnaires", "confirm_coverage"}
    assert all(t.escalation_level >= 1 for t in late) and max(t.escalation_level for t in late) == 3
    assert max(moment.replace(tzinfo=UTC) for moment in stamps) <= TODAY

    desks = {login: tasks.list_tasks(demo_db, actor=login) for login in
             ["region-42", "curator-1", "curator-2", "curator-4",
              school_login("42-BEL-02"), school_login("42-PROM-03")]}
    assert {login for login, found in desks.items() if not found} == set()
    assert {t.element_id for t in desks["curator-1"]} == {"review_concept", "confirm_coverage"}
    assert [t.school_code for t in desks["region-42"]] == ["42-TAI-03"]
    # The municipal coordinator was told the curator is late with a school of theirs.
    told, _ = notifications.list_notifications(demo_db, actor="mun-prom")
    assert [n.kind for n in told] == ["escalation"] and "Тарасовская" in told[0].body
    # The concept went back once: two versions of its file, the curator's remark in the data.
    [visit] = [t for t in tasks.list_tasks(demo_db, actor="curator-4") if t.school_code == "42-TAI-01"]
    concept = [t for t in _done(demo_db, "42-TAI-01") if t.element_id == "prepare_concept"]
    versions_seen = [d.version for t in concept for d in attachments.for_task(demo_db, t.id, actor="curator-4")]
    assert visit.element_id == "curator_visit" and sorted(versions_seen)[-1] == 2
    # Its roadmap of measures: one done on time and accepted, one late and escalated to the curator.
    found = measures.list_measures(demo_db, "42-TAI-01", actor="curator-4")
    assert (found.execution.on_time, found.execution.overdue, found.execution.percent) == (1, 1, 50)
    told, _ = notifications.list_notifications(demo_db, actor="curator-4")
    assert any(n.kind == "escalation" and "Диагностика профессиональных дефицитов" in n.title for n in told)
    # The inbox names late measures to the school's own users only.
    assert measures.my_late_measures(demo_db, actor=school_login("42-TAI-01")) == {"42-TAI-01": 1}
    assert measures.my_late_measures(demo_db, actor="curator-4") == {}
    # The municipal coordinator planned the curator's visits: the first one done (its report linked), two ahead.
    planned = visits.list_visits(demo_db, "42-TAI-01", actor="curator-4")
    assert [v.status for v in planned.visits] == ["done", "planned", "planned"]
    assert planned.visits[0].report_task_id is not None and not any(v.overdue for v in planned.visits)
    assert sum(t.done for t in planned.tallies.values()) == 1 and sum(t.planned for t in planned.tallies.values()) == 3


def test_the_story_is_told_once(demo_db: Database) -> None:
    load_demo(demo_db)
    again = load_demo(demo_db)
    assert again.story is None and again.cohort.already_running == 8 and not again.cohort.started


def _done(db: Database, school: str) -> list[Task]:
    with db.reading() as session:
        return list(session.scalars(select(Task).join(ProcessInstance).where(
            Task.status == TaskStatus.COMPLETED, ProcessInstance.school.has(code=school))))
