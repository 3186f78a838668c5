"""The UI in two languages: Russian by default, English on request, the choice kept in the session; the
language switch only sends people back to this site; and no wrapped text is left without a translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import instances, templates
from engine.cohorts import ensure_cohort
from engine.db import Database
from tests.conftest import Org, make_org
from tests.helpers import PASSWORD, ROADMAP, csrf_token, set_password
from web.app import EVENT_WORDS, STAGE_WORDS, create_app
from web.i18n import EN, current_language, translate
from web.templates_admin import HISTORY_WORDS

WEB = Path(__file__).resolve().parents[2] / "web"
TEMPLATE_TEXT = re.compile(r"""\b_\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")""")


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})


@pytest.fixture
def org(db: Database) -> Org:
    org = make_org(db)
    set_password(db, org.regional)
    return org


def _sign_in(client: FlaskClient, login: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_login_page_is_russian_by_default_and_english_on_request(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ru">' in page and "<h1>Вход</h1>" in page and ">Войти</button>" in page
    assert 'href="/lang/en?next=/login"' in page and 'href="/lang/ru?next=/login"' in page  # signed out too
    switched = client.get("/lang/en?next=/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page and "Password" in page
    assert "Вход" not in page and "Пароль" not in page
    assert 'name="login"' in page and 'name="password"' in page  # field names do not change


def test_signed_in_pages_follow_the_language_and_switch_back(app: Flask, org: Org, db: Database) -> None:
    ensure_cohort(db, 2035)
    key = templates.deploy_template(db, templates.read_bundle(ROADMAP)).key
    instances.start_instance(db, key, org.school, cohort_year=2035)
    client = app.test_client()
    client.get("/lang/en")
    _sign_in(client, org.regional)
    inbox = client.get("/").get_data(as_text=True)
    assert "<h1>My tasks</h1>" in inbox and "Sign out" in inbox and "Мои задачи" not in inbox
    assert 'data-testid="inbox"' in inbox and "<th>Task</th><th>School</th><th>Stage</th>" in inbox
    assert "Подтвердить участие" in inbox  # task names come from the diagram and stay Russian
    client.get("/lang/ru?next=/")
    inbox = client.get("/").get_data(as_text=True)
    assert '<html lang="ru">' in inbox and "<h1>Мои задачи</h1>" in inbox and "Выйти" in inbox


def test_flash_messages_are_translated(app: Flask, org: Org) -> None:
    client = app.test_client()
    client.get("/lang/en")
    assert "Please sign in to continue." in client.get("/", follow_redirects=True).get_data(as_text=True)
    _sign_in(client, org.regional)
    token = csrf_token(client.get("/").get_data(as_text=True))
    page = client.post("/logout", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "You have signed out." in page
    csrf = client.post("/login", data={"login": org.regional, "password": PASSWORD})
    assert csrf.status_code == 400 and "The form has expired" in csrf.get_data(as_text=True)


def test_the_switch_only_returns_to_this_site(app: Flask) -> None:
    client = app.test_client()
    for evil in ("https://evil.example", "//evil.example", "/\\evil.example", "evil.example/"):
        response = client.get("/lang/en", query_string={"next": evil})
        assert response.status_code == 302 and response.headers["Location"] == "/", evil
    assert client.get("/lang/en").headers["Location"] == "/"
    assert client.get("/lang/en?next=/dashboard%3Fcohort%3D2035").headers["Location"] == "/dashboard?cohort=2035"


def test_unknown_language_keeps_the_current_one(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/lang/xx").status_code == 302
    assert '<html lang="ru">' in client.get("/login").get_data(as_text=True)
    client.get("/lang/en")
    client.get("/lang/xx")
    client.get("/lang/EN")
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    with client.session_transaction() as session:
        session["lang"] = "de"  # a tampered or stale session value falls back to Russian
    assert '<html lang="ru">' in client.get("/login").get_data(as_text=True)


def test_translate_never_fails() -> None:
    assert translate("Мои задачи", "en") == "My tasks"
    assert translate("Мои задачи", "ru") == "Мои задачи"
    assert translate("Мои задачи", "xx") == "Мои задачи"
    assert translate("Нет такого текста", "en") == "Нет такого текста"
    assert current_language() == "ru"  # outside a request


def _template_texts() -> set[str]:
    texts = set()
    for path in (WEB / "templates").rglob("*.html"):
        for single, double in TEMPLATE_TEXT.findall(path.read_text(encoding="utf-8")):
            texts.add(single or double)
    return texts


def _view_texts() -> set[str]:
    """The first argument of every translate("…", …) call with a literal in web/*.py."""
    texts = set()
    for path in WEB.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "translate"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                texts.add(node.args[0].value)
    return texts


def test_every_wrapped_text_has_an_english_translation() -> None:
    templates, views = _template_texts(), _view_texts()
    assert len(templates) > 100 and "Мои задачи" in templates and "Выгрузить в Excel" in templates
    assert "Черновик сохранён." in views and "Пароль изменён." in views
    words = set(STAGE_WORDS.values()) | set(EVENT_WORDS.values()) | set(HISTORY_WORDS.values())
    missing = sorted(text for text in templates | views | words if text not in EN and text != "—")
    assert not missing, f"no English for: {missing}"
    for russian, english in EN.items():  # the same placeholders on both sides, and no Russian left over
        assert set(re.findall(r"\{\w*\}", russian)) == set(re.findall(r"\{\w*\}", english)), russian
        assert not re.search("[А-Яа-яЁё]", english), english
