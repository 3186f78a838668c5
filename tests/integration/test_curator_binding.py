"""Who may be made a school's curator when a coordinator confirms its participation: the region's curators
and its curator pool, never the school's own user — checked by the engine for the API and the web, and
offered to the form as a list of candidates."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import event, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import FormInvalid, NotAllowed
from engine.models import RoleGrant, School, User
from engine.org import curator_pool
from engine.org.api_tokens import create_token
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process import instances, tasks
from engine.process.actions import curator_candidates, schools_word
from engine.process.cohorts import ensure_cohort
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Org, make_org, unique
from tests.helpers import ROADMAP, post, signed_in, with_passwords
from web.app import create_app
from web.cli import cli

CONFIRM = "confirm_participation"


@dataclass
class Binding:
    db: Database
    app: Flask
    org: Org
    other: Org  # another region
    task_id: int


@pytest.fixture
def binding(db: Database) -> Binding:
    org, other = make_org(db), make_org(db)
    with_passwords(db, org)
    ensure_cohort(db, 2037)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, cohort_year=2037, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(db, actor=org.regional) if t.instance_id == instance_id]
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    return Binding(db, app, org, other, task.id)


def _curators_of(db: Database, school_code: str) -> set[str]:
    with db.reading() as session:
        return set(session.scalars(select(User.login).join(RoleGrant, RoleGrant.user_id == User.id)
                                   .join(School, School.id == RoleGrant.school_id)
                                   .where(RoleGrant.role == Role.CURATOR, School.code == school_code)))


def _api_complete(b: Binding, curator: str) -> Any:
    token = create_token(b.db, "тест", actor=b.org.regional)[1]
    return b.app.test_client().post(f"/api/v1/tasks/{b.task_id}/complete", headers={"Authorization": f"Bearer {token}"},
                                    json={"data": {"participation": "confirmed", "curator_login": curator}})


def test_the_schools_own_user_cannot_be_made_its_curator_through_the_api(binding: Binding) -> None:
    answer = _api_complete(binding, binding.org.school_user)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    [message] = answer.json["errors"]["curator_login"]
    assert "пользователь этой школы" in message
    assert binding.org.school_user not in _curators_of(binding.db, binding.org.school)
    assert tasks.get_task(binding.db, binding.task_id, actor=binding.org.regional).task.status == "ready"


@pytest.mark.parametrize("who", ["municipal", "foreign_school_user", "other-region curator"])
def test_users_who_are_not_candidates_of_the_region_are_refused(binding: Binding, who: str) -> None:
    login = binding.other.curator if who == "other-region curator" else getattr(binding.org, who)
    with pytest.raises(FormInvalid) as refused:
        tasks.complete_task(binding.db, binding.task_id, {"participation": "confirmed", "curator_login": login},
                            actor=binding.org.regional)
    [message] = refused.value.errors["curator_login"]
    assert "не входит в число кандидатов" in message
    assert login not in _curators_of(binding.db, binding.org.school)


def test_the_schools_own_user_is_refused_on_the_task_page(binding: Binding) -> None:
    regional = signed_in(binding.app, binding.org.regional)
    url = f"/tasks/{binding.task_id}"
    status, body = post(regional, url, {"action": "complete", "data": json.dumps(
        {"participation": "confirmed", "curator_login": binding.org.school_user})}, url)
    assert status == 422 and "пользователь этой школы и не может быть её куратором" in html.unescape(body)
    assert binding.org.school_user not in _curators_of(binding.db, binding.org.school)


def test_a_curator_of_another_school_of_the_region_is_bound(binding: Binding) -> None:
    answer = _api_complete(binding, binding.org.sibling_curator)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert binding.org.sibling_curator in _curators_of(binding.db, binding.org.school)


def test_a_user_from_the_regions_pool_is_bound_and_the_pool_gives_no_access(binding: Binding) -> None:
    db, org = binding.db, binding.org
    newcomer = unique("newcomer-")
    apply_org(db, OrgData(users=[UserRow(newcomer, "Новикова Анна Сергеевна")]))
    with pytest.raises(NotAllowed):
        curator_pool.add_to_pool(db, org.region, newcomer, actor=binding.other.regional)
    with pytest.raises(NotAllowed):
        curator_pool.add_to_pool(db, org.region, newcomer, actor=org.municipal)
    assert curator_pool.add_to_pool(db, org.region, newcomer, actor=org.regional) is True
    assert tasks.list_tasks(db, actor=newcomer) == []  # in the pool, yet no school's tasks
    assert [e.login for e in curator_pool.list_pool(db, org.region, actor=org.admin)] == [newcomer]
    tasks.complete_task(db, binding.task_id, {"participation": "confirmed", "curator_login": newcomer},
                        actor=org.regional)
    assert newcomer in _curators_of(db, org.school)
    assert {t.school_code for t in tasks.list_tasks(db, actor=newcomer)} <= {org.school}  # that one school only


def test_the_pool_is_kept_from_the_cli(binding: Binding) -> None:
    db, org = binding.db, binding.org
    runner = CliRunner()
    added = runner.invoke(cli, ["curator-pool", "add", org.region, org.municipal], obj=db)
    assert added.exit_code == 0 and "добавлен в резерв" in added.stdout
    assert org.municipal in runner.invoke(cli, ["curator-pool", "list", org.region], obj=db).stdout
    tasks.complete_task(db, binding.task_id, {"participation": "confirmed", "curator_login": org.municipal},
                        actor=org.regional)
    removed = runner.invoke(cli, ["curator-pool", "remove", org.region, org.municipal], obj=db)
    assert removed.exit_code == 0 and "убран из резерва" in removed.stdout
    assert org.municipal in _curators_of(db, org.school)  # the school already bound keeps its curator


def _form_data(page: str) -> dict[str, Any]:
    found = re.search(r"data-values='([^']*)'", page)
    assert found, page
    return dict(json.loads(html.unescape(found.group(1))))


def test_the_form_offers_the_regions_candidates(binding: Binding) -> None:
    org = binding.org
    detail = tasks.get_task(binding.db, binding.task_id, actor=org.regional)
    [field] = [c for c in detail.form["components"] if c.get("key") == "curator_login"]
    assert field["type"] == "select" and field["valuesKey"] == "curator_candidates"
    page = signed_in(binding.app, org.regional).get(f"/tasks/{binding.task_id}").get_data(as_text=True)
    offered = _form_data(page)["curator_candidates"]
    # Both curate in the school's municipality; the sibling school has no open roadmap, so its curator
    # is the less loaded and comes first.
    assert [o["value"] for o in offered] == [org.sibling_curator, org.curator]
    mine = next(o for o in offered if o["value"] == org.curator)
    assert mine["label"] == f"Пользователь {org.curator} — Первый район, 1 школа"
    token = create_token(binding.db, "тест", actor=org.regional)[1]
    api = binding.app.test_client().get(f"/api/v1/tasks/{binding.task_id}", headers={"Authorization": f"Bearer {token}"})
    assert api.json["choices"] == {"curator_candidates": offered}
    assert tasks.get_task(binding.db, binding.task_id, actor=org.municipal).choices == {}  # oversees, read-only form
    assert detail.form["id"] == CONFIRM


def test_the_regional_coordinator_keeps_the_pool_on_its_page(binding: Binding) -> None:
    db, org = binding.db, binding.org
    newcomer = unique("newcomer-")
    apply_org(db, OrgData(users=[UserRow(newcomer, "Новикова Анна Сергеевна")]))
    regional = signed_in(binding.app, org.regional)
    url = f"/regions/{org.region}/curator-pool"
    assert f'href="{url}"' in regional.get(f"/dashboard?region={org.region}").get_data(as_text=True)
    status, _ = post(regional, url, {"login": newcomer}, url)
    assert status == 302
    page = regional.get(url).get_data(as_text=True)
    assert f'data-login="{newcomer}"' in page and "добавлен в резерв" in page
    status, _ = post(regional, url, {"login": "nobody-like-this"}, url)
    assert status == 302 and "не найден" in regional.get(url).get_data(as_text=True)
    offered = _form_data(regional.get(f"/tasks/{binding.task_id}").get_data(as_text=True))["curator_candidates"]
    assert newcomer in {o["value"] for o in offered}
    assert next(o for o in offered if o["value"] == newcomer)["label"] == "Новикова А. С. — пока без школ, 0 школ"
    status, _ = post(regional, f"{url}/remove", {"login": newcomer}, url)
    assert status == 302 and f'data-login="{newcomer}"' not in regional.get(url).get_data(as_text=True)
    assert signed_in(binding.app, org.municipal).get(url).status_code == 403
    assert signed_in(binding.app, org.federal).get(url).status_code == 200  # reads, cannot change
    assert post(signed_in(binding.app, org.federal), url, {"login": newcomer}, "/")[0] == 403


def test_candidates_show_name_place_and_open_roadmaps_in_two_queries(binding: Binding) -> None:
    """The load is the number of schools a candidate curates whose roadmap is open, read for all of
    them at once; nearby curators first, then the least loaded, then by name."""
    db, org = binding.db, binding.org
    tag = unique("c-")
    busy, idle, far, twin = (f"{tag}-busy", f"{tag}-idle", f"{tag}-far", f"{tag}-twin")
    schools = [(f"{tag}-S{i}", f"Школа {i}", org.municipality) for i in range(3)]
    apply_org(db, OrgData(schools=schools, users=[
        UserRow(busy, "Иванова Анна Петровна"), UserRow(idle, "Яковлев Пётр Ильич"),
        UserRow(far, "Андреев Олег Олегович"), UserRow(twin, "Яковлев Павел Иванович")], grants=[
        *(GrantRow(busy, Role.CURATOR, code) for code, _, _ in schools), GrantRow(idle, Role.CURATOR, schools[0][0]),
        GrantRow(far, Role.CURATOR, org.foreign_school), GrantRow(twin, Role.CURATOR, schools[0][0])]))
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    for code, _, _ in schools[1:]:  # busy curates two open roadmaps (and one school without one)
        instances.start_instance(db, key, code, cohort_year=2037, actor=OPERATOR)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    with db.reading() as session:
        school = session.scalars(select(School).where(School.code == org.school)).one()
        assert school.municipality.name == "Первый район"  # loaded before counting
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            found = curator_candidates(session, school)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    assert len(statements) == 2, statements
    labels = {c.login: c.label for c in found}
    assert labels[busy] == "Иванова А. П. — Первый район, 2 школы"
    assert labels[idle] == f"Яковлев П. И. ({idle}) — Первый район, 0 школ"  # two «Яковлев П. И.»: logins added
    assert labels[twin] == f"Яковлев П. И. ({twin}) — Первый район, 0 школ"
    assert labels[far] == "Андреев О. О. — Второй район, 0 школ"
    order = [c.login for c in found]
    assert order.index(idle) < order.index(busy) and order.index(twin) < order.index(busy)  # least loaded first
    assert order.index(busy) < order.index(far)  # nearby before far, whatever the load
    assert [schools_word(n) for n in (1, 2, 5, 11, 21, 24, 112)] == [
        "1 школа", "2 школы", "5 школ", "11 школ", "21 школа", "24 школы", "112 школ"]
