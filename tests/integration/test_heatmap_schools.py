"""Issue 15, point 4: a heat-map count lists the schools behind it (within the viewer's area), and a school's
diagram and task list link only the steps the viewer may open."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import update

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import NotAllowed
from engine.models import Task
from engine.org.areas import Area
from engine.process import instances, tasks
from engine.process.cohorts import ensure_cohort
from engine.reports import dashboards
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import ROADMAP, signed_in, with_passwords
from web.app import create_app


def _start(db: Database, org: Org, *codes: str) -> tuple[str, dict[str, int]]:
    ensure_cohort(db, 2038)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    return key, {code: instances.start_instance(db, key, code, cohort_year=2038, actor=OPERATOR).instance_id
                 for code in codes}


def _at_curator_step(db: Database, org: Org, instance_id: int) -> int:
    """Moves the school's roadmap to the curator's first step; returns that task's id."""
    [selection] = [t for t in tasks.list_tasks(db, actor=org.regional) if t.instance_id == instance_id]
    tasks.complete_task(db, selection.id, {"participation": "confirmed", "curator_login": org.curator},
                        actor=org.regional)
    [school_step] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    tasks.complete_task(db, school_step.id, {"questionnaires_done": True}, actor=org.school_user)
    [curator_step] = [t for t in tasks.list_tasks(db, actor=org.curator) if t.instance_id == instance_id]
    return curator_step.id


def test_a_count_lists_its_schools_in_the_area_most_overdue_first(db: Database) -> None:
    org = make_org(db)
    key, started = _start(db, org, org.school, org.sibling_school, org.foreign_school)
    with db.transaction() as session:
        session.execute(update(Task).where(Task.instance_id == started[org.sibling_school])
                        .values(due_at=datetime(2000, 1, 1, tzinfo=UTC), escalation_level=1))
    region = Area(org.region, None, "область")
    heat = dashboards.heat_map(db, region, key, actor=org.regional)
    waiting = dashboards.waiting_at(db, region, key, "confirm_participation", actor=org.regional)
    assert heat["confirm_participation"] == len(waiting) == 3  # the count and its list agree
    assert [w.school_code for w in waiting][0] == org.sibling_school  # overdue first
    assert waiting[0].overdue and waiting[0].escalation_level == 1 and not waiting[1].overdue
    assert {w.municipality for w in waiting} == {"Первый район", "Второй район"}
    municipality = Area(org.region, org.municipality, "район")
    assert {w.school_code for w in dashboards.waiting_at(db, municipality, key, "confirm_participation",
                                                         actor=org.municipal)} == {org.school, org.sibling_school}
    assert dashboards.waiting_at(db, region, key, "no_such_step", actor=org.regional) == []
    with pytest.raises(NotAllowed):  # another municipality's coordinator may not look
        dashboards.waiting_at(db, municipality, key, "confirm_participation", actor=org.other_municipal)


def test_the_school_sees_where_the_curator_is_without_a_link(db: Database) -> None:
    org = make_org(db)
    _, started = _start(db, org, org.school)
    instance_id = started[org.school]
    curator_task = _at_curator_step(db, org, instance_id)
    as_school = dashboards.diagram_state(db, instance_id, actor=org.school_user)
    [element] = as_school.current
    assert as_school.links == {}  # the curator's step is shown, not linked
    assert dashboards.diagram_state(db, instance_id, actor=org.curator).links == {element: curator_task}
    assert dashboards.diagram_state(db, instance_id, actor=org.municipal).links == {element: curator_task}
    rows = {t["id"]: t["may_open"] for t in dashboards.school_timeline(db, org.school, actor=org.school_user).tasks}
    assert rows[curator_task] is False


def test_the_school_page_links_only_what_the_viewer_may_open(db: Database) -> None:
    org = make_org(db)
    with_passwords(db, org)
    _, started = _start(db, org, org.school)
    curator_task = _at_curator_step(db, org, started[org.school])
    app: Flask = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": False})
    link = f'href="/tasks/{curator_task}"'
    school_page = signed_in(app, org.school_user).get(f"/schools/{org.school}").get_data(as_text=True)
    assert link not in school_page and "data-links='{}'" in school_page
    assert signed_in(app, org.school_user).get(f"/tasks/{curator_task}").status_code == 403  # what the link led to
    curator_page = signed_in(app, org.curator).get(f"/schools/{org.school}").get_data(as_text=True)
    assert link in curator_page
    [links] = re.findall(r"data-links='([^']*)'", curator_page)
    assert list(json.loads(links).values()) == [curator_task]
