"""The Flask application factory. Nothing happens at import time; the engine is reached through
``app.extensions["roadmap.db"]`` and engine errors become HTTP answers in one handler (statuses: web/errors.py)."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import func, select
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from engine import caches, labels
from engine.config import Settings
from engine.db import Database
from engine.errors import EngineError, FormInvalid
from engine.models import TemplateVersion
from engine.process.incidents import open_count
from engine.process.visits import half_year_title
from engine.templates.versions import all_stage_titles
from engine.timing.production_calendar import load_calendar
from engine.timing.workdays import WorkCalendar
from engine.timing.zones import local_time
from web import i18n, inputs, replica_reads
from web.api import engine_problem, init_api, is_api_request
from web.errors import status_of
from web.i18n import N_, gettext
from web.inputs import InputRejected
from web.session import WebUser, viewer_zone_name
from workers.queue import JobQueue, job_queue


def _secret_key(instance_path: str) -> str:
    """A persistent random key for a development site; production sets ROADMAP_SECRET_KEY.

    gunicorn's workers start at the same moment: the key is written to a temporary file and linked into
    place, which fails if another process got there first, so every process reads one complete key (two
    keys would make each worker reject the others' session cookies and CSRF tokens)."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(secrets.token_urlsafe(48), encoding="ascii")
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()


def create_app(test_config: Mapping[str, Any] | None = None, *, queue: JobQueue | None = None) -> Flask:
    """``queue`` takes the background jobs (``web.session.queue()``); by default rq when ``REDIS_URL`` is set,
    else an inline queue running them in threads of this process on the app's database."""
    app = Flask(__name__, instance_relative_config=True)
    settings = Settings.from_env()
    app.config.from_mapping(
        DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, PROJECT_TEMPLATE=settings.project_template,
        DATABASE_READ_URL=settings.database_read_url, REPLICA_MAX_LAG=settings.replica_max_lag,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=True,
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SECURE=True, REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=25 * 1024 * 1024, WTF_CSRF_TIME_LIMIT=None,
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env("ROADMAP")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    _behind_proxies(app)
    db = app.config.get("DATABASE") or Database.from_url(
        app.config["DATABASE_URL"], read_url=app.config.get("DATABASE_READ_URL"),
        max_lag=float(app.config["REPLICA_MAX_LAG"]))
    app.extensions["roadmap.db"] = db
    app.wsgi_app = _one_connection_per_request(app.wsgi_app, db)  # type: ignore[method-assign]
    app.extensions["roadmap.jobs"] = queue or job_queue(app.config.get("REDIS_URL"), db, settings)
    csrf = CSRFProtect(app)
    inputs.init_app(app)  # URL converters and the JSON reader, before any blueprint's rules
    _login_manager(app, db)
    replica_reads.init_app(app, db)
    _blueprints(app)
    i18n.init_app(app)
    init_api(app, csrf)
    app.before_request(_refuse_unstorable_text)
    app.after_request(_security_headers)
    app.register_error_handler(EngineError, _engine_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.add_url_rule("/health", view_func=health)
    # Browsers and feed readers ask for /favicon.ico whatever the page links to.
    app.add_url_rule("/favicon.ico", view_func=lambda: app.send_static_file("favicon.svg"))
    app.jinja_env.globals.update(stage_words=labels.STAGE_STATES, event_words=labels.EVENTS)
    # «01.03.2027 23:59 (МСК+9)»: in the viewer's zone, named. ``msk`` is its old name, kept for pages not yet renamed.
    app.jinja_env.filters["local_time"] = app.jinja_env.filters["msk"] = _local_time
    app.jinja_env.filters["half_year"] = half_year_title
    app.jinja_env.globals["days_left"] = _DaysLeft(db)
    app.context_processor(lambda: {"stage_titles": _LazyTitles(db, app.config["PROJECT_TEMPLATE"]),
                                   "open_incidents": _LazyIncidentCount(db)})
    return app


def _one_connection_per_request(wsgi_app: Any, db: Database) -> Any:
    """A page reads the signed-in user, its data, the unread badge and the stage titles in short sessions
    of their own; served inside ``db.one_connection()`` they share one pooled connection — one checkout and
    one liveness ping per request instead of one per session. A streamed body read after the call
    returns uses the pool as usual."""

    def serve(environ: Any, start_response: Any) -> Any:
        with db.one_connection():
            return wsgi_app(environ, start_response)

    return serve


def _behind_proxies(app: Flask) -> None:
    """Behind a reverse proxy (gunicorn behind nginx) every request comes from the proxy's address, and
    sign-in's per-address limit would lock everyone out together: ROADMAP_TRUSTED_PROXIES=N takes the
    client's address and scheme from the last N proxies' X-Forwarded-For / X-Forwarded-Proto."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


# Every page loads its scripts from /static (no inline <script>, no handlers in attributes; the Swagger UI
# page has its own template for that), so scripts are limited to this site. Styles keep 'unsafe-inline':
# the pages set widths in style attributes and bpmn-js/form-js write inline styles while they draw.
# data: images and fonts are what bpmn-js's and Swagger UI's stylesheets embed.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    # A respondent's /q/<token> address must not travel to another site in a Referer header.
    "Referrer-Policy": "same-origin",
}


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _login_manager(app: Flask, db: Database) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = N_("Войдите, чтобы продолжить.")
    manager.login_message_category = "info"
    manager.localize_callback = gettext

    @manager.user_loader
    def load(cookie_id: str) -> WebUser | None:
        return WebUser.load(db, cookie_id)


def _blueprints(app: Flask) -> None:
    from web import (
        admin,
        auth,
        curators,
        dashboards,
        incidents_admin,
        management,
        measures,
        migrations_admin,
        questionnaires,
        reports,
        simulation_admin,
        tasks,
        templates_admin,
        visits,
        webhooks_admin,
    )

    for module in (auth, tasks, dashboards, questionnaires, admin, templates_admin, migrations_admin, curators,
                   incidents_admin, management, measures, visits, reports, webhooks_admin, simulation_admin):
        app.register_blueprint(module.blueprint)


def _local_time(moment: datetime | None) -> str:
    shown = local_time(moment, viewer_zone_name(), empty=i18n.gettext("без срока"))
    return shown if i18n.current_language() == "ru" else shown.replace("МСК", "MSK")  # «MSK+9» in English


class _DaysLeft:
    """``days_left(due_at)`` in pages and macros: the working days left to a deadline in words («осталось 3
    рабочих дня», «просрочено на 1 рабочий день»), on the production calendar read once per request that shows a
    deadline (``g``: an admin's correction shows on the next page). Days are the dates of the reader's zone
    (``viewer_zone_name``), the zone the page shows the deadline in."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _calendar(self) -> WorkCalendar:
        calendar = g.get("work_calendar")
        if calendar is None:
            zone_name = viewer_zone_name()  # before the session: it reads in one of its own (one connection)
            with self._db.reading() as session:
                calendar = g.work_calendar = load_calendar(session).in_zone(zone_name)
        assert isinstance(calendar, WorkCalendar)
        return calendar

    def __call__(self, due_at: datetime | None) -> str:
        if due_at is None:
            return ""
        now = self._db.now()
        calendar = self._calendar()
        left = calendar.working_days_until(calendar.local_date(now), calendar.local_date(due_at))
        if due_at < now:
            late = max(-left, 0)
            return i18n.ngettext("просрочено на {n} рабочий день", "просрочено на {n} рабочих дней", late) \
                if late else i18n.gettext("срок истёк сегодня")
        return i18n.workdays_left(left)


class _LazyIncidentCount:
    """The admins' header badge: open incidents, counted only when an admin's page shows it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __int__(self) -> int:
        with self._db.reading() as session:
            return open_count(session)


class _LazyTitles(Mapping[str, str]):
    """Stage titles of every deployed template (the project's own win where two use one key), read only
    by the pages that show stages (not by an error page): an inbox may hold tasks of several templates."""

    def __init__(self, db: Database, project_template: str) -> None:
        self._db = db
        self._project = project_template
        self._titles: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._titles is None:
            self._titles = all_stage_titles(self._db, preferred=self._project)
        return self._titles

    def __getitem__(self, key: str) -> str:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


# PostgreSQL cannot store NUL characters, and lone surrogates are not text at all: refuse them at the door
# instead of failing deep inside a transaction (found by the API fuzz test).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _refuse_unstorable_text() -> None:
    values = [*request.args.values(), *request.form.values(), *(request.view_args or {}).values()]
    if request.is_json:
        values.append(request.get_json(silent=True))
    if any(_UNSTORABLE.search(text) for value in values for text in _strings(value)):
        raise InputRejected("Запрос содержит недопустимые символы (нулевой байт или повреждённый Юникод).")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _engine_error(err: EngineError) -> Any:
    if is_api_request():
        return engine_problem(err)
    status = status_of(err)
    if not _wants_json():
        return render_template("error.html", message=err.message, status=status), status
    body: dict[str, Any] = {"error": type(err).__name__, "message": err.message}
    if isinstance(err, FormInvalid):
        body["fields"] = err.errors
    return jsonify(body), status


def _csrf_error(err: CSRFError) -> tuple[Any, int]:
    message = gettext("Форма устарела или отправлена не с этого сайта. Обновите страницу и попробуйте ещё раз.")
    return render_template("error.html", message=message, status=400), 400


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
    # Every in-process cache with its size and limit (engine.caches): a monitor sees one that fills up.
    sizes = {name: dataclasses.asdict(size) for name, size in caches.sizes(_database().caches).items()}
    return jsonify(status="ok", database="ok", template_versions=templates, caches=sizes), 200
