"""The Flask app factory and its health page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.db import Database
from engine.errors import FormInvalid, NotAllowed, TaskAlreadyCompleted, TaskNotFound
from web.app import create_app


def test_health_reports_the_database(db: Database) -> None:
    client = create_app({"DATABASE": db, "TESTING": True}).test_client()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json is not None and response.json["status"] == "ok"
    assert isinstance(response.json["template_versions"], int)


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
