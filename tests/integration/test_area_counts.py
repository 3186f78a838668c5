"""The dashboards' counts per area (``engine.reports.status.area_counts``): per region for the country, per
municipality for a region — exact numbers, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import Task, TaskStatus
from engine.process import instances, tasks
from engine.reports.status import AreaCounts, area_counts
from engine.templates import versions
from tests.conftest import Org


def _ready(db: Database, instance_id: int) -> int:
    with db.reading() as session:
        return session.scalars(select(Task.id).where(Task.instance_id == instance_id,
                                                     Task.status == TaskStatus.READY)).one()


def _by_code(counts: list[AreaCounts]) -> dict[str, AreaCounts]:
    return {area.code: area for area in counts}


def test_counts_per_region_and_per_municipality(db: Database, org: Org, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    done = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    instances.start_instance(db, key, org.sibling_school, actor=OPERATOR)
    instances.start_instance(db, key, org.foreign_school, actor=OPERATOR)
    tasks.complete_task(db, _ready(db, done), {"coverage": 80}, actor=org.school_user)
    tasks.complete_task(db, _ready(db, done), {"decision": "accepted"}, actor=org.curator)
    later = Database(db.engine, clock=lambda: db.now() + timedelta(days=60), sessions=db.sessions)

    stages, country = area_counts(later, key)
    assert [stage.key for stage in stages] == ["questionnaire"]
    region = _by_code(country)[org.region]
    assert (region.name, region.instances, region.completed, region.at_stage, region.with_overdue) == \
        ("Тестовая область", 3, 1, {"questionnaire": 2}, 2)

    _, municipalities = area_counts(later, key, region_code=org.region)
    assert sorted(_by_code(municipalities)) == sorted([org.municipality, org.other_municipality])
    first, second = _by_code(municipalities)[org.municipality], _by_code(municipalities)[org.other_municipality]
    assert (first.name, first.instances, first.completed, first.at_stage, first.with_overdue) == \
        ("Первый район", 2, 1, {"questionnaire": 1}, 1)
    assert (second.name, second.instances, second.completed, second.at_stage, second.with_overdue) == \
        ("Второй район", 1, 0, {"questionnaire": 1}, 1)

    _, now = area_counts(db, key, region_code=org.region)
    assert sum(area.with_overdue for area in now) == 0  # nothing is due yet
