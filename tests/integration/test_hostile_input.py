"""No hostile value gets a 500 (issue 14). Regression cases for each payload the security probe found —
JSON bodies of the API, ids and numbers of the web pages — and a walk over every route of ``app.url_map``
with hostile values in each URL part and in the common query and form parameters, as an admin and as a
school user, so a route added tomorrow is walked the day it is added."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from werkzeug.test import TestResponse, run_wsgi_app

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import Attachment
from engine.org.api_tokens import create_token
from engine.process import instances, questionnaires, tasks
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import PDF, ROADMAP, csrf_token, signed_in, with_passwords
from web.app import create_app


@dataclass
class Site:
    app: Flask
    org: Org
    instance_id: int
    school_task_id: int
    attachment_id: int
    link_token: str
    tokens: dict[str, str]  # login → API token
    spare_token_ids: dict[str, int]  # login → a token the walk may revoke


@pytest.fixture
def site(db: Database) -> Site:
    org = make_org(db)
    with_passwords(db, org)
    ensure_cohort(db, 2035)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, cohort_year=2035, actor=OPERATOR).instance_id
    [selection] = [t for t in tasks.list_tasks(db, actor=org.regional) if t.instance_id == instance_id]
    tasks.complete_task(db, selection.id, {"participation": "confirmed", "curator_login": org.curator},
                        actor=org.regional)
    [school_task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    [link] = questionnaires.create_links(db, org.school, "parent", 1, actor=org.school_user)
    with db.transaction() as session:
        attachment = Attachment(instance_id=instance_id, task_id=school_task.id, element_id=school_task.element_id,
                                field_key="doc", version=1, filename="план.pdf", content_type="application/pdf",
                                size=len(PDF), sha256="0" * 64, content=PDF, uploaded_at=datetime.now(UTC))
        session.add(attachment)
        session.flush()
        attachment_id = attachment.id
    people = (org.admin, org.school_user, org.regional)
    tokens = {login: create_token(db, "обход", actor=login)[1] for login in people}
    spare = {login: create_token(db, "запасной", actor=login)[0].id for login in people}
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "hostile", "SESSION_COOKIE_SECURE": False})
    return Site(app, org, instance_id, school_task.id, attachment_id, link, tokens, spare)


def _problem(response: TestResponse, status: int) -> str:
    assert response.status_code == status, (status, response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body is not None and body["status"] == status and body["detail"]
    return str(body["detail"])


# --- 1. API bodies ---------------------------------------------------------------------------------------

DEEP = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
NESTED_40 = b'{"data": {"a": ' + b"[" * 40 + b"]" * 40 + b"}}"
MALFORMED_BODIES: dict[str, tuple[bytes, str]] = {
    "unterminated object": (b'{"data": {', "не JSON"),
    "deep nesting (RecursionError)": (DEEP, "глубже"),
    "nesting past the limit": (NESTED_40, "глубже"),
    "invalid UTF-8": (b'{"data": {"comment": "\xff\xfe\xc3"}}', "UTF-8"),
    "UTF-16": ('{"data": {}}'.encode("utf-16"), "UTF-8"),
    "5 000-digit integer": (b'{"data": {"coverage": 1' + b"0" * 5000 + b"}}", "цифр"),
    "NaN": (b'{"data": {"coverage": NaN}}', "NaN"),
    "1e999": (b'{"data": {"coverage": 1e999}}', "диапазона"),
    "over a mebibyte": (b'{"data": {"comment": "' + b"a" * (1024 * 1024) + b'"}}', "больше"),
}
WRONG_SHAPES = {"array": b'[{"data": {}}]', "scalar": b'"data"', "number": b"12", "null": b"null"}


def _endpoints(site: Site) -> list[tuple[str, str]]:
    task = site.school_task_id
    return [("PUT", f"/tasks/{task}/draft"), ("POST", f"/tasks/{task}/complete"), ("POST", f"/tasks/{task}/reassign"),
            ("POST", "/instances"), ("POST", "/me/tokens"), ("POST", "/cohorts/2035/start")]


def _api(site: Site, method: str, url: str, body: bytes, login: str | None = None) -> TestResponse:
    headers = {"Authorization": f"Bearer {site.tokens[login or site.org.admin]}"}
    return site.app.test_client().open(f"/api/v1{url}", method=method, data=body, headers=headers,
                                       content_type="application/json")


def test_api_refuses_broken_json_bodies_with_a_problem(site: Site) -> None:
    for method, url in _endpoints(site):
        for case, (body, words) in MALFORMED_BODIES.items():
            detail = _problem(_api(site, method, url, body), 400)
            assert words in detail, (method, url, case, detail)


def test_api_answers_a_body_of_the_wrong_shape_with_422(site: Site) -> None:
    for method, url in _endpoints(site):
        for case, body in WRONG_SHAPES.items():
            response = _api(site, method, url, body)
            assert response.status_code in (400, 422), (method, url, case, response.get_data(as_text=True))
            assert response.mimetype == "application/problem+json"


def test_api_still_reads_good_bodies(site: Site) -> None:
    response = _api(site, "PUT", f"/tasks/{site.school_task_id}/draft", b'{"data": {"comment": "\xd0\xbe\xd0\xba"}}',
                    login=site.org.school_user)
    assert response.status_code == 204, response.get_data(as_text=True)
    created = _api(site, "POST", "/me/tokens", json.dumps({"name": "ещё один"}).encode())
    assert created.status_code == 201


def test_api_numbers_in_query_and_path(site: Site) -> None:
    client, headers = site.app.test_client(), {"Authorization": f"Bearer {site.tokens[site.org.admin]}"}
    long_number = "1" * 5000
    for url in (f"/api/v1/status?cohort={long_number}", f"/api/v1/tasks?page={long_number}",
                "/api/v1/status/schools?cohort=%C2%B2", "/api/v1/schools?page_size=99999999999999999999"):
        assert client.get(url, headers=headers).status_code == 422, url
    for url in (f"/api/v1/tasks/{long_number}", "/api/v1/tasks/9223372036854775808", "/api/v1/instances/0",
                "/api/v1/tasks/%C2%B2", "/api/v1/instances/-1"):
        _problem(client.get(url, headers=headers), 404)


# --- 2. web ids and numbers -------------------------------------------------------------------------------


def _post(client: FlaskClient, url: str, data: dict[str, str]) -> TestResponse:
    token = csrf_token(client.get("/").get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def _refused(response: TestResponse, status: int, words: str) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code == status, (status, response.status_code, text[:300])
    assert words in text, text[:2000]


NOT_A_NUMBER = "целым числом"
NO_SUCH = "не найден"


def test_web_numbers_are_4xx_with_a_clear_message(site: Site) -> None:
    org = site.org
    regional, school, admin = (signed_in(site.app, login) for login in (org.regional, org.school_user, org.admin))
    _refused(regional.get("/dashboard?cohort=2147483648"), 400, "от 2000 до 2100")
    _refused(regional.get("/dashboard?cohort=%C2%B2"), 400, NOT_A_NUMBER)
    _refused(regional.get(f"/dashboard/export.xlsx?cohort={'9' * 5000}"), 400, NOT_A_NUMBER)
    assert regional.get("/dashboard?cohort=2035").status_code == 200
    _refused(_post(school, "/account/tokens", {"revoke": "²"}), 400, NOT_A_NUMBER)
    _refused(_post(school, "/account/tokens", {"revoke": "99999999999999999999"}), 404, NO_SUCH)
    _refused(_post(school, f"/schools/{org.school}/questionnaires", {"group": "parent", "count": "²"}), 400,
             NOT_A_NUMBER)
    _refused(_post(school, f"/schools/{org.school}/questionnaires", {"group": "parent", "count": "99999999999"}),
             400, "от 0 до")
    _refused(admin.get("/admin/templates/roadmap-500/versions/2147483648/export.zip"), 404, "Такой страницы нет")
    _refused(_post(admin, "/admin/cohorts/2147483648", {"template": "roadmap-500"}), 404, "Такой страницы нет")
    _refused(admin.get("/admin/migrations?key=roadmap-500&from=%C2%B2&to=2"), 400, NOT_A_NUMBER)
    _refused(admin.get("/admin/templates/roadmap-500/diff?from=1&to=99999999999"), 400, "от 1 до")
    _refused(admin.get("/admin/templates/roadmap-500?deployed=%C2%B2"), 400, NOT_A_NUMBER)
    _refused(admin.get("/admin/calendar?year=%C2%B2"), 400, NOT_A_NUMBER)
    for url in ("/tasks/99999999999999999999", "/documents/9223372036854775808", "/admin/migrations/0",
                "/instances/-1/diagram.bpmn", "/tasks/%D9%A3"):
        _refused(admin.get(url), 404, "Такой страницы нет")


def test_json_in_web_forms_is_read_with_the_same_limits(site: Site) -> None:
    school = signed_in(site.app, site.org.school_user)
    deep = "[" * 100_000 + "]" * 100_000
    for data in (deep, '{"x": 1' + "0" * 5000 + "}", '{"x": NaN}', "{"):
        response = _post(school, f"/tasks/{site.school_task_id}", {"action": "draft", "data": data})
        assert response.status_code == 422, response.status_code
        director = _post(school, f"/schools/{site.org.school}/questionnaires/director", {"data": data})
        assert director.status_code == 422, director.status_code
        respondent = site.app.test_client()
        page = respondent.get(f"/q/{site.link_token}").get_data(as_text=True)
        answered = respondent.post(f"/q/{site.link_token}", data={"data": data, "csrf_token": csrf_token(page)})
        assert answered.status_code == 422, answered.status_code


def test_the_template_editor_refuses_broken_json_in_its_own_answer(site: Site) -> None:
    admin = signed_in(site.app, site.org.admin)
    _post(admin, "/admin/templates/roadmap-500/draft/open", {})
    token = csrf_token(admin.get("/admin/templates/roadmap-500/draft").get_data(as_text=True))
    url = "/admin/templates/roadmap-500/draft/files/roadmap-500.bpmn"
    for body in (b'{"content": ' + b"[" * 50_000, b'{"content": "\xff"}'):
        response = admin.put(url, data=body, content_type="application/json", headers={"X-CSRFToken": token})
        assert response.status_code == 422 and response.json is not None and response.json["saved"] is False
    big = json.dumps({"content": "<!-- " + "я" * (1024 * 1024) + " -->"})  # past the default 1 MiB
    response = admin.put(url, data=big, content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json is not None and response.json["saved"] is True


# --- 3. every route, hostile values -----------------------------------------------------------------------

HOSTILE_PARTS = ["2147483648", "99999999999999999999", "-1", "0", "%C2%B2", "%00", "%FF", "%E2%80%AE",
                 "x" * 3000, "..%2F..%2Fetc%2Fpasswd", "1" * 5000, "%0D%0ASet-Cookie:%20a=b"]
# Nested deeper than Python recurses (a JSON reader without a depth limit raises RecursionError), as
# deep as that and no deeper: in each of 36 parameters, every bracket is an escape in the query that
# each page parses and quotes again for its language links (5 000 brackets were a third of the walk).
TOO_DEEP = "[" * (sys.getrecursionlimit() + 500)
HOSTILE_VALUES = ["2147483648", "99999999999999999999", "-1", "²", "\x00", "1" * 5000, TOO_DEEP + "../..",
                  "\u202e\r\n"]
NUMERIC_PARAMS = ("cohort", "count", "revoke", "page", "page_size", "id", "year", "from", "to", "deployed",
                  "previous", "version")
TEXT_PARAMS = ("region", "municipality", "template", "key", "field", "group", "action", "data", "day", "kind",
               "note", "q", "stage", "school", "sort", "overdue", "name", "path", "content", "login", "next", "force",
               "all", "back", "search", "due_from", "due_to", "assigned", "element")
SKIPPED = {"auth.logout", "static"}  # signing out ends the walk; static files are Flask's own


def _plausible(site: Site, login: str, endpoint: str) -> dict[str, str]:
    """A value for each URL part that reaches the view, so parameters are checked past the routing."""
    org = site.org
    return {"task_id": str(site.school_task_id), "attachment_id": str(site.attachment_id),
            "instance_id": str(site.instance_id), "code": "ru" if endpoint == "i18n.switch" else org.school,
            "key": "roadmap-500", "version": "1", "year": "2035", "run_id": "1", "login": org.curator,
            "path": "roadmap-500.bpmn", "token": site.link_token, "token_id": str(site.spare_token_ids[login]),
            "incident_id": "1", "measure_id": "1", "field": "curator_login", "day": "2035-05-09",
            "action": "suspend", "fmt": "docx", "webhook_id": "1", "delivery_id": "1",
            "visit_id": "1"}


def _url(rule: str, parts: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: parts[m.group(1)], rule)


def _requests(site: Site, login: str) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for rule in site.app.url_map.iter_rules():
        if rule.endpoint in SKIPPED:
            continue
        plausible = _plausible(site, login, rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for name in rule.arguments:
                found += [(method, _url(rule.rule, {**plausible, name: bad}), {}) for bad in HOSTILE_PARTS]
            url = _url(rule.rule, plausible)
            for value in HOSTILE_VALUES:
                found.append((method, url, dict.fromkeys(NUMERIC_PARAMS, value)))
                found.append((method, url, dict.fromkeys(NUMERIC_PARAMS + TEXT_PARAMS, value)))
    return found


def _send(client: FlaskClient, method: str, url: str, params: dict[str, str], csrf: str, api_token: str) -> int:
    """One request of the walk, as ``client`` (its address and session cookie), straight to the WSGI app.

    Not through ``client.open``: the test client rebuilds and unquotes the whole URL twice per request to
    match its cookies, and a query of 36 parameters of 5 000 escaped brackets each took it 0.3 s — two
    thirds of the walk. The walk needs no cookie a response sets; it stays signed in on the one it has."""
    headers = {"Authorization": f"Bearer {api_token}"} if url.startswith("/api/") else {}
    session_cookie = client.get_cookie(client.application.config["SESSION_COOKIE_NAME"])
    if session_cookie is not None:
        headers["Cookie"] = f"{session_cookie.key}={session_cookie.value}"
    if method == "GET":
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
        builder = EnvironBuilder(client.application, f"{url}?{query}" if query else url, headers=headers,
                                 environ_base=client.environ_base)
    else:
        builder = EnvironBuilder(client.application, url, method=method, data={**params, "csrf_token": csrf},
                                 headers=headers, environ_base=client.environ_base)
    try:
        body, status, _ = run_wsgi_app(client.application, builder.get_environ(), buffered=True)
    finally:
        builder.close()
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return int(status.split(" ", 1)[0])


@pytest.mark.parametrize("role", ["school_user", "admin"])
def test_no_route_answers_a_hostile_value_with_a_server_error(site: Site, role: str) -> None:
    login = getattr(site.org, role)
    client = signed_in(site.app, login)
    csrf = csrf_token(client.get("/").get_data(as_text=True))
    failures: list[str] = []
    requests = _requests(site, login)
    assert len({url.split("?")[0] for _, url, _ in requests}) > 300  # every rule, many URLs each
    for method, url, params in requests:
        try:
            status = _send(client, method, url, params, csrf, site.tokens[login])
        except Exception as err:  # noqa: BLE001 - TESTING propagates a view's exception: that is the 500
            failures.append(f"{method} {url[:120]} {sorted(params)[:3]}: {type(err).__name__}: {err}"[:400])
            continue
        if status >= 500:
            failures.append(f"{method} {url[:120]} {list(params.values())[:1]!r:.60}: {status}")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
    assert client.get("/").status_code == 200  # still signed in: the walk ran as this user throughout
