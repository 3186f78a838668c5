"""The template workspace and the calendars in the browser (Flask test client): the pages, the JSON the
editors use (with CSRF on PUT), deploy, export/import, retiring, diff, calendar forms with field errors."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.bpmn.manifest_schema import manifest_schema
from engine.db import Database
from engine.models import CalendarOverride, Cohort
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import csrf_token, meta_csrf_token, post, signed_in, with_passwords
from web.app import create_app


@dataclass
class Site:
    app: Flask
    org: Org
    key: str
    admin: FlaskClient


@pytest.fixture
def site(db: Database, bundle_copy: Path) -> Site:
    org = make_org(db)
    with_passwords(db, org)
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    return Site(app, org, key, signed_in(app, org.admin))


def _open_draft(site: Site) -> str:
    status, _ = post(site.admin, f"/admin/templates/{site.key}/draft/open", {}, f"/admin/templates/{site.key}")
    assert status == 302
    return f"/admin/templates/{site.key}/draft"


def test_list_and_template_pages(site: Site) -> None:
    listing = site.admin.get("/admin/templates").get_data(as_text=True)
    assert f'data-template="{site.key}"' in listing and "Импорт zip" in listing
    page = site.admin.get(f"/admin/templates/{site.key}").get_data(as_text=True)
    for text in ("Редактировать черновик", "Экспорт (zip)", "Вывести из использования", "История",
                 'data-status="deployed"'):
        assert text in page, text
    assert site.admin.get("/admin/templates/no-such-template").status_code == 404


def test_editor_page_carries_the_contract_for_the_browser_editors(site: Site) -> None:
    draft_url = _open_draft(site)
    page = site.admin.get(f"{draft_url}/edit/mini.bpmn").get_data(as_text=True)
    base = f"/admin/templates/{site.key}/draft"
    assert (f'<div id="template-editor" data-kind="bpmn" data-path="mini.bpmn" data-file-url="{base}/files/mini.bpmn" '
            f'data-problems-url="{base}/problems" data-context-url="{base}/context" data-draft-url="{base}"></div>'
            ) in page
    assert '<script type="module" src="/static/dist/template-editor.js"></script>' in page
    assert '<link rel="stylesheet" href="/static/dist/template-editor-bpmn.css">' in page
    assert 'data-kind="form"' in site.admin.get(f"{draft_url}/edit/forms/review.form").get_data(as_text=True)
    manifest_page = site.admin.get(f"{draft_url}/edit/manifest.json").get_data(as_text=True)
    # The manifest's forms, drawn from the schema the page carries (as written: its order is the tabs' order),
    # and the plain text form under them for a browser without JavaScript.
    assert 'data-kind="manifest"' in manifest_page and 'data-testid="text-editor"' in manifest_page
    assert '<link rel="stylesheet" href="/static/dist/template-editor-manifest.css">' in manifest_page
    embedded = re.search(r'<script type="application/json" id="manifest-schema">(.*?)</script>', manifest_page)
    assert embedded is not None and json.loads(embedded[1]) == manifest_schema()
    assert list(json.loads(embedded[1])["properties"])[:3] == ["key", "title", "process"]
    assert "manifest-schema" not in page  # the BPMN page does not carry it
    assert site.admin.get(f"{draft_url}/edit/nothing.bpmn").status_code == 404


def test_file_json_endpoints(site: Site) -> None:
    draft_url = _open_draft(site)
    file_url = f"{draft_url}/files/mini.bpmn"
    original = site.admin.get(file_url)
    assert original.status_code == 200 and original.get_data(as_text=True).startswith("<?xml")
    broken = original.get_data(as_text=True).replace(' roadmap:form="questionnaire"', "", 1)
    refused = site.admin.put(file_url, json={"content": broken})  # no CSRF header
    assert refused.status_code == 400 and refused.get_json()["saved"] is False
    assert site.admin.get(file_url).get_data(as_text=True) == original.get_data(as_text=True)
    headers = {"X-CSRFToken": meta_csrf_token(site.admin, draft_url)}
    saved = site.admin.put(file_url, json={"content": broken}, headers=headers)
    body = saved.get_json()
    assert saved.status_code == 200 and body["saved"] is True and body["valid"] is False
    [problem] = [p for p in body["problems"] if p["element_id"] == "fill_questionnaire"]
    assert problem["path"] == "mini.bpmn" and problem["line"] == 22 and problem["message"]
    assert site.admin.get(file_url).get_data(as_text=True) == broken
    problems = site.admin.get(f"{draft_url}/problems").get_json()
    assert problems["valid"] is False and problems["problems"] == body["problems"]
    for bad in ({"content": 5}, {"text": "x"}, {"content": "a\x00b"}):
        answer = site.admin.put(file_url, json=bad, headers=headers)
        assert answer.status_code == 422 and answer.get_json()["saved"] is False, bad
        assert answer.get_json()["problems"][0]["message"]
    assert site.admin.get(file_url).get_data(as_text=True) == broken  # nothing of that was stored
    context = site.admin.get(f"{draft_url}/context").get_json()
    assert context == {"roles": ["school", "curator"], "stages": [{"key": "questionnaire", "title": "Анкетирование"}],
                       "forms": ["questionnaire", "review"], "calendar": [], "deadlines": {},
                       "references": {}}


def test_draft_page_deploy_refused_then_done_with_a_migration_link(site: Site) -> None:
    draft_url = _open_draft(site)
    file_url = f"{draft_url}/files/mini.bpmn"
    original = site.admin.get(file_url).get_data(as_text=True)
    headers = {"X-CSRFToken": meta_csrf_token(site.admin, draft_url)}
    site.admin.put(file_url, json={"content": original.replace(' roadmap:form="questionnaire"', "", 1)},
                   headers=headers)
    page = site.admin.get(draft_url).get_data(as_text=True)
    assert re.search(r"mini\.bpmn:22 fill_questionnaire — [^<]*roadmap:form", page)
    assert 'data-testid="deploy-note"' in page and "disabled" in page
    status, body = post(site.admin, f"{draft_url}/deploy", {}, draft_url)
    assert status == 422 and "fill_questionnaire" in body
    site.admin.put(file_url, json={"content": original.replace("Старт", "Начало")}, headers=headers)
    valid_page = site.admin.get(draft_url).get_data(as_text=True)
    assert 'data-testid="draft-valid"' in valid_page and "/diff?from=1&amp;to=draft" in valid_page
    draft_diff = site.admin.get(f"/admin/templates/{site.key}/diff?from=1&to=draft").get_data(as_text=True)
    assert 'data-testid="diff"' in draft_diff and "Версия 1 → черновик" in draft_diff
    status, _ = post(site.admin, f"{draft_url}/deploy", {}, draft_url)
    assert status == 302
    page = site.admin.get(f"/admin/templates/{site.key}?deployed=2&previous=1").get_data(as_text=True)
    assert "Развёрнута версия 2" in page
    assert f'href="/admin/migrations?key={site.key}&amp;from=1&amp;to=2"' in page
    assert 'data-version="2"' in page and "Сравнить версии" in page
    diff = site.admin.get(f"/admin/templates/{site.key}/diff?from=1&to=2").get_data(as_text=True)
    assert 'data-testid="diff"' in diff and "стартовое событие «Старт» → стартовое событие «Начало»" in diff
    assert 'data-testid="diff-diagram"' in diff and f'data-xml-url="/admin/templates/{site.key}/versions/2/diagram.bpmn"' in diff
    xml = site.admin.get(f"/admin/templates/{site.key}/versions/2/diagram.bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/xml" and "Начало".encode() in xml.data
    assert site.admin.get(f"/admin/templates/{site.key}/versions/9/diagram.bpmn").status_code == 404


def test_forms_discard_export_import_retire(site: Site) -> None:
    draft_url = _open_draft(site)
    status, _ = post(site.admin, f"{draft_url}/forms", {"name": "extra"}, draft_url)
    assert status == 302 and "forms/extra.form" in site.admin.get(draft_url).get_data(as_text=True)
    post(site.admin, f"{draft_url}/forms/delete", {"path": "forms/extra.form"}, draft_url)
    assert "forms/extra.form" not in site.admin.get(draft_url).get_data(as_text=True)
    exported = site.admin.get(f"/admin/templates/{site.key}/versions/1/export.zip")
    assert exported.status_code == 200 and exported.data[:2] == b"PK"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(exported.data)).namelist()
    assert site.admin.get(f"{draft_url}/export.zip").data[:2] == b"PK"
    post(site.admin, f"{draft_url}/discard", {}, draft_url)
    assert site.admin.get(draft_url).status_code == 404
    token = csrf_token(site.admin.get("/admin/templates").get_data(as_text=True))
    imported = site.admin.post("/admin/templates/import", data={
        "csrf_token": token, "bundle": (io.BytesIO(exported.data), "mini.zip")}, content_type="multipart/form-data")
    assert imported.status_code == 302 and imported.headers["Location"].endswith(draft_url)
    assert 'data-testid="draft-valid"' in site.admin.get(draft_url).get_data(as_text=True)
    status, _ = post(site.admin, f"/admin/templates/{site.key}/versions/1/retire", {}, "/admin/templates")
    assert status == 302
    page = site.admin.get(f"/admin/templates/{site.key}").get_data(as_text=True)
    assert 'data-status="retired"' in page and "Вернуть в работу" in page
    post(site.admin, f"/admin/templates/{site.key}/versions/1/restore", {}, "/admin/templates")
    assert 'data-status="deployed"' in site.admin.get(f"/admin/templates/{site.key}").get_data(as_text=True)


def test_production_calendar_page(site: Site, db: Database) -> None:
    status, body = post(site.admin, "/admin/calendar", {"day": "2093-02-30", "kind": "holiday", "note": ""},
                        "/admin/calendar")
    assert status == 422 and 'data-error="day"' in body
    with db.reading() as session:
        assert session.scalar(select(CalendarOverride).where(CalendarOverride.note == "тест-2093")) is None
    status, _ = post(site.admin, "/admin/calendar", {"day": "2093-03-09", "kind": "working", "note": "тест-2093"},
                     "/admin/calendar")
    assert status == 302
    page = site.admin.get("/admin/calendar?year=2093").get_data(as_text=True)
    assert 'data-day="2093-03-09"' in page and "тест-2093" in page
    post(site.admin, "/admin/calendar/remove", {"day": "2093-03-09"}, "/admin/calendar")
    assert 'data-day="2093-03-09"' not in site.admin.get("/admin/calendar?year=2093").get_data(as_text=True)


def test_cohort_calendar_page(site: Site, db: Database, bundle_copy: Path) -> None:
    manifest = bundle_copy / "manifest.json"
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**raw, "cohort_calendar": {"mini_close": "03-01"}}), encoding="utf-8")
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    ensure_cohort(db, 2092)
    page = site.admin.get(f"/admin/cohorts?template={key}").get_data(as_text=True)
    assert 'data-cohort="2092"' in page and "01.03.2092" in page
    status, body = post(site.admin, "/admin/cohorts/2092", {"template": key, "date-mini_close": "завтра"},
                        "/admin/cohorts")
    assert status == 422 and 'data-error="mini_close"' in body
    status, _ = post(site.admin, "/admin/cohorts/2092", {"template": key, "date-mini_close": "2092-03-05"},
                     "/admin/cohorts")
    assert status == 302
    with db.reading() as session:
        assert session.scalar(select(Cohort.dates).where(Cohort.year == 2092))["mini_close"] == "2092-03-05"
    post(site.admin, "/admin/cohorts/2092", {"template": key, "date-mini_close": ""}, "/admin/cohorts")


def test_non_admins_get_no_workspace(site: Site) -> None:
    regional = signed_in(site.app, site.org.regional)
    _open_draft(site)
    base = f"/admin/templates/{site.key}"
    for url in ("/admin/templates", base, f"{base}/draft", f"{base}/draft/edit/mini.bpmn",
                f"{base}/draft/files/mini.bpmn", f"{base}/draft/problems", f"{base}/draft/context",
                f"{base}/versions/1/export.zip", f"{base}/diff?from=1&to=1", "/admin/calendar", "/admin/cohorts"):
        assert regional.get(url).status_code == 403, url
    headers = {"X-CSRFToken": meta_csrf_token(regional, "/")}
    assert regional.put(f"{base}/draft/files/mini.bpmn", json={"content": "<x/>"}, headers=headers).status_code == 403
    assert site.admin.get(f"{base}/draft/files/mini.bpmn").get_data(as_text=True).startswith("<?xml")
    assert "Шаблоны" not in regional.get("/").get_data(as_text=True)
    assert "Шаблоны" in site.admin.get("/").get_data(as_text=True)


def test_workspace_pages_follow_the_language(site: Site) -> None:
    site.admin.get("/lang/en")
    page = site.admin.get(f"/admin/templates/{site.key}").get_data(as_text=True)
    assert "Edit draft" in page and "Export (zip)" in page and "Retire" in page
    calendar = site.admin.get("/admin/calendar").get_data(as_text=True)
    assert 'href="/admin/calendar">Calendar</a>' in calendar and "Production calendar" in calendar
