"""Task lists paged in SQL (issue 21, target 3): the cursor walks every open task once in the order the list
shows — with ties on the visible key, with filters, while tasks are completed between pages — a forged cursor
never reaches past the caller's scope, a broken one is refused under ``after``; the same through the API, the
inbox page and the CLI; and a bearer token is one read per request, still refused when revoked or inactive."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select, update

from engine.actors import OPERATOR
from engine.cli import cli
from engine.db import Database
from engine.errors import FormInvalid
from engine.models import ApiToken, School, Task, TaskStatus, User
from engine.org.api_tokens import InvalidToken, authenticate, create_token, revoke_token
from engine.process import instances, task_pages, tasks
from engine.roles import Role
from engine.templates import versions
from tests.conftest import MINI_BUNDLE, Org, make_org
from tests.helpers import signed_in, with_passwords
from web.app import create_app

DAY = datetime(2025, 3, 10, 9, tzinfo=UTC)
#: Few distinct values, so most rows tie on the visible key and only the id orders them; some past, some not.
DUE = (DAY, datetime(2037, 3, 10, 9, tzinfo=UTC), None, DAY + timedelta(hours=3))
CREATED = (DAY - timedelta(days=30), DAY - timedelta(days=20))


@dataclass
class Desk:
    org: Org
    other: Org  # another region: its regional coordinator's tasks must never show in ``org``'s lists
    ids: list[int]  # the open tasks on ``org.regional``'s desk


def _add_tasks(db: Database, org: Org, instance_id: int, count: int) -> list[int]:
    with db.transaction() as session:
        schools = session.scalars(select(School).where(School.code.in_(
            [org.school, org.sibling_school, org.foreign_school])).order_by(School.code)).all()
        rows = [Task(instance_id=instance_id, spiff_task_id=str(uuid.uuid4()), element_id=f"step_{n % 3}",
                     name=f"Шаг {n}", stage=("selection", "diagnostics")[n % 2], role=Role.REGIONAL_COORDINATOR,
                     form_key="f", school_id=schools[n % 3].id, municipality_id=schools[n % 3].municipality_id,
                     region_id=schools[n % 3].region_id, status=TaskStatus.READY, due_at=DUE[n % 4],
                     escalation_level=n % 3, created_at=CREATED[n % 2]) for n in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


@pytest.fixture
def desk(db: Database) -> Desk:
    org, other = make_org(db), make_org(db)
    key = versions.deploy_template(db, versions.read_bundle(MINI_BUNDLE), actor=OPERATOR).key
    ids = []
    for each in (org, other):
        instance_id = instances.start_instance(db, key, each.school, actor=OPERATOR).instance_id
        made = _add_tasks(db, each, instance_id, 37)
        ids = ids or made
    return Desk(org, other, ids)


def _walk(db: Database, login: str, limit: int, between: Any = None, **filters: Any) -> list[int]:
    seen: list[int] = []
    after = None
    while True:
        page = tasks.task_page(db, actor=login, limit=limit, after=after, **filters)
        seen += [t.id for t in page.tasks]
        if page.next_cursor is None:
            return seen
        assert len(page.tasks) == limit
        if between:
            between(seen)
        after = page.next_cursor


@pytest.mark.parametrize("sort", list(tasks.SORTS))
def test_cursor_walks_every_task_once_in_the_order_shown(db: Database, desk: Desk, sort: str) -> None:
    whole = [t.id for t in tasks.list_tasks(db, actor=desk.org.regional, limit=1000, sort=sort)]
    assert sorted(whole) == sorted(desk.ids)  # the other region's 37 are not here
    for limit in (1, 5, 37, 200):
        assert _walk(db, desk.org.regional, limit, sort=sort) == whole
    rows = tasks.list_tasks(db, actor=desk.org.regional, limit=1000, sort=sort)
    keys = [tuple((v is None, v) if not isinstance(v, int) else (False, v) for v in task_pages.key_of(sort, t))
            for t in rows]
    assert len(set(keys)) == len(keys)  # the id makes every key unique, ties on due/created included


def test_tasks_completed_between_pages_shift_nothing(db: Database, desk: Desk) -> None:
    whole = [t.id for t in tasks.list_tasks(db, actor=desk.org.regional, limit=1000)]
    gone: set[int] = set()

    def complete_some(seen: list[int]) -> None:
        """Between pages people work: one task already shown and the next two not yet shown are completed."""
        ahead = [i for i in whole if i not in seen and i not in gone][:2]
        done = [seen[-1], *ahead]
        gone.update(done)
        with db.transaction() as session:
            session.execute(update(Task).where(Task.id.in_(done)).values(
                status=TaskStatus.COMPLETED, completed_at=DAY))

    seen = _walk(db, desk.org.regional, 4, complete_some)
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(whole) - gone <= set(seen)  # nothing that stayed open was skipped
    assert seen == [i for i in whole if i in set(seen)]  # in the order shown


def test_filters_hold_on_every_page(db: Database, desk: Desk) -> None:
    org = desk.org
    for filters in ({"stage": "selection"}, {"school": org.sibling_school}, {"overdue": True},
                    {"search": "шаг 1"}, {"assigned": "unassigned", "sort": "escalation"}):
        whole = [t.id for t in tasks.list_tasks(db, actor=org.regional, limit=1000, **filters)]
        assert whole, filters
        assert _walk(db, org.regional, 3, **filters) == whole, filters
        counted = tasks.task_page(db, actor=org.regional, limit=3, count=True, **filters)
        assert counted.total == len(whole) and not counted.total_capped


def _cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_forged_cursor_moves_only_within_the_callers_scope(db: Database, desk: Desk) -> None:
    org, other = desk.org, desk.other
    before_all = _cursor({"s": "due", "k": ["2000-01-01T00:00:00+00:00", 1]})
    mine = {t.id for t in tasks.task_page(db, actor=org.regional, limit=200, after=before_all).tasks}
    assert mine == set(desk.ids)
    # The other region's coordinator's own cursor, used by this one: a place in the order, never their tasks.
    theirs = tasks.task_page(db, actor=other.regional, limit=3).next_cursor
    assert theirs is not None
    assert {t.id for t in tasks.task_page(db, actor=org.regional, limit=200, after=theirs).tasks} <= set(desk.ids)
    # A curator of one school sees none of the coordinator's tasks at any position.
    assert tasks.task_page(db, actor=org.curator, limit=200, after=before_all).tasks == []


BROKEN = [
    "!!!", "нет", "a" * 400, _cursor([1, 2]), _cursor({"s": "due"}), _cursor({"s": "due", "k": [None]}),
    _cursor({"s": "due", "k": ["2037-03-10T09:00:00", 5]}),  # no zone
    _cursor({"s": "due", "k": ["вчера", 5]}), _cursor({"s": "due", "k": [None, 0]}),
    _cursor({"s": "due", "k": [None, 2**63]}), _cursor({"s": "due", "k": [None, True]}),
    _cursor({"s": "due", "k": [None, 1.5]}), _cursor({"s": "due", "k": [{"x": 1}, 5]}),
    _cursor({"s": "escalation", "k": [-1, None, 5]}), _cursor({"s": "escalation", "k": [0, 5]}),
    _cursor({"s": "created", "k": [None, 5]}),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(), _cursor({"s": "due", "k": "x" * 10}),
    base64.urlsafe_b64encode(b"[" * 100 + b"]" * 100).decode()[:300],
]


@pytest.mark.parametrize("cursor", BROKEN)
def test_a_broken_cursor_is_refused_under_after(db: Database, desk: Desk, cursor: str) -> None:
    sort = next((name for name in tasks.SORTS if _cursor({"s": name})[:8] == cursor[:8]), "due")
    with pytest.raises(FormInvalid) as refused:
        tasks.task_page(db, actor=desk.org.regional, limit=5, after=cursor, sort=sort)
    assert list(refused.value.errors) == ["after"]


def test_a_cursor_of_another_sort_is_refused(db: Database, desk: Desk) -> None:
    cursor = tasks.task_page(db, actor=desk.org.regional, limit=3, sort="created").next_cursor
    assert cursor is not None
    with pytest.raises(FormInvalid) as refused:
        tasks.task_page(db, actor=desk.org.regional, limit=3, after=cursor, sort="due")
    assert "сортировки" in refused.value.errors["after"][0]


def test_a_page_is_at_most_page_max_rows(db: Database, desk: Desk) -> None:
    for limit in (0, tasks.PAGE_MAX + 1):
        with pytest.raises(FormInvalid) as refused:
            tasks.task_page(db, actor=desk.org.regional, limit=limit)
        assert list(refused.value.errors) == ["limit"]


def test_area_tasks_page_by_cursor(db: Database, desk: Desk) -> None:
    whole = [t.id for t in tasks.list_area_tasks(db, actor=desk.org.regional, limit=1000)]
    seen, after = [], None
    while True:
        page = tasks.area_task_page(db, actor=desk.org.regional, limit=6, after=after)
        seen += [t.id for t in page.tasks]
        if not (after := page.next_cursor):
            break
    assert seen == whole and set(desk.ids) <= set(whole)


def test_the_api_pages_by_cursor_and_by_number(db: Database, desk: Desk) -> None:
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "pages"})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {create_token(db, 'тест', actor=desk.org.regional)[1]}"}
    whole = [t.id for t in tasks.list_tasks(db, actor=desk.org.regional, limit=1000)]
    seen, url = [], "/api/v1/tasks?page_size=10"
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        paging = json.loads(response.headers["X-Pagination"])
        assert paging["total"] == len(whole)
        seen += [t["id"] for t in response.json or []]
        if "next_cursor" not in paging:
            break
        url = f"/api/v1/tasks?page_size=10&after={paging['next_cursor']}"
        assert "page" not in paging or url.endswith(paging["next_cursor"])
    assert seen == whole
    numbered = []
    for page in (1, 2, 3, 4):
        response = client.get(f"/api/v1/tasks?page_size=10&page={page}", headers=headers)
        numbered += [t["id"] for t in response.json or []]
        assert ("next_page" in json.loads(response.headers["X-Pagination"])) == (page < 4)
    assert numbered == whole
    refused = client.get(f"/api/v1/tasks?page=2&after={_cursor({'s': 'due', 'k': [None, 1]})}", headers=headers)
    assert refused.status_code == 422 and "page" in refused.json["errors"]
    broken = client.get("/api/v1/tasks?after=%21%21", headers=headers)
    assert broken.status_code == 422 and "after" in broken.json["errors"]
    area = client.get("/api/v1/tasks/area?page_size=100", headers=headers)
    assert area.status_code == 200 and set(desk.ids) <= {t["id"] for t in area.json or []}


def test_the_inbox_links_to_its_next_page_with_the_filters(db: Database, desk: Desk) -> None:
    org = desk.org
    with_passwords(db, org)
    with db.transaction() as session:  # enough rows for two pages of the inbox
        instance_id = session.scalar(select(Task.instance_id).where(Task.id == desk.ids[0]))
    _add_tasks(db, org, int(instance_id or 0), 100)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "pages", "SESSION_COOKIE_SECURE": False,
                      "REMEMBER_COOKIE_SECURE": False})
    client = signed_in(app, org.regional)
    whole = [t.id for t in tasks.list_tasks(db, actor=org.regional, limit=1000, stage="selection")]
    assert len(whole) > 50
    page = client.get("/?stage=selection").get_data(as_text=True)
    shown = [int(i) for i in _task_links(page)]
    assert shown == whole[:50] and 'data-testid="inbox-next-page"' in page
    link = page.split('data-testid="inbox-next-page"')[0].rsplit('href="', 1)[1].split('"', 1)[0]
    link = link.replace("&amp;", "&")
    assert "stage=selection" in link and "after=" in link
    second = client.get(link).get_data(as_text=True)
    assert [int(i) for i in _task_links(second)] == whole[50:100]
    assert 'data-testid="inbox-first-page"' in second
    assert client.get("/?after=%21%21").status_code == 400


def _task_links(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('href="/tasks/')[1:]]


def test_the_cli_prints_the_next_pages_cursor(db: Database, desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db.is_postgresql:
        pytest.skip("the CLI opens its own database from DATABASE_URL; one database is enough")
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    first = runner.invoke(cli, ["tasks", "--user", desk.org.regional, "--limit", "30"])
    assert first.exit_code == 0, first.output
    cursor = first.stderr.split("--after ", 1)[1].strip()
    rest = runner.invoke(cli, ["tasks", "--user", desk.org.regional, "--limit", "30", "--after", cursor])
    lines = [line.split("\t")[0] for line in (first.stdout + rest.stdout).splitlines()]
    assert [int(i) for i in lines] == [t.id for t in tasks.list_tasks(db, actor=desk.org.regional, limit=1000)]
    assert runner.invoke(cli, ["tasks", "--user", desk.org.regional, "--limit", "500"]).exit_code != 0


def test_a_token_is_one_read_and_still_refused_when_revoked_or_inactive(db: Database) -> None:
    org = make_org(db)
    token_view, token = create_token(db, "тест", actor=org.curator)
    assert authenticate(db, token) == org.curator  # the first use writes last_used_at
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert authenticate(db, token) == org.curator
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")
    with db.transaction() as session:  # five minutes on: the hint is refreshed once more
        session.execute(update(ApiToken).where(ApiToken.id == token_view.id).values(
            last_used_at=db.now() - timedelta(minutes=6)))
    authenticate(db, token)
    with db.reading() as session:
        used = session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_view.id))
    assert used is not None and db.now() - used < timedelta(minutes=1)
    with db.transaction() as session:
        session.execute(update(User).where(User.login == org.curator).values(is_active=False))
    with pytest.raises(InvalidToken):
        authenticate(db, token)
    with db.transaction() as session:
        session.execute(update(User).where(User.login == org.curator).values(is_active=True))
    revoke_token(db, token_view.id, actor=org.curator)
    with pytest.raises(InvalidToken):
        authenticate(db, token)


def test_pages_and_days_out_of_range_are_refused_not_server_errors(db: Database, desk: Desk) -> None:
    """Found by fuzzing: a page number past any BIGINT OFFSET, and year 1 read in a zone east of UTC."""
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "pages"})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {create_token(db, 'тест', actor=desk.org.regional)[1]}"}
    far = client.get("/api/v1/tasks?page=99999999999999999&page_size=100", headers=headers)
    assert far.status_code == 422 and "page" in far.json["errors"]
    early = client.get("/api/v1/tasks?due_from=0001-01-01", headers=headers)
    assert early.status_code == 422 and "due_from" in early.json["errors"]
