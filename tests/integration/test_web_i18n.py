"""The UI in two languages: Russian by default, English on request, the choice kept in the session; the
language switch only sends people back to this site; and no wrapped text is left without a translation."""

from __future__ import annotations

import importlib.util
import re
from datetime import date
from pathlib import Path

import pytest
from flask import Flask, session
from flask.testing import FlaskClient

from engine.actors import OPERATOR
from engine.db import Database
from engine.process import instances
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import PASSWORD, ROADMAP, csrf_token, set_password
from web.app import create_app
from web.i18n import catalog, current_language, format_day, gettext, workdays_left

WEB = Path(__file__).resolve().parents[2] / "web"
_SPEC = importlib.util.spec_from_file_location("translations", WEB.parent / "scripts" / "translations.py")
assert _SPEC is not None and _SPEC.loader is not None
translations = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(translations)


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
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instances.start_instance(db, key, org.school, cohort_year=2035, actor=OPERATOR)
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


def test_texts_missing_from_a_catalog_stay_russian() -> None:
    assert catalog("en").ugettext("Мои задачи") == "My tasks"
    assert catalog("ru").ugettext("Мои задачи") == "Мои задачи"
    assert catalog("xx").ugettext("Мои задачи") == "Мои задачи"
    assert catalog("en").ugettext("Нет такого текста") == "Нет такого текста"
    assert current_language() == "ru" and gettext("Мои задачи") == "Мои задачи"  # outside a request


def test_every_marked_text_is_in_both_catalogs_and_has_english() -> None:
    """Extracted the way ``make translations`` does; fails for a new text until the catalogs are updated and
    the English is written (scripts/translations.py)."""
    texts = {m.id for m in translations.extract() if m.id}
    assert len(texts) > 300 and "Мои задачи" in texts and "Пароль изменён." in texts
    assert "Маршрут запущен" in texts and "Перенесён на новую версию шаблона" in texts  # engine/labels.py
    assert translations.problems() == []
    for message in translations.read("en"):
        if not message.id or isinstance(message.id, tuple):
            continue
        assert set(re.findall(r"\{\w*\}", message.id)) == set(re.findall(r"\{\w*\}", message.string)), message.id
        assert not re.search("[А-Яа-яЁё]", message.string), message.string


@pytest.mark.parametrize(("lang", "n", "expected"), [
    ("ru", 1, "остался 1 рабочий день"), ("ru", 3, "осталось 3 рабочих дня"), ("ru", 5, "осталось 5 рабочих дней"),
    ("ru", 11, "осталось 11 рабочих дней"), ("ru", 21, "остался 21 рабочий день"), ("ru", 0, "срок сегодня"),
    ("en", 1, "1 working day left"), ("en", 4, "4 working days left"),
])
def test_counted_texts_take_the_languages_plural_forms(app: Flask, lang: str, n: int, expected: str) -> None:
    with app.test_request_context("/"):
        session["lang"] = lang
        assert workdays_left(n) == expected


def test_dates_come_from_the_locale(app: Flask) -> None:
    with app.test_request_context("/"):
        assert format_day(date(2026, 12, 2)) == "2 декабря 2026\u202fг."  # CLDR: a narrow no-break space
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert format_day(date(2026, 12, 2)) == "December 2, 2026"
