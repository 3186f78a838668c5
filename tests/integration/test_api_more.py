"""The API's newer resources through the test client (issue 17): questionnaires (links, answers by link,
counts), a task's documents (multipart upload, list, download), the form's references and rules. Each calls the
engine service the web page calls, so the rules checked here are the page's rules."""

from __future__ import annotations

import io
import json
import time
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
from engine.process import instances, tasks
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import PDF, ROADMAP, problem
from tests.roadmap_steps import DIRECTOR
from web.app import create_app

PARENT = {"events_attended": 2, "homework_help": "sometimes"}


@dataclass
class Client:
    app: Flask
    client: FlaskClient
    org: Org
    other: Org
    tokens: dict[str, str]
    instance_id: int

    def call(self, login: str, method: str, url: str, **kwargs: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.tokens[login]}", **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{url}", method=method, headers=headers, **kwargs)


def _client(db: Database, bundle: Path, year: int) -> Client:
    org, other = make_org(db), make_org(db)
    tokens = {login: create_token(db, "тест", actor=login)[1]
              for o in (org, other) for login in (o.school_user, o.curator, o.regional, o.admin)}
    ensure_cohort(db, year)
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, cohort_year=year, actor=OPERATOR).instance_id
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "api-more"})
    return Client(app, app.test_client(), org, other, tokens, instance_id)


@pytest.fixture
def api(db: Database) -> Client:
    return _client(db, ROADMAP, 2037)


def _task(api: Client, login: str, element: str) -> dict[str, Any]:
    found = api.call(login, "GET", "/tasks?page_size=100").json
    assert found is not None
    [task] = [t for t in found if t["element_id"] == element and t["instance_id"] == api.instance_id]
    return task


def _to_questionnaires(api: Client) -> None:
    confirm = _task(api, api.org.regional, "confirm_participation")
    done = api.call(api.org.regional, "POST", f"/tasks/{confirm['id']}/complete",
                    json={"data": {"participation": "confirmed", "curator_login": api.org.curator}})
    assert done.status_code == 200, done.get_data(as_text=True)


def test_questionnaire_links_answers_and_counts(api: Client) -> None:
    school, code = api.org.school_user, api.org.school
    # Before the window opens: no links.
    problem(api.call(school, "POST", f"/schools/{code}/questionnaires/links", json={"group": "parent", "count": 2}),
            400)
    _to_questionnaires(api)
    made = api.call(school, "POST", f"/schools/{code}/questionnaires/links", json={"group": "parent", "count": 2})
    assert made.status_code == 201 and made.json is not None
    first, second = made.json["tokens"]
    assert made.json["urls"][0].endswith(f"/q/{first}")
    # Named groups get no links; another school's user gets none at all.
    problem(api.call(school, "POST", f"/schools/{code}/questionnaires/links", json={"group": "director", "count": 1}),
            400)
    problem(api.call(api.other.school_user, "POST", f"/schools/{code}/questionnaires/links",
                     json={"group": "parent", "count": 1}), 403)
    problem(api.call(api.other.school_user, "GET", f"/schools/{code}/questionnaires/links"), 403)

    # A respondent, without a bearer token: the form, then one answer.
    form = api.client.post("/api/v1/questionnaires/form", json={"token": first})
    assert form.status_code == 200 and form.json is not None
    assert form.json["open"] and not form.json["used"] and form.json["form"]["components"]
    invalid = problem(api.client.post("/api/v1/questionnaires/answers", json={"token": first, "answers": {}}), 422)
    assert "events_attended" in invalid["errors"]
    answered = api.client.post("/api/v1/questionnaires/answers", json={"token": first, "answers": PARENT})
    assert answered.status_code == 201 and answered.json == {"group": "parent"}
    problem(api.client.post("/api/v1/questionnaires/answers", json={"token": first, "answers": PARENT}), 409)
    problem(api.client.post("/api/v1/questionnaires/answers", json={"token": "nonsense", "answers": PARENT}), 404)

    # The links' state, the counts; the director answers as the school's user, once.
    states = api.call(api.org.curator, "GET", f"/schools/{code}/questionnaires/links?group=parent").json
    assert states is not None and [s["used_at"] is not None for s in states] == [True, False]
    assert "token" not in states[0]
    # The director's form, from the API itself: a client fills what it describes.
    problem(api.call(api.org.curator, "GET", f"/schools/{code}/questionnaires/director"), 403)
    director_form = api.call(school, "GET", f"/schools/{code}/questionnaires/director").json
    assert director_form is not None and director_form["open"]
    assert set(DIRECTOR) <= {c.get("key") for c in director_form["form"]["components"]}
    director_answers = DIRECTOR
    problem(api.call(api.org.curator, "POST", f"/schools/{code}/questionnaires/director",
                     json={"answers": director_answers}), 403)
    assert api.call(school, "POST", f"/schools/{code}/questionnaires/director",
                    json={"answers": director_answers}).status_code == 201
    problem(api.call(school, "POST", f"/schools/{code}/questionnaires/director",
                     json={"answers": director_answers}), 409)
    counts = {r["group"]: r for r in api.call(school, "GET", f"/schools/{code}/questionnaires").json or []}
    assert counts["parent"]["responses"] == 1 and counts["parent"]["links"] == 2
    assert counts["director"]["responses"] == 1 and counts["director"]["links"] is None

    # The window closes with the school's task: the second link is refused.
    run = _task(api, school, "run_questionnaires")
    assert api.call(school, "POST", f"/tasks/{run['id']}/complete",
                    json={"data": {"questionnaires_done": True}}).status_code == 200
    closed = api.client.post("/api/v1/questionnaires/form", json={"token": second}).json
    assert closed is not None and not closed["open"]
    problem(api.client.post("/api/v1/questionnaires/answers", json={"token": second, "answers": PARENT}), 400)


@pytest.fixture
def desk(db: Database, bundle_copy: Path) -> Client:
    """A school's ready task whose form has a document field."""
    form = bundle_copy / "forms" / "questionnaire.form"
    definition = json.loads(form.read_text(encoding="utf-8"))
    definition["components"].append({"type": "filepicker", "key": "doc", "label": "Документ"})
    form.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    return _client(db, bundle_copy, 2038)


def test_documents_upload_list_download(desk: Client) -> None:
    school = desk.org.school_user
    [task] = [t for t in tasks.list_tasks(desk.app.extensions["roadmap.db"], actor=school)
              if t.instance_id == desk.instance_id]
    url = f"/tasks/{task.id}/documents"

    def send(login: str, field: str, name: str, content: bytes) -> TestResponse:
        return desk.call(login, "POST", url, data={"field": field, "file": (io.BytesIO(content), name)},
                         content_type="multipart/form-data")

    first = send(school, "doc", "план.pdf", PDF)
    assert first.status_code == 201, first.get_data(as_text=True)
    again = send(school, "doc", "план.pdf", PDF + b"v2").json
    assert again is not None and again["version"] == 2 and again["field"] == "doc"
    # The engine's checks, as on the page: the type by its first bytes, the field, the school's scope.
    assert "doc" in problem(send(school, "doc", "virus.pdf", b"MZ\x90\x00"), 422)["errors"]
    problem(send(school, "nonsense", "план.pdf", PDF), 400)
    problem(send(desk.other.school_user, "doc", "план.pdf", PDF), 403)
    problem(desk.call(school, "POST", url, data={"field": "doc"}, content_type="multipart/form-data"), 422)

    listed = desk.call(desk.org.curator, "GET", url).json
    assert listed is not None and [d["version"] for d in listed] == [2, 1]
    got = desk.call(desk.org.curator, "GET", f"/documents/{listed[1]['id']}")
    assert got.status_code == 200 and got.data == PDF and got.mimetype == "application/pdf"
    assert "attachment" in got.headers["Content-Disposition"]
    problem(desk.call(desk.other.school_user, "GET", f"/documents/{listed[1]['id']}"), 404)
    problem(desk.call(desk.other.school_user, "GET", url), 403)


def test_the_form_says_which_field_names_a_user_and_which_rules_it_must_pass(api: Client) -> None:
    regional = api.org.regional
    confirm = _task(api, regional, "confirm_participation")
    detail = api.call(regional, "GET", f"/tasks/{confirm['id']}").json
    assert detail is not None
    [curator] = [c for c in detail["form"]["components"] if c.get("key") == "curator_login"]
    assert curator["x-references"] == "user" and curator["x-choices"] == "curator_candidates"
    assert curator["x-choices-url"] == f"/api/v1/tasks/{confirm['id']}/choices/curator_login"
    assert [r["field"] for r in detail["rules"]] == ["curator_login"]
    assert detail["rules"][0]["message"] == "Укажите логин куратора, назначенного школе."
    assert "curator_login" in detail["rules"][0]["check"]

    allowed = api.call(regional, "GET", f"/tasks/{confirm['id']}/choices/curator_login").json
    assert allowed is not None and api.org.curator in [c["value"] for c in allowed]
    assert allowed == detail["choices"]["curator_candidates"]
    problem(api.call(regional, "GET", f"/tasks/{confirm['id']}/choices/order_number"), 404)
    problem(api.call(api.other.regional, "GET", f"/tasks/{confirm['id']}/choices/curator_login"), 403)
    # The rule the form told about is the one the submission is held to; a value from the list passes.
    refused = problem(api.call(regional, "POST", f"/tasks/{confirm['id']}/complete",
                               json={"data": {"participation": "confirmed"}}), 422)
    assert refused["errors"]["curator_login"] == [detail["rules"][0]["message"]]
    assert api.call(regional, "POST", f"/tasks/{confirm['id']}/complete", json={"data": {
        "participation": "confirmed", "curator_login": allowed[0]["value"]}}).status_code == 200


def test_production_calendar_and_region_time_zone(api: Client) -> None:
    admin = api.org.admin
    assert api.call(admin, "PUT", "/calendar/days/2037-05-09", json={"kind": "working", "note": "перенос"}
                    ).status_code == 204
    assert api.call(admin, "GET", "/calendar/2037").json == [{"day": "2037-05-09", "working": True, "note": "перенос"}]
    assert "kind" in problem(api.call(admin, "PUT", "/calendar/days/2037-05-10", json={"kind": "x"}), 422)["errors"]
    assert "day" in problem(api.call(admin, "PUT", "/calendar/days/2037-13-40", json={"kind": "holiday"}),
                            422)["errors"]
    problem(api.call(api.org.regional, "PUT", "/calendar/days/2037-05-10", json={"kind": "holiday"}), 403)
    problem(api.call(api.org.school_user, "GET", "/calendar/2037"), 403)
    assert api.call(admin, "DELETE", "/calendar/days/2037-05-09").status_code == 204
    assert api.call(admin, "GET", "/calendar/2037").json == []

    url = f"/regions/{api.org.region}/time-zone"
    assert api.call(admin, "PUT", url, json={"time_zone": "Asia/Novokuznetsk"}).status_code == 204
    problem(api.call(admin, "PUT", url, json={"time_zone": "Mars/Olympus"}), 422)
    problem(api.call(api.org.regional, "PUT", url, json={"time_zone": "Europe/Moscow"}), 403)


def test_curator_pool(api: Client) -> None:
    url = f"/regions/{api.org.region}/curator-pool"
    regional = api.org.regional
    pool = api.call(regional, "POST", url, json={"login": api.org.curator}).json
    assert pool is not None and api.org.curator in [e["login"] for e in pool]
    problem(api.call(api.other.regional, "POST", url, json={"login": api.org.curator}), 403)
    problem(api.call(api.org.school_user, "GET", url), 403)
    assert api.call(regional, "DELETE", f"{url}/{api.org.curator}").status_code == 204
    assert api.org.curator not in [e["login"] for e in api.call(regional, "GET", url).json or []]


def test_template_versions_retire_restore_export_diff(api: Client) -> None:
    admin = api.org.admin
    listed = api.call(admin, "GET", "/templates/roadmap-500/versions?page_size=100").json
    assert listed is not None
    version = listed[-1]["version"]
    base = f"/templates/roadmap-500/versions/{version}"
    problem(api.call(api.org.regional, "POST", f"{base}/retire"), 403)
    assert api.call(admin, "POST", f"{base}/retire").status_code == 204
    problem(api.call(admin, "POST", "/instances", json={"template": "roadmap-500", "school": api.org.sibling_school,
                                                         "version": version}), 409)
    assert api.call(admin, "POST", f"{base}/restore").status_code == 204
    exported = api.call(admin, "GET", f"{base}/bundle")
    assert exported.status_code == 200 and exported.data.startswith(b"PK") and exported.mimetype == "application/zip"
    problem(api.call(api.org.school_user, "GET", f"{base}/bundle"), 403)
    same = api.call(admin, "GET", f"/templates/roadmap-500/diff?from={version}&to={version}").json
    assert same is not None and same["tasks"] == {"added": [], "removed": [], "changed": {}}
    problem(api.call(admin, "GET", "/templates/roadmap-500/diff?from=1"), 422)


def test_migrations_are_for_admins_and_report_progress(api: Client) -> None:
    """Export a version, deploy it again with another title (version 2), check the running roadmaps' move."""
    admin = api.org.admin
    listed = api.call(admin, "GET", "/templates/roadmap-500/versions?page_size=100").json or []
    old = listed[-1]["version"]
    exported = api.call(admin, "GET", f"/templates/roadmap-500/versions/{old}/bundle").data
    renamed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(exported)) as source, zipfile.ZipFile(renamed, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                manifest["title"] += " (редакция 2)"
                data = json.dumps(manifest, ensure_ascii=False).encode()
            target.writestr(name, data)
    deployed = api.call(admin, "POST", "/templates", data=renamed.getvalue(), content_type="application/zip").json
    assert deployed is not None and deployed["version"] == old + 1
    body = {"key": "roadmap-500", "from": old, "to": old + 1, "dry_run": True}
    problem(api.call(api.org.regional, "POST", "/migrations", json=body), 403)
    problem(api.call(admin, "POST", "/migrations", json={**body, "to": old}), 409)
    problem(api.call(admin, "GET", "/migrations/999999"), 404)
    started = api.call(admin, "POST", "/migrations", json=body)
    assert started.status_code == 202 and started.json is not None and started.json["dry_run"]
    run = started.json
    # A bound, not a timing: the dry run checks every running roadmap of the version in this test database,
    # hundreds by the time the suite gets here, and CI's two cores are busy.
    deadline = time.monotonic() + 180
    while run["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        run = api.call(admin, "GET", f"/migrations/{started.json['id']}").json or {}
    assert run["status"] == "done", run
    assert run["total"] >= 1 and run["processed"] == run["total"]
    assert api.instance_id in [r["instance_id"] for r in run["results"]]
    problem(api.call(api.org.regional, "GET", f"/migrations/{run['id']}"), 403)


def test_deadline_sweep_dry_run(api: Client) -> None:
    admin = api.org.admin
    problem(api.call(api.org.regional, "GET", "/deadlines/preview"), 403)
    now = api.call(admin, "GET", "/deadlines/preview").json
    later = api.call(admin, "GET", f"/deadlines/preview?at=2037-12-31T00:00:00%2B00:00&school={api.org.school}").json
    assert now is not None and later is not None
    assert later["at"].startswith("2037-12-31") and {a["school"] for a in later["actions"]} <= {api.org.school}
    confirm = _task(api, api.org.regional, "confirm_participation")
    fired = [a for a in later["actions"] if a["task_id"] == confirm["id"]]
    assert fired and {a["kind"] for a in fired} <= {"reminder", "due", "escalation"}
    assert all(api.org.regional in a["recipients"] or a["kind"] == "escalation" for a in fired)
    # Nothing was done: the same question gets the same answer.
    assert api.call(admin, "GET", f"/deadlines/preview?at=2037-12-31T00:00:00%2B00:00&school={api.org.school}").json \
        == later
    # An answer about a far moment lists at most `limit` of what is due, earliest first, and says so.
    one = api.call(admin, "GET", "/deadlines/preview?at=2037-12-31T00:00:00%2B00:00&limit=1").json
    assert one is not None and len(one["actions"]) + len(one["arrivals"]) <= 1 and one["truncated"] is True
    problem(api.call(admin, "GET", "/deadlines/preview?limit=100000"), 422)


def test_guessing_link_tokens_through_the_api_is_throttled_as_on_the_page(api: Client) -> None:
    _to_questionnaires(api)
    statuses = [api.client.post("/api/v1/questionnaires/answers", json={"token": f"guess-{n}", "answers": PARENT},
                                environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code for n in range(21)]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429
    # Another address is not affected.
    problem(api.client.post("/api/v1/questionnaires/form", json={"token": "guess"},
                            environ_base={"REMOTE_ADDR": "198.51.100.8"}), 404)
