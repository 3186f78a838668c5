"""Starting a cohort in chunks: every school gets what a single start gives it, a failing school is
reported while the rest start, and a re-run starts only what is missing. PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import AuditRecord, Deadline, ProcessInstance, School, Task, TaskStatus
from engine.org.core import OrgData, apply_org
from engine.process import instances
from engine.templates import versions
from tests.conftest import Org, make_org, unique

YEAR = 2041


@pytest.fixture
def template_key(db: Database, bundle_copy: Path) -> str:
    return versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key


def region_with_schools(db: Database, count: int) -> tuple[Org, list[str]]:
    """The test org's region plus ``count - 3`` more schools in its first municipality."""
    org = make_org(db)
    extra = [f"X{unique()}" for _ in range(count - 3)]
    apply_org(db, OrgData(schools=[(code, f"Школа {code}", org.municipality) for code in extra]))
    return org, [org.school, org.sibling_school, org.foreign_school, *extra]


def counts(db: Database, instance_ids: list[int]) -> tuple[int, int, int, int]:
    with db.reading() as session:
        def count(model: type, *where: object) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)
        return (count(Task, Task.instance_id.in_(instance_ids), Task.status == TaskStatus.READY),
                count(Deadline, Deadline.instance_id.in_(instance_ids)),
                count(AuditRecord, AuditRecord.instance_id.in_(instance_ids), AuditRecord.action == "instance.started"),
                count(AuditRecord, AuditRecord.instance_id.in_(instance_ids), AuditRecord.action == "task.ready"))


def test_chunks_give_every_school_what_a_single_start_gives(db: Database, template_key: str) -> None:
    org, codes = region_with_schools(db, 8)
    single = instances.start_instance(db, template_key, codes[0], cohort_year=None, actor=OPERATOR)
    result = instances.start_cohort(db, template_key, YEAR, region_code=org.region, chunk_size=3, actor=OPERATOR)
    assert len(result.started) == 8 and result.failed == {} and result.already_running == 0
    tasks_open, deadlines, started, ready = counts(db, result.started)
    per_school = counts(db, [single.instance_id])
    assert (tasks_open, deadlines, started, ready) == tuple(8 * n for n in per_school)
    with db.reading() as session:
        rows = session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(result.started))).all()
        schools = set(session.scalars(select(School.code).where(School.id.in_([r.school_id for r in rows]))))
        assert schools == set(codes)
        assert {(r.version, r.current_stage, r.status.value) for r in rows} == {(1, "questionnaire", "running")}
        # Tasks carry their school's municipality and region, like a single start's.
        task_places = session.execute(select(Task.school_id, Task.municipality_id, Task.region_id)
                                      .where(Task.instance_id.in_(result.started))).all()
        school_places = session.execute(select(School.id, School.municipality_id, School.region_id)
                                        .where(School.code.in_(codes))).all()
        assert set(task_places) == set(school_places)


def test_a_failing_school_is_reported_and_the_rest_of_its_chunk_start(db: Database, template_key: str) -> None:
    """One school gets its roadmap from somewhere else while the chunk is being written: the chunk
    fails in the database, is started again school by school, and only that school is reported."""
    org, codes = region_with_schools(db, 6)
    instances.start_cohort(db, template_key, YEAR, region_code="no-such-region", actor=OPERATOR)  # creates the cohort
    meanwhile = Database(db.engine)
    raced: list[int] = []

    def clock() -> datetime:
        if not raced:  # first read of the clock: inside the first chunk's transaction
            raced.append(instances.start_instance(meanwhile, template_key, org.sibling_school,
                                                  cohort_year=YEAR, actor=OPERATOR).instance_id)
        return datetime.now(UTC)

    racing = Database(db.engine, clock=clock, sessions=db.sessions)
    result = instances.start_cohort(racing, template_key, YEAR, region_code=org.region, chunk_size=4, actor=OPERATOR)
    assert list(result.failed) == [org.sibling_school] and "уже есть маршрут" in result.failed[org.sibling_school]
    assert len(result.started) == 5
    with db.reading() as session:
        per_school = session.execute(select(School.code, func.count(ProcessInstance.id))
                                     .join(ProcessInstance, ProcessInstance.school_id == School.id)
                                     .where(School.code.in_(codes), ProcessInstance.cohort_id.is_not(None))
                                     .group_by(School.code)).all()
    assert dict(per_school) == dict.fromkeys(codes, 1)


def test_a_rerun_starts_only_the_missing_schools(db: Database, template_key: str) -> None:
    org, codes = region_with_schools(db, 5)
    instances.start_cohort(db, template_key, YEAR, region_code="no-such-region", actor=OPERATOR)
    first = instances.start_instance(db, template_key, codes[3], cohort_year=YEAR, actor=OPERATOR)
    result = instances.start_cohort(db, template_key, YEAR, region_code=org.region, chunk_size=2, actor=OPERATOR)
    assert len(result.started) == 4 and result.already_running == 1 and result.failed == {}
    assert first.instance_id not in result.started
    again = instances.start_cohort(db, template_key, YEAR, region_code=org.region, chunk_size=2, actor=OPERATOR)
    assert again.started == [] and again.failed == {} and again.already_running == 5


def test_already_running_counts_only_the_regions_schools(db: Database, template_key: str) -> None:
    """Another region's roadmaps of the same year are not this region's «already running»."""
    other, _ = region_with_schools(db, 5)
    mine, _ = region_with_schools(db, 3)
    instances.start_cohort(db, template_key, YEAR + 2, region_code=other.region, actor=OPERATOR)
    result = instances.start_cohort(db, template_key, YEAR + 2, region_code=mine.region, actor=OPERATOR)
    assert (len(result.started), result.already_running) == (3, 0)


def test_a_template_with_timers_gets_a_timer_row_per_school(db: Database) -> None:
    timer_bundle = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "timer"
    key = versions.deploy_template(db, versions.read_bundle(timer_bundle), actor=OPERATOR).key
    org, codes = region_with_schools(db, 4)
    result = instances.start_cohort(db, key, YEAR + 1, region_code=org.region, chunk_size=3, actor=OPERATOR)
    assert len(result.started) == 4 and result.failed == {}
    with db.reading() as session:
        timers = session.scalars(select(Deadline.instance_id).where(Deadline.instance_id.in_(result.started),
                                                                    Deadline.kind == "timer")).all()
    assert sorted(timers) == sorted(result.started)
