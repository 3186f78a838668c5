"""The inbox's filters (issue 15, point 7): search in any case (Cyrillic too), a deadline range, «мои / не
назначенные / все», the sorts — in the service on both databases; the same parameters and limits through
the page and the API; filters remembered per browser and user; the admin's start page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import literal, literal_column, select, update
from sqlalchemy import text as sql_text

from engine.actors import OPERATOR
from engine.cli import cli
from engine.db import Database, fold, folded
from engine.errors import FormInvalid, NotAllowed
from engine.models import Task
from engine.org import regions
from engine.org.api_tokens import create_token
from engine.process import instances, tasks
from engine.process.cohorts import ensure_cohort
from engine.reports.admin_home import admin_home
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import PASSWORD, ROADMAP, csrf_token, signed_in, with_passwords
from web.app import create_app


@dataclass
class Desk:
    """Three schools of one region, each with its first roadmap task on the regional coordinator's desk."""

    org: Org
    by_school: dict[str, int]  # school code → the open task's id


@pytest.fixture
def desk(db: Database) -> Desk:
    org = make_org(db)
    ensure_cohort(db, 2037)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    started = {code: instances.start_instance(db, key, code, cohort_year=2037, actor=OPERATOR).instance_id
               for code in (org.school, org.sibling_school, org.foreign_school)}
    found = {t.instance_id: t.id for t in tasks.list_tasks(db, actor=org.regional, limit=1000)}
    by_school = {code: found[instance_id] for code, instance_id in started.items()}
    # Deadlines on three different Moscow days (the third due just after midnight there, 21:30 UTC the day
    # before), one escalated, so each filter and sort has something to tell apart.
    due = {org.school: datetime(2037, 3, 10, 9, tzinfo=UTC), org.sibling_school: datetime(2037, 3, 20, 9, tzinfo=UTC),
           org.foreign_school: datetime(2037, 3, 29, 21, 30, tzinfo=UTC)}
    with db.transaction() as session:
        for code, task_id in by_school.items():
            session.execute(update(Task).where(Task.id == task_id).values(
                due_at=due[code], escalation_level=2 if code == org.foreign_school else 0))
    return Desk(org, by_school)


def _schools(db: Database, desk: Desk, **filters: object) -> list[str]:
    return [t.school_code for t in tasks.list_tasks(db, actor=desk.org.regional, **filters)]  # type: ignore[arg-type]


def test_search_ignores_case_in_russian_and_reads_yo_as_ye(db: Database, desk: Desk) -> None:
    org = desk.org
    assert _schools(db, desk, search="тестовая") == [org.school]  # the name is «МБОУ «Тестовая СОШ»»
    assert _schools(db, desk, search="СОСЕДНЯЯ") == [org.sibling_school]
    assert _schools(db, desk, search="дАлЬнЯя сош") == [org.foreign_school]
    assert _schools(db, desk, search=org.sibling_school.lower()) == [org.sibling_school]  # the code, too
    [name] = {t.name for t in tasks.list_tasks(db, actor=org.regional)}
    assert len(_schools(db, desk, search=name.upper()[2:12])) == 3  # the task's name: all three
    assert _schools(db, desk, search="100%_") == []  # LIKE's wildcards are plain characters
    assert fold("Ёлка ЁЖ") == "елка еж"


def test_folding_agrees_with_python_whatever_the_locale(db: Database) -> None:
    text = "ЁЛКА у Школы № 5 SCHOOL"
    with db.reading() as session:
        assert session.scalar(select(folded(literal(text)))) == fold(text) == "елка у школы № 5 school"
    if db.is_postgresql:  # a database under the plain "C" locale: lower() is ASCII-only, translate() still folds
        dialect = db.engine.dialect
        unicode_lower = getattr(dialect, "roadmap_unicode_lower")
        setattr(dialect, "roadmap_unicode_lower", False)
        try:
            with db.reading() as session:
                in_c = select(folded(literal_column("'ЁЛКА у Школы № 5 SCHOOL' COLLATE \"C\"")))
                compiled = str(in_c.compile(dialect=dialect))  # not the statement cache: compiled now
                assert "translate(" in compiled and session.scalar(sql_text(compiled)) == fold(text)
        finally:
            setattr(dialect, "roadmap_unicode_lower", unicode_lower)


def test_due_range_is_moscow_days_both_included(db: Database, desk: Desk) -> None:
    org = desk.org
    assert _schools(db, desk, due_from=date(2037, 3, 10), due_to=date(2037, 3, 10)) == [org.school]
    assert _schools(db, desk, due_from=date(2037, 3, 11)) == [org.sibling_school, org.foreign_school]
    assert _schools(db, desk, due_to=date(2037, 3, 20)) == [org.school, org.sibling_school]
    # 21:30 UTC on 29 March is 00:30 on 30 March in Moscow: the day the page shows.
    assert _schools(db, desk, due_from=date(2037, 3, 30), due_to=date(2037, 3, 30)) == [org.foreign_school]
    assert _schools(db, desk, due_to=date(2037, 3, 29)) == [org.school, org.sibling_school]


def test_due_range_is_in_the_days_of_the_readers_own_zone(db: Database, desk: Desk) -> None:
    org = desk.org
    with db.transaction() as session:  # 13:00 UTC: 16:00 on 10 March in Moscow, 01:00 on 11 March in Kamchatka
        session.execute(update(Task).where(Task.id == desk.by_school[org.school]).values(
            due_at=datetime(2037, 3, 10, 13, tzinfo=UTC)))
    assert _schools(db, desk, due_from=date(2037, 3, 10), due_to=date(2037, 3, 10)) == [org.school]
    regions.set_region_zone(db, org.region, "Asia/Kamchatka", actor=OPERATOR)
    assert _schools(db, desk, due_from=date(2037, 3, 10), due_to=date(2037, 3, 10)) == []
    assert _schools(db, desk, due_from=date(2037, 3, 11), due_to=date(2037, 3, 11)) == [org.school]


def test_mine_unassigned_and_all(db: Database, desk: Desk) -> None:
    org = desk.org
    tasks.claim_task(db, desk.by_school[org.sibling_school], actor=org.regional)
    assert _schools(db, desk, assigned="mine") == [org.sibling_school]
    assert _schools(db, desk, assigned="unassigned") == [org.school, org.foreign_school]
    assert _schools(db, desk, assigned="all") == [org.school, org.sibling_school, org.foreign_school]


def test_sorts_by_due_and_by_escalation(db: Database, desk: Desk) -> None:
    org = desk.org
    assert _schools(db, desk, sort="due") == [org.school, org.sibling_school, org.foreign_school]
    assert _schools(db, desk, sort="escalation") == [org.foreign_school, org.school, org.sibling_school]


def test_filters_combine_in_one_query(db: Database, desk: Desk) -> None:
    org = desk.org
    assert _schools(db, desk, search="сош", due_from=date(2037, 3, 15), assigned="unassigned",
                    sort="escalation") == [org.foreign_school, org.sibling_school]


def test_broken_filters_are_refused_by_the_service(db: Database, desk: Desk) -> None:
    with pytest.raises(FormInvalid) as refused:
        tasks.list_tasks(db, actor=desk.org.regional, search="я" * 101, sort="name", assigned="theirs",
                         due_from=date(2037, 3, 2), due_to=date(2037, 3, 1))
    assert set(refused.value.errors) == {"search", "sort", "assigned", "due_to"}


def test_the_cli_takes_the_same_filters(db: Database, desk: Desk) -> None:
    org = desk.org
    found = CliRunner().invoke(cli, ["tasks", "--user", org.regional, "--search", "дальняя", "--json"], obj=db)
    assert found.exit_code == 0, found.output
    assert [t["school_code"] for t in json.loads(found.output)] == [org.foreign_school]
    refused = CliRunner().invoke(cli, ["tasks", "--user", org.regional, "--due-from", "2037-03-02",
                                       "--due-to", "2037-03-01"], obj=db)
    assert refused.exit_code == 1 and "due_to" in refused.output


# --- the page and the API ---------------------------------------------------------------------------------


@pytest.fixture
def app(db: Database, desk: Desk) -> Flask:
    with_passwords(db, desk.org)
    return create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})


def _page_schools(body: str, desk: Desk) -> list[str]:
    """The desk's schools in the order the inbox lists them."""
    positions = {code: body.find(f'<span class="muted">{code}</span>') for code in desk.by_school}
    return [code for code, at in sorted(positions.items(), key=lambda item: item[1]) if at >= 0]


FILTERS = [
    {"search": "СОСЕДНЯЯ"},
    {"due_from": "2037-03-11", "sort": "escalation"},
    {"assigned": "mine"},
    {"assigned": "unassigned", "due_to": "2037-03-20", "search": "", "stage": ""},
]


@pytest.mark.parametrize("query", FILTERS, ids=lambda q: "&".join(q))
def test_the_page_and_the_api_filter_alike(app: Flask, db: Database, desk: Desk, query: dict[str, str]) -> None:
    org = desk.org
    tasks.claim_task(db, desk.by_school[org.sibling_school], actor=org.regional)
    token = create_token(db, "тест", actor=org.regional)[1]
    api = app.test_client().get(f"/api/v1/tasks?{urlencode(query)}", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200, api.get_data(as_text=True)
    from_api = [t["school_code"] for t in api.json if t["id"] in desk.by_school.values()]  # type: ignore[union-attr]
    page = signed_in(app, org.regional).get(f"/?{urlencode(query)}")
    assert page.status_code == 200
    assert _page_schools(page.get_data(as_text=True), desk) == from_api
    assert from_api == _schools(db, desk, **{k: date.fromisoformat(v) if k.startswith("due") else v
                                            for k, v in query.items() if v})


@pytest.mark.parametrize("query", ["search=" + "я" * 101, "due_from=31.03.2037", "assigned=theirs", "sort=name"])
def test_the_page_and_the_api_refuse_the_same_values(app: Flask, db: Database, desk: Desk, query: str) -> None:
    token = create_token(db, "тест", actor=desk.org.regional)[1]
    api = app.test_client().get(f"/api/v1/tasks?{query}", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 422, api.get_data(as_text=True)
    page = signed_in(app, desk.org.regional).get(f"/?{query}")
    assert page.status_code == 400
    assert "Фильтр задан неверно" in page.get_data(as_text=True)


def test_filters_are_remembered_until_reset(app: Flask, desk: Desk) -> None:
    client = signed_in(app, desk.org.regional)
    shown = client.get("/?search=%D0%A1%D0%9E%D0%A1%D0%95%D0%94%D0%9D%D0%AF%D0%AF&sort=escalation&stage=")
    assert _page_schools(shown.get_data(as_text=True), desk) == [desk.org.sibling_school]
    assert 'data-testid="inbox-reset"' in shown.get_data(as_text=True)
    back = client.get("/")  # the inbox opened again, without a query string: the same view
    assert back.status_code == 302
    assert back.headers["Location"] == "/?search=%D0%A1%D0%9E%D0%A1%D0%95%D0%94%D0%9D%D0%AF%D0%AF&sort=escalation"
    reset = client.get("/?reset=1")
    assert reset.status_code == 302 and reset.headers["Location"] == "/"
    plain = client.get("/")
    assert plain.status_code == 200
    assert _page_schools(plain.get_data(as_text=True), desk) == [desk.org.school, desk.org.sibling_school,
                                                                 desk.org.foreign_school]


def test_remembered_filters_belong_to_one_user(app: Flask, desk: Desk) -> None:
    client = signed_in(app, desk.org.regional)
    client.get("/?assigned=mine")
    other = signed_in(app, desk.org.federal)
    cookie = client.get_cookie("inbox_filters")
    assert cookie is not None and cookie.value.startswith(desk.org.regional)
    other.set_cookie("inbox_filters", cookie.value)  # the same browser, the next user
    assert other.get("/").status_code == 200  # not redirected into the first user's filters


def test_a_forged_cookie_is_dropped(app: Flask, desk: Desk) -> None:
    client = signed_in(app, desk.org.regional)
    client.set_cookie("inbox_filters", f"{desk.org.regional}|sort=name&due_from=never")
    assert client.get("/").status_code == 200


def test_admin_lands_on_the_admin_start_page(app: Flask, db: Database, desk: Desk) -> None:
    org = desk.org
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    signed = client.post("/login", data={"login": org.admin, "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert signed.status_code == 302 and signed.headers["Location"] == "/admin"
    home = client.get("/admin").get_data(as_text=True)
    for card in ("admin-incidents", "admin-templates", "admin-migrations", "admin-users", "admin-cohorts"):
        assert f'data-testid="{card}"' in home
    landing = client.get("/")  # no tasks of their own: the start page, not an empty inbox
    assert landing.status_code == 200 and 'data-testid="admin-home"' in landing.get_data(as_text=True)
    assert client.get("/?assigned=all").status_code == 200  # asked for explicitly, the inbox shows
    # Everyone else still starts at the inbox, and the start page is the admins' alone.
    coordinator = signed_in(app, org.regional)
    assert coordinator.get("/").status_code == 200
    assert coordinator.get("/admin").status_code == 403


def test_admin_home_counts(db: Database, desk: Desk) -> None:
    home = admin_home(db, actor=desk.org.admin)
    assert home.templates >= 1 and home.deployed_versions >= home.templates
    assert home.active_users >= 9 and home.cohorts >= 1 and home.latest_cohort is not None
    assert home.my_tasks == 0
    with pytest.raises(NotAllowed):
        admin_home(db, actor=desk.org.regional)
