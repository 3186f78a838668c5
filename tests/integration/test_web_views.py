"""The web UI through Flask's test client: sign-in and its limits, CSRF, pages and actions, and an
authorization walk over every route as every role against a school outside their scope."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import Attachment
from engine.process import instances, notifications, questionnaires, tasks
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import PASSWORD, PDF, ROADMAP, csrf_token, post, signed_in, with_passwords
from web.app import create_app


@dataclass
class World:
    app: Flask
    org: Org
    other: Org  # another region: everything of it is foreign to org's users
    instance_id: int
    other_instance_id: int
    other_task_id: int
    other_attachment_id: int


@pytest.fixture
def world(db: Database) -> World:
    org, other = make_org(db), make_org(db)
    with_passwords(db, org)
    with_passwords(db, other)
    ensure_cohort(db, 2035)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    mine = instances.start_instance(db, key, org.school, cohort_year=2035, actor=OPERATOR).instance_id
    theirs = instances.start_instance(db, key, other.school, cohort_year=2035, actor=OPERATOR).instance_id
    [selection] = [t for t in tasks.list_tasks(db, actor=other.regional) if t.instance_id == theirs]
    tasks.complete_task(db, selection.id, {"participation": "confirmed", "curator_login": other.curator},
                        actor=other.regional)
    [school_task] = [t for t in tasks.list_tasks(db, actor=other.school_user) if t.instance_id == theirs]
    with db.transaction() as session:
        attachment = Attachment(instance_id=theirs, task_id=school_task.id, element_id="run_questionnaires",
                                field_key="doc", version=1, filename="их.pdf", content_type="application/pdf",
                                size=len(PDF), sha256="0" * 64, content=PDF, uploaded_at=datetime.now(UTC))
        session.add(attachment)
        session.flush()
        attachment_id = attachment.id
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    return World(app, org, other, mine, theirs, school_task.id, attachment_id)


def test_sign_in_out_and_wrong_password(world: World) -> None:
    client = world.app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    bad = client.post("/login", data={"login": world.org.school_user, "password": "не тот", "csrf_token": token})
    assert bad.status_code == 401 and "Неверный логин или пароль" in bad.get_data(as_text=True)
    client = signed_in(world.app, world.org.school_user)
    assert "Мои задачи" in client.get("/").get_data(as_text=True)
    status, _ = post(client, "/logout", {})
    assert status == 302 and client.get("/").status_code == 302  # back to the sign-in page


def test_sign_in_is_rate_limited(world: World) -> None:
    client = world.app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    for _ in range(5):
        client.post("/login", data={"login": world.org.curator, "password": "x", "csrf_token": token})
    blocked = client.post("/login", data={"login": world.org.curator, "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 401 and "Слишком много неудачных попыток" in blocked.get_data(as_text=True)


def test_every_form_needs_its_csrfcsrf_token(world: World) -> None:
    client = signed_in(world.app, world.org.school_user)
    response = client.post("/logout", data={})
    assert response.status_code == 400 and "Форма устарела" in response.get_data(as_text=True)


def test_cookies_are_secure_by_default(db: Database) -> None:
    app = create_app({"DATABASE": db, "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def _my_task(client: FlaskClient, name_part: str) -> int:
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'href="/tasks/(\d+)">[^<]*' + re.escape(name_part), page)
    assert match, page
    return int(match.group(1))


def test_task_page_invalid_then_valid_submission(world: World) -> None:
    regional = signed_in(world.app, world.org.regional)
    task_id = _my_task(regional, "Подтвердить участие")
    page = regional.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'id="task-form"' in page and "participation" in page and "История" in page
    status, body = post(regional, f"/tasks/{task_id}", {"action": "complete",
                                                        "data": json.dumps({"participation": "confirmed"})},
                        f"/tasks/{task_id}")
    assert status == 422 and "Форма заполнена с ошибками" in body
    assert "curator_login: Укажите логин куратора" in body  # the no-script list; form-js shows it on the field
    status, _ = post(regional, f"/tasks/{task_id}", {"action": "draft", "data": json.dumps({"comment": "черновик"})},
                     f"/tasks/{task_id}")
    assert status == 302
    assert "черновик" in regional.get(f"/tasks/{task_id}").get_data(as_text=True)
    status, _ = post(regional, f"/tasks/{task_id}", {"action": "complete", "data": json.dumps(
        {"participation": "confirmed", "curator_login": world.org.curator})}, f"/tasks/{task_id}")
    assert status == 302
    school = signed_in(world.app, world.org.school_user)
    assert _my_task(school, "Провести анкетирование") > 0


def test_notifications_and_unread_badge(world: World, db: Database) -> None:
    from engine.deadlines.sweep import sweep

    sweep(db, now=datetime(2035, 2, 16, 12, tzinfo=UTC))  # the selection deadline (15 Feb) has passed
    regional = signed_in(world.app, world.org.regional)
    page = regional.get("/").get_data(as_text=True)
    _, unread = notifications.list_notifications(db, actor=world.org.regional)
    assert unread > 0 and f'data-testid="unread">{unread}</span>' in page
    assert "Срок задачи" in regional.get("/notifications").get_data(as_text=True)
    post(regional, "/notifications/read", {}, "/notifications")
    assert 'data-testid="unread"' not in regional.get("/").get_data(as_text=True)


def test_questionnaire_links_are_single_use(world: World, db: Database) -> None:
    regional = signed_in(world.app, world.org.regional)
    task_id = _my_task(regional, "Подтвердить участие")
    post(regional, f"/tasks/{task_id}", {"action": "complete", "data": json.dumps(
        {"participation": "confirmed", "curator_login": world.org.curator})}, f"/tasks/{task_id}")
    school = signed_in(world.app, world.org.school_user)
    url = f"/schools/{world.org.school}/questionnaires"
    status, body = post(school, url, {"group": "parent", "count": "2"}, url)
    links = re.findall(r"http://localhost(/q/[\w-]+)", body)
    assert status == 200 and len(links) == 2
    respondent = world.app.test_client()
    form_page = respondent.get(links[0]).get_data(as_text=True)
    assert 'id="questionnaire-form"' in form_page
    answers = json.dumps({"events_attended": 3, "homework_help": "sometimes"})
    done = respondent.post(links[0], data={"data": answers, "csrf_token": csrf_token(form_page)})
    assert done.status_code == 200 and "ответы приняты" in done.get_data(as_text=True)
    again = respondent.get(links[0]).get_data(as_text=True)
    assert "уже заполнена" in again
    rates = school.get(url).get_data(as_text=True)
    assert re.search(r"Анкета родителя</td><td>1</td><td>2</td>", rates)
    with pytest.raises(Exception, match="уже заполнена"):
        questionnaires.submit_by_link(db, links[0].rsplit("/", 1)[1], json.loads(answers))


def test_coordinator_pages_and_export(world: World) -> None:
    municipal = signed_in(world.app, world.org.municipal)
    page = municipal.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="matrix"' in page and world.org.school in page
    assert world.org.foreign_school not in page  # the other municipality's school is not in this one's matrix
    export = municipal.get("/dashboard/export.xlsx")
    assert export.status_code == 200 and export.data[:2] == b"PK"
    school_page = municipal.get(f"/schools/{world.org.school}").get_data(as_text=True)
    assert 'class="bpmn-diagram"' in school_page and "confirm_participation" in school_page
    assert municipal.get(f"/instances/{world.instance_id}/diagram.bpmn").data.startswith(b"<?xml")


def test_admin_resets_a_password(world: World) -> None:
    admin = signed_in(world.app, world.org.admin)
    status, body = post(admin, f"/admin/users/{world.org.school_user}/reset", {}, "/admin/users")
    new_password = re.search(r"<code>([^<]+)</code>", body)
    assert status == 200 and new_password
    client = world.app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"login": world.org.school_user, "password": new_password.group(1),
                                           "csrf_token": token})
    assert response.status_code == 302


# What only a page that worked would contain: a form, a matrix, a diagram, a document, a new password.
SUCCESS_MARKERS = (b'data-testid="task-title"', b'data-testid="matrix"', b"<bpmn:definitions", PDF,
                   b'data-testid="response-rates"', b'id="questionnaire-form"', b'data-testid="new-password"',
                   b'data-testid="overdue-', b"bpmn-diagram", b"PK\x03\x04", b'data-testid="migration-',
                   b'"moved":', b'data-testid="curator-pool"', b'data-testid="waiting-schools"',
                   b'data-testid="admin-home"', b'data-testid="withdraw-consequences"',
                   b'data-testid="suspension-consequences"', b'data-testid="curator-consequences"',
                   b'data-testid="send-back-consequences"', b'data-testid="move-consequences"',
                   b'data-testid="simulation-title"')


def _routes(w: World) -> list[tuple[str, str, dict[str, object]]]:
    foreign = w.other
    return [
        ("GET", f"/tasks/{w.other_task_id}", {}),
        ("POST", f"/tasks/{w.other_task_id}", {"action": "complete",
                                                "data": json.dumps({"questionnaires_done": True})}),
        ("POST", f"/tasks/{w.other_task_id}", {"action": "draft", "data": "{}"}),
        ("POST", f"/tasks/{w.other_task_id}/claim", {}),
        ("POST", f"/tasks/{w.other_task_id}/documents", {"field": "doc"}),
        ("GET", f"/documents/{w.other_attachment_id}", {}),
        ("GET", f"/schools/{foreign.school}", {}),
        ("GET", f"/schools/{foreign.school}/questionnaires", {}),
        ("POST", f"/schools/{foreign.school}/questionnaires", {"group": "parent", "count": "3"}),
        ("GET", f"/schools/{foreign.school}/questionnaires/director", {}),
        ("GET", f"/instances/{w.other_instance_id}/diagram.bpmn", {}),
        ("GET", f"/dashboard?region={foreign.region}", {}),
        ("GET", f"/dashboard?municipality={foreign.municipality}", {}),
        ("GET", f"/dashboard/overdue?region={foreign.region}", {}),
        ("GET", f"/dashboard/heatmap?municipality={foreign.municipality}", {}),
        ("GET", f"/dashboard/heatmap/schools?municipality={foreign.municipality}&element=run_questionnaires", {}),
        ("GET", f"/dashboard/heatmap/schools?region={foreign.region}&element=run_questionnaires", {}),
        ("GET", "/admin", {}),
        ("GET", f"/dashboard/export.xlsx?region={foreign.region}", {}),
        ("GET", "/admin/users", {}),
        ("POST", f"/admin/users/{foreign.school_user}/reset", {}),
        ("GET", "/admin/migrations", {}),
        ("GET", "/admin/migrations?key=roadmap-500&from=1&to=2", {}),
        ("POST", "/admin/migrations", {"key": "roadmap-500", "from": "1", "to": "2"}),
        ("GET", "/admin/migrations/1", {}),
        ("GET", "/admin/migrations/1.json", {}),
        ("POST", "/admin/migrations/1/resume", {}),
        ("GET", f"/regions/{foreign.region}/curator-pool", {}),
        ("POST", f"/regions/{foreign.region}/curator-pool", {"login": w.org.school_user}),
        ("POST", f"/regions/{foreign.region}/curator-pool/remove", {"login": foreign.curator}),
        ("GET", f"/schools/{foreign.school}/withdraw", {}),
        ("POST", f"/schools/{foreign.school}/withdraw", {"reason": "closed"}),
        ("GET", f"/roadmaps/suspend?school={foreign.school}", {}),
        ("POST", "/roadmaps/suspend", {"school": foreign.school, "reason": "чужая"}),
        ("GET", f"/roadmaps/resume?municipality={foreign.municipality}", {}),
        ("POST", "/roadmaps/resume", {"municipality": foreign.municipality}),
        ("GET", f"/roadmaps/suspend?region={foreign.region}", {}),
        ("GET", f"/schools/{foreign.school}/curator", {}),
        ("GET", f"/schools/{foreign.school}/send-back", {}),
        ("GET", f"/schools/{foreign.school}/move", {}),
        ("POST", f"/schools/{foreign.school}/move", {"municipality": foreign.other_municipality, "reason": "чужая"}),
        ("POST", f"/schools/{foreign.school}/send-back", {"element": "confirm_participation", "reason": "чужая"}),
        ("POST", f"/schools/{foreign.school}/curator", {"to": w.org.curator, "reason": "чужая"}),
        *_workspace_routes(),
    ]


def _workspace_routes() -> list[tuple[str, str, dict[str, object]]]:
    """The template workspace and the calendars: admins only (the roadmap-500 template is deployed)."""
    base = "/admin/templates/roadmap-500"
    return [
        ("GET", "/admin/templates", {}),
        ("POST", "/admin/templates/import", {}),
        ("GET", base, {}),
        ("GET", f"{base}/diff?from=1&to=1", {}),
        ("GET", f"{base}/diff?from=1&to=draft", {}),
        ("GET", f"{base}/versions/1/export.zip", {}),
        ("POST", f"{base}/versions/1/retire", {}),
        ("POST", f"{base}/versions/1/restore", {}),
        ("POST", f"{base}/draft/open", {}),
        ("GET", f"{base}/draft", {}),
        ("GET", f"{base}/draft/export.zip", {}),
        ("POST", f"{base}/draft/import", {}),
        ("POST", f"{base}/draft/forms", {"name": "extra"}),
        ("POST", f"{base}/draft/forms/delete", {"path": "forms/extra.form"}),
        ("POST", f"{base}/draft/deploy", {}),
        ("POST", f"{base}/draft/discard", {}),
        ("GET", f"{base}/draft/edit/roadmap-500.bpmn", {}),
        ("GET", f"{base}/draft/files/roadmap-500.bpmn", {}),
        ("POST", f"{base}/draft/files/manifest.json", {"content": "{}"}),
        ("GET", f"{base}/draft/problems", {}),
        ("GET", f"{base}/draft/context", {}),
        ("GET", f"{base}/draft/diagram.bpmn", {}),
        ("GET", f"{base}/versions/1/diagram.bpmn", {}),
        ("GET", f"{base}/draft/simulation", {}),
        ("POST", f"{base}/draft/simulation", {"start": "2035-01-10", "cohort": "2035", "region": ""}),
        ("POST", f"{base}/draft/simulation/fill", {"task": "confirm_participation.1", "data": "{}"}),
        ("POST", f"{base}/draft/simulation/clock", {}),
        ("GET", "/admin/calendar", {}),
        ("POST", "/admin/calendar", {"day": "2035-03-10", "kind": "holiday", "note": "чужой"}),
        ("POST", "/admin/calendar/remove", {"day": "2035-03-10"}),
        ("GET", "/admin/cohorts", {}),
        ("POST", "/admin/cohorts/2035", {"template": "roadmap-500", "date-questionnaire_close": "2035-03-02"}),
    ]


@pytest.mark.parametrize("role", ["school_user", "curator", "municipal", "regional"])
def test_every_route_refuses_a_foreign_school(world: World, role: str) -> None:
    client = signed_in(world.app, getattr(world.org, role))
    token = csrf_token(client.get("/").get_data(as_text=True))
    for method, url, data in _routes(world):
        response = client.get(url) if method == "GET" else client.post(url, data={**data, "csrf_token": token})
        assert response.status_code in (403, 404), (role, method, url, response.status_code)
        body = response.get_data(as_text=False)
        assert not any(marker in body for marker in SUCCESS_MARKERS), (role, url)
    # and nothing of theirs changed
    other_regional = signed_in(world.app, world.other.regional)
    assert other_regional.get(f"/schools/{world.other.school}").status_code == 200


def test_anonymous_users_are_sent_to_sign_in(world: World) -> None:
    client = world.app.test_client()
    for method, url, _ in _routes(world):
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_region_and_country_dashboards_show_areas(world: World) -> None:
    regional = signed_in(world.app, world.org.regional)
    page = regional.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="areas"' in page
    assert f'data-area="{world.org.municipality}"' in page  # one row per municipality, with its counts
    assert f'data-area="{world.other.municipality}"' not in page  # another region's municipality is not here
    drill = regional.get(f"/dashboard?municipality={world.org.municipality}").get_data(as_text=True)
    assert f'data-school="{world.org.school}"' in drill
    federal = signed_in(world.app, world.org.federal)
    country = federal.get("/dashboard").get_data(as_text=True)
    assert f'data-area="{world.org.region}"' in country and f'data-area="{world.other.region}"' in country


def test_tokens_page_creates_a_working_token_once(world: World) -> None:
    client = signed_in(world.app, world.org.curator)
    status, body = post(client, "/account/tokens", {"name": "моя выгрузка"}, "/account/tokens")
    token = re.search(r"<code>(r500_[^<]+)</code>", body)
    assert status == 200 and token
    api = world.app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert api.status_code == 200
    assert token.group(1) not in client.get("/account/tokens").get_data(as_text=True)  # never shown again


def test_a_page_takes_one_connection_from_the_pool(world: World, db: Database) -> None:
    """The signed-in user, the page's data, the badge and the stage titles are read in sessions of their
    own, one after another, on one pooled connection (one checkout, one liveness ping)."""
    regional = signed_in(world.app, world.org.regional)
    checkouts: list[object] = []

    def count(*_: object) -> None:
        checkouts.append(None)

    event.listen(db.engine.pool, "checkout", count)
    try:
        page = regional.get("/")
    finally:
        event.remove(db.engine.pool, "checkout", count)
    assert page.status_code == 200 and "Подтвердить участие" in page.get_data(as_text=True)
    assert len(checkouts) == 1
