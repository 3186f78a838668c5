"""The Flask app factory, its health page and its error answers."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path

import engine
import web
import workers
from engine.db import Database
from engine.errors import (
    EngineError,
    FormDefinitionInvalid,
    FormInvalid,
    MigrationImpossible,
    NotAllowed,
    Problem,
    TaskAlreadyCompleted,
    TaskNotFound,
    TemplateInvalid,
)
from web.app import create_app
from web.errors import STATUS


def test_health_reports_the_database(db: Database) -> None:
    client = create_app({"DATABASE": db, "TESTING": True}).test_client()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json is not None and response.json["status"] == "ok"
    assert isinstance(response.json["template_versions"], int)


def test_the_site_has_an_icon_where_browsers_look_for_it(db: Database) -> None:
    client = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "t"}).test_client()
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in page
    for url in ("/favicon.ico", "/static/favicon.svg"):
        with client.get(url) as response:  # a file response: closed, or its file stays open
            assert response.status_code == 200 and response.mimetype == "image/svg+xml"
            assert response.get_data().startswith(b"<svg")


def test_health_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    broken = Database.from_url(f"sqlite:///{tmp_path / 'no-schema.sqlite3'}")  # never migrated
    try:
        response = create_app({"DATABASE": broken}).test_client().get("/health")
        assert response.status_code == 503 and response.json == {"status": "error",
                                                                  "database": "OperationalError"}
    finally:
        broken.engine.dispose()


def test_front_page_asks_to_sign_in_in_russian(db: Database) -> None:
    client = create_app({"DATABASE": db}).test_client()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ru">' in page and "Вход" in page and "Пароль" in page


def _raising(error: Exception) -> Callable[[], None]:
    def view() -> None:
        raise error

    return view


def test_engine_errors_map_to_http_codes(db: Database) -> None:
    app = create_app({"DATABASE": db})
    errors = {"/nf": TaskNotFound("нет"), "/na": NotAllowed("нельзя"), "/conflict": TaskAlreadyCompleted("уже"),
              "/form": FormInvalid({"coverage": ["Обязательное поле."]})}
    for path, error in errors.items():
        app.add_url_rule(path, path, _raising(error))
    client = app.test_client()
    assert client.get("/nf").status_code == 404
    assert client.get("/na").status_code == 403
    assert client.get("/conflict").status_code == 409
    assert "Нет доступа" in client.get("/na").get_data(as_text=True)  # people get a page, in Russian
    form = client.get("/form", headers={"Accept": "application/json"})  # programs get JSON
    assert form.status_code == 422 and form.json is not None
    assert form.json["fields"] == {"coverage": ["Обязательное поле."]}


def test_unknown_pages_are_pages_for_people_and_problems_for_programs(db: Database) -> None:
    client = create_app({"DATABASE": db, "SECRET_KEY": "x"}).test_client()
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html" and "Такой страницы нет." in page.get_data(as_text=True)
    api = client.get("/api/v1/no-such-resource")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"


def _every_engine_error() -> list[type[EngineError]]:
    """Every subclass anywhere in engine/, web/ and workers/ (imported first, so none is missed)."""
    for package in (engine, web, workers):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)

    def below(cls: type[EngineError]) -> Iterator[type[EngineError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return [EngineError, *below(EngineError)]


#: The classes whose constructor takes more than a message.
_SPECIAL: dict[type[EngineError], Callable[[], EngineError]] = {
    TemplateInvalid: lambda: TemplateInvalid([Problem("mini.bpmn", 3, "review", "нет роли")]),
    FormInvalid: lambda: FormInvalid({"coverage": ["Обязательное поле."]}),
    FormDefinitionInvalid: lambda: FormDefinitionInvalid(["нет поля key"]),
    MigrationImpossible: lambda: MigrationImpossible(["задача удалена"]),
}


def test_pages_and_api_answer_every_engine_error_with_one_status(sqlite_db: Database) -> None:
    """A new error class without an entry in web/errors.py fails here; so would the pages and the API
    disagreeing again (the API once answered 400 for TemplateNotFound and FileRejected)."""
    classes = _every_engine_error()
    assert len(classes) > 25
    missing = sorted(cls.__qualname__ for cls in classes if cls not in STATUS)
    assert missing == [], f"no HTTP status in web/errors.py STATUS for {missing}"
    app = create_app({"DATABASE": sqlite_db, "SECRET_KEY": "x"})
    for number, cls in enumerate(classes):
        error = _SPECIAL[cls]() if cls in _SPECIAL else cls("сообщение об ошибке")
        for path in (f"/raise/{number}", f"/api/v1/raise/{number}"):
            app.add_url_rule(path, path, _raising(error))
    client = app.test_client()
    for number, cls in enumerate(classes):
        page = client.get(f"/raise/{number}")
        as_json = client.get(f"/raise/{number}", headers={"Accept": "application/json"})
        api = client.get(f"/api/v1/raise/{number}")
        assert page.status_code == as_json.status_code == api.status_code == STATUS[cls], cls.__qualname__
        assert page.mimetype == "text/html" and as_json.mimetype == "application/json", cls.__qualname__
        assert api.mimetype == "application/problem+json" and api.json is not None, cls.__qualname__
        assert api.json["status"] == STATUS[cls] and api.json["title"] != "Error", cls.__qualname__
