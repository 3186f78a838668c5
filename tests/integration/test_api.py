"""The REST API through the test client: every resource, roles and scopes, problem documents."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine.actors import OPERATOR
from engine.db import Database
from engine.org.api_tokens import create_token
from engine.process import instances
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import MINI_BUNDLE, Org, make_org, unique
from tests.helpers import ROADMAP, problem
from web.app import create_app

ROLES = ("school_user", "curator", "municipal", "regional", "federal", "admin")


@dataclass
class Api:
    app: Flask
    client: FlaskClient
    org: Org
    other: Org
    tokens: dict[str, str]
    instance_id: int
    other_instance_id: int

    def call(self, role: str, method: str, url: str, *, org: Org | None = None, **kwargs: Any) -> TestResponse:
        login = getattr(org or self.org, role)
        headers = {"Authorization": f"Bearer {self.tokens[login]}", **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{url}", method=method, headers=headers, **kwargs)


@pytest.fixture
def api(db: Database) -> Api:
    org, other = make_org(db), make_org(db)
    tokens = {getattr(o, role): create_token(db, "тест", actor=getattr(o, role))[1]
              for o in (org, other) for role in ROLES}
    ensure_cohort(db, 2036)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    mine = instances.start_instance(db, key, org.school, cohort_year=2036, actor=OPERATOR).instance_id
    theirs = instances.start_instance(db, key, other.school, cohort_year=2036, actor=OPERATOR).instance_id
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "api"})
    return Api(app, app.test_client(), org, other, tokens, mine, theirs)


def my_task(api: Api, role: str, element: str) -> dict[str, Any]:
    found = api.call(role, "GET", "/tasks?page_size=100").json
    assert found is not None
    [task] = [t for t in found if t["element_id"] == element and t["instance_id"] == api.instance_id]
    return task


def test_no_or_bad_token_is_401(api: Api) -> None:
    response = api.client.get("/api/v1/tasks")
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem(api.client.get("/api/v1/tasks", headers={"Authorization": "Bearer r500_nonsense"}), 401)


def test_tasks_list_is_paginated_and_scoped(api: Api) -> None:
    response = api.call("regional", "GET", "/tasks?page=1&page_size=1")
    assert response.status_code == 200 and len(response.json or []) == 1
    assert json.loads(response.headers["X-Pagination"])["total"] >= 1
    assert my_task(api, "regional", "confirm_participation")["school_code"] == api.org.school
    assert api.call("school_user", "GET", "/tasks").json == []


def test_task_lifecycle_with_problems_etag_and_conflict(api: Api) -> None:
    task = my_task(api, "regional", "confirm_participation")
    detail = api.call("regional", "GET", f"/tasks/{task['id']}")
    assert detail.status_code == 200 and detail.json is not None
    assert detail.json["form"]["id"] == "confirm_participation" and detail.headers["ETag"] == f'"{detail.json["version"]}"'
    invalid = api.call("regional", "POST", f"/tasks/{task['id']}/complete", json={"data": {"participation": "confirmed"}})
    assert "curator_login" in problem(invalid, 422)["errors"]
    problem(api.call("regional", "POST", f"/tasks/{task['id']}/complete", json={"wrong": 1}), 422)
    stale = api.call("regional", "POST", f"/tasks/{task['id']}/complete", headers={"If-Match": '"999"'},
                     json={"data": {"participation": "confirmed", "curator_login": api.org.curator}})
    problem(stale, 412)
    done = api.call("regional", "POST", f"/tasks/{task['id']}/complete", headers={"If-Match": detail.headers["ETag"]},
                    json={"data": {"participation": "confirmed", "curator_login": api.org.curator}})
    assert done.status_code == 200 and done.json is not None and len(done.json["next_task_ids"]) == 1
    again = api.call("regional", "POST", f"/tasks/{task['id']}/complete",
                     json={"data": {"participation": "confirmed", "curator_login": api.org.curator}})
    problem(again, 409)


def test_task_detail_carries_the_context_its_decision_needs(api: Api) -> None:
    selection = my_task(api, "regional", "confirm_participation")
    assert api.call("regional", "GET", f"/tasks/{selection['id']}").json["context"] == []  # type: ignore[index]
    api.call("regional", "POST", f"/tasks/{selection['id']}/complete",
             json={"data": {"participation": "confirmed", "curator_login": api.org.curator}})
    questionnaire = my_task(api, "school_user", "run_questionnaires")
    detail = api.call("school_user", "GET", f"/tasks/{questionnaire['id']}").json
    assert detail is not None
    [panel] = detail["context"]
    assert panel["kind"] == "responses"
    assert panel["groups"][0] == {"key": "director", "title": "Анкета директора", "responses": 0, "expected": 1,
                                  "short": True}


def test_draft_claim_reassign(api: Api) -> None:
    task = my_task(api, "regional", "confirm_participation")
    assert api.call("regional", "PUT", f"/tasks/{task['id']}/draft", json={"data": {"comment": "позже"}}).status_code == 204
    assert api.call("regional", "POST", f"/tasks/{task['id']}/claim").json["assignee"] == api.org.regional  # type: ignore[index]
    problem(api.call("curator", "POST", f"/tasks/{task['id']}/reassign", json={"to": None}), 403)
    released = api.call("municipal", "POST", f"/tasks/{task['id']}/reassign", json={"to": None})  # oversees it
    assert released.status_code == 200 and released.json["assignee"] is None  # type: ignore[index]


def test_instances_start_read_and_cohorts(api: Api) -> None:
    started = api.call("municipal", "POST", "/instances", json={"template": "roadmap-500", "school": api.org.sibling_school,
                                                                  "cohort": 2036})
    assert started.status_code == 201 and started.json is not None
    problem(api.call("school_user", "POST", "/instances", json={"template": "roadmap-500",
                                                                 "school": api.org.foreign_school}), 403)
    problem(api.call("municipal", "POST", "/instances", json={"template": "roadmap-500", "school": api.org.sibling_school,
                                                               "cohort": 2036}), 409)
    read = api.call("curator", "GET", f"/instances/{api.instance_id}")
    assert read.status_code == 200 and read.json is not None and read.json["events"][0]["action"] == "instance.started"
    assert read.headers["ETag"]
    cohort = api.call("regional", "POST", "/cohorts/2037/start", json={"region": api.org.region})
    assert cohort.status_code == 200 and len(cohort.json["started"]) == 3  # type: ignore[index]
    problem(api.call("municipal", "POST", "/cohorts/2037/start", json={"region": api.org.region}), 403)
    problem(api.call("regional", "POST", "/cohorts/2037/start", json={}), 403)


def _zip(folder: Path, key: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in folder.rglob("*"):
            if file.is_file():
                data = file.read_bytes()
                if file.name == "manifest.json":
                    data = data.replace(b'"key": "mini"', f'"key": "{key}"'.encode())
                archive.writestr(file.relative_to(folder).as_posix(), data)
    return buffer.getvalue()


def test_templates_list_and_deploy(api: Api) -> None:
    listed = api.call("school_user", "GET", "/templates?page_size=100")
    assert listed.status_code == 200 and any(t["key"] == "roadmap-500" for t in listed.json or [])
    key = unique("api-")
    bundle = _zip(MINI_BUNDLE, key)
    problem(api.call("regional", "POST", "/templates", data=bundle, content_type="application/zip"), 403)
    deployed = api.call("admin", "POST", "/templates", data=bundle, content_type="application/zip")
    assert deployed.status_code == 201 and deployed.json == {**deployed.json, "key": key, "version": 1}  # type: ignore[dict-item]
    assert api.call("admin", "GET", f"/templates/{key}/versions").json[0]["version"] == 1  # type: ignore[index]
    broken = problem(api.call("admin", "POST", "/templates", data=b"not a zip", content_type="application/zip"), 422)
    assert "архив повреждён" in json.dumps(broken, ensure_ascii=False)
    too_big = b"\0" * (api.app.config["MAX_CONTENT_LENGTH"] + 1)  # refused before the body is read
    assert api.call("admin", "POST", "/templates", data=too_big, content_type="application/zip").status_code == 413


def test_status_overdue_schools_and_notifications(api: Api) -> None:
    counts = api.call("municipal", "GET", "/status")
    assert counts.status_code == 200 and counts.json["at_stage"]["selection"] == 1  # type: ignore[index]
    schools = api.call("regional", "GET", f"/status/schools?municipality={api.org.municipality}")
    assert {s["school_code"] for s in schools.json or []} == {api.org.school, api.org.sibling_school}
    assert api.call("regional", "GET", "/status/overdue").status_code == 200
    problem(api.call("municipal", "GET", f"/status?region={api.org.region}"), 403)
    problem(api.call("school_user", "GET", "/status"), 403)
    mine = api.call("curator", "GET", "/schools")
    assert [s["code"] for s in mine.json or []] == [api.org.school]
    assert api.call("school_user", "GET", "/me/notifications").status_code == 200
    assert api.call("school_user", "POST", "/me/notifications/read").status_code == 204


def test_tokens_are_shown_once_and_can_be_revoked(api: Api) -> None:
    created = api.call("school_user", "POST", "/me/tokens", json={"name": "скрипт"})
    assert created.status_code == 201 and created.json is not None and created.json["token"].startswith("r500_")
    listed = api.call("school_user", "GET", "/me/tokens").json
    assert listed is not None and all("token" not in t for t in listed)
    new = {"Authorization": f"Bearer {created.json['token']}"}
    assert api.client.get("/api/v1/tasks", headers=new).status_code == 200
    assert api.call("school_user", "DELETE", f"/me/tokens/{created.json['id']}").status_code == 204
    problem(api.client.get("/api/v1/tasks", headers=new), 401)
    problem(api.call("school_user", "POST", "/me/tokens", json={"name": "чужой", "user": api.org.curator}), 403)
    assert api.call("admin", "POST", "/me/tokens", json={"name": "для куратора", "user": api.org.curator}).status_code == 201


def test_org_import_is_for_admins(api: Api) -> None:
    tag = unique()
    csv = f"тип;код;название;родитель\nрегион;R{tag};Новая область\n".encode()
    problem(api.call("regional", "POST", "/org/import", data={"file": (io.BytesIO(csv), "org.csv")}), 403)
    imported = api.call("admin", "POST", "/org/import", data={"file": (io.BytesIO(csv), "org.csv")})
    assert imported.status_code == 200 and imported.json["applied"] is True  # type: ignore[index]


@pytest.mark.parametrize("role", ["school_user", "curator", "municipal", "regional"])
def test_foreign_school_is_refused_everywhere(api: Api, role: str) -> None:
    other = api.other
    their_task = api.call("regional", "GET", "/tasks", org=other).json[0]["id"]  # type: ignore[index]
    requests = [("GET", f"/tasks/{their_task}", None), ("POST", f"/tasks/{their_task}/complete", {"data": {}}),
                ("PUT", f"/tasks/{their_task}/draft", {"data": {}}), ("POST", f"/tasks/{their_task}/claim", None),
                ("POST", f"/tasks/{their_task}/reassign", {"to": None}),
                ("GET", f"/instances/{api.other_instance_id}", None),
                ("POST", "/instances", {"template": "roadmap-500", "school": other.sibling_school}),
                ("GET", f"/status?region={other.region}", None), ("GET", f"/status/schools?municipality={other.municipality}", None),
                ("GET", f"/status/overdue?region={other.region}", None),
                ("POST", "/cohorts/2038/start", {"region": other.region})]
    for method, url, body in requests:
        response = api.call(role, method, url, json=body) if body is not None else api.call(role, method, url)
        assert response.status_code in (403, 404), (role, method, url, response.status_code)
        assert response.mimetype == "application/problem+json"
    schools = api.call(role, "GET", f"/schools?region={other.region}").json
    assert schools == []


def test_openapi_document_is_valid_and_documented(api: Api) -> None:
    from openapi_spec_validator import validate

    document = api.client.get("/api/v1/openapi.json").json
    assert document is not None
    validate(document)
    assert {"/api/v1/tasks", "/api/v1/tasks/{task_id}/complete", "/api/v1/instances", "/api/v1/status",
            "/api/v1/me/tokens", "/api/v1/templates"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = api.client.get("/api/v1/docs").get_data(as_text=True)
    assert "/static/dist/swagger-ui/swagger-ui-bundle.js" in docs


def test_unstorable_text_is_refused_not_a_server_error(api: Api) -> None:
    response = api.call("regional", "POST", "/cohorts/2040/start", json={"template": "a\u0000b", "region": ""})
    assert "недопустимые символы" in problem(response, 400)["detail"]
    assert api.client.get("/login?next=%00").status_code == 400


def test_coordinators_list_open_tasks_in_their_area(api: Api) -> None:
    area = api.call("municipal", "GET", "/tasks/area")
    assert area.status_code == 200
    assert {t["school_code"] for t in area.json or []} == {api.org.school}  # the region's task, in my municipality
    problem(api.call("municipal", "GET", f"/tasks/area?region={api.other.region}"), 403)
    problem(api.call("school_user", "GET", "/tasks/area"), 403)
