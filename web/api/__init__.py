"""The REST API, /api/v1: marshmallow schemas, an OpenAPI 3 document at /api/v1/openapi.json with
interactive docs at /api/v1/docs, personal bearer tokens, errors as application/problem+json.

Every view reads its input, calls one engine service as the token's user, and returns; the services
apply the same role and scope rules as the web UI.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError, FormInvalid, TemplateInvalid
from web.api.paging import PAGING_HEADER
from web.errors import status_of
from web.i18n import N_, gettext
from web.inputs import CONVERTERS, converter_schema

PREFIX = "/api/v1"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 412: "Precondition Failed", 413: "Payload Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Entity", 428: "Precondition Required", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


def problem(status: int, detail: str, errors: dict[str, Any] | None = None) -> Response:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="roadmap-500"'
    return response


def engine_problem(err: EngineError) -> Response:
    status = status_of(err)
    errors = err.errors if isinstance(err, FormInvalid) else None
    if isinstance(err, TemplateInvalid):
        errors = {"problems": [p.format() for p in err.problems]}
    return problem(status, err.message, errors)


class _Api(Api):  # type: ignore[misc]
    def _register_pagination_header(self) -> None:
        """X-Pagination as documented, with the task lists' ``next_cursor`` (``web.api.paging``)."""
        self.spec.components.header("PAGINATION", PAGING_HEADER, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response | tuple[str, int]:
        """Argument validation (422) and every other HTTP error of the API, as problem documents; people on
        the web pages (flask-smorest registers this handler app-wide) get the Russian error page instead."""
        if not is_api_request():
            status = error.code or 500
            message = {404: N_("Такой страницы нет."), 405: N_("Так к этой странице обратиться нельзя.")}.get(
                status, N_("Запрос не удалось выполнить."))
            return render_template("error.html", message=gettext(message), status=status), status
        data = getattr(error, "data", {}) or {}
        errors = _field_errors(data.get("messages") or {}) or None
        detail = "Некорректные параметры запроса." if errors else (error.description or error.name)
        return problem(error.code or 500, str(detail), errors)


def _field_errors(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs' messages by location — ``{"json": {"field": [...]}}``, or a bare list for the location as a
    whole (``{"json": ["Invalid JSON body."]}``, which once made this handler fail with a 500)."""
    errors: dict[str, Any] = {}
    for where, found in messages.items():
        if not isinstance(found, dict):
            errors[where] = found
            continue
        for field, msgs in found.items():
            errors[f"{where}.{field}" if where not in ("json", "form") else field] = msgs
    return errors


def init_api(app: Flask, csrf: CSRFProtect) -> None:
    app.config.update(
        API_TITLE="Roadmap API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX, OPENAPI_JSON_PATH="openapi.json", OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/static/dist/swagger-ui/", API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}],
            "info": {"description": "The «500+» roadmap engine: stages, tasks and roadmaps. Authenticate with "
                                    "a personal token: `Authorization: Bearer r500_…`."},
        },
    )
    api = _Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for converter in CONVERTERS.values():
        api.register_converter(converter, converter_schema)
    from web.api import (
        admin,
        documents,
        forms,
        incidents,
        management,
        measures,
        org,
        process,
        questionnaires,
        reports,
        tasks,
        visits,
        webhooks,
    )

    for module in (tasks, forms, process, org, incidents, questionnaires, documents, admin, management, measures,
                   visits, reports, webhooks):
        for blueprint in module.blueprints:
            csrf.exempt(blueprint)  # tokens, not cookies: there is no session to forge requests against
            api.register_blueprint(blueprint)


def is_api_request() -> bool:
    return request.path.startswith(PREFIX + "/")
