"""The Flask application factory. Nothing happens at import time; the engine is reached through
``app.extensions["roadmap.db"]`` and engine errors become HTTP answers in one handler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, jsonify, render_template
from sqlalchemy import func, select

from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict, EngineError, FormInvalid, NotAllowed, NotFound, TemplateInvalid
from engine.models import TemplateVersion
from workers.queue import job_queue

_STATUS_OF_ERROR: tuple[tuple[type[EngineError], int], ...] = (
    (NotFound, 404),
    (NotAllowed, 403),
    (Conflict, 409),
    (FormInvalid, 422),
    (TemplateInvalid, 422),
)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    settings = Settings.from_env()
    app.config.from_mapping(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)
    if test_config:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env("ROADMAP")
    db = app.config.get("DATABASE") or Database.from_url(app.config["DATABASE_URL"])
    app.extensions["roadmap.db"] = db
    app.extensions["roadmap.jobs"] = job_queue(app.config.get("REDIS_URL"))
    app.register_error_handler(EngineError, _engine_error)
    app.add_url_rule("/health", view_func=health)
    app.add_url_rule("/", view_func=index)
    return app


def _engine_error(err: EngineError) -> tuple[Any, int]:
    status = next((code for cls, code in _STATUS_OF_ERROR if isinstance(err, cls)), 400)
    body: dict[str, Any] = {"error": type(err).__name__, "message": err.message}
    if isinstance(err, FormInvalid):
        body["fields"] = err.errors
    return jsonify(body), status


def _database() -> Database:
    db = current_app.extensions["roadmap.db"]
    assert isinstance(db, Database)
    return db


def health() -> tuple[Any, int]:
    """Liveness plus a real query, so a monitor sees a broken database as broken."""
    try:
        with _database().reading() as session:
            templates = session.scalar(select(func.count()).select_from(TemplateVersion)) or 0
    except Exception as err:  # noqa: BLE001 - health reports, it does not raise
        return jsonify(status="error", database=type(err).__name__), 503
    return jsonify(status="ok", database="ok", template_versions=templates), 200


def index() -> str:
    return render_template("index.html")
