"""Org structure (read; import for admins), stage status, overdue, notifications, personal tokens."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import request
from flask.views import MethodView

from engine.errors import EngineError
from engine.org import api_tokens, areas
from engine.org.core import list_schools
from engine.org.importing import import_org
from engine.process import notifications
from engine.reports import dashboards
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.paging import page_of
from web.api.schemas import (
    AreaQuery,
    ImportOut,
    NotificationOut,
    OverdueOut,
    Problem,
    SchoolOut,
    SchoolStatusOut,
    StatusOut,
    TokenIn,
    TokenOut,
)
from web.session import chosen_template, db

org_blp = Blueprint("api_org", __name__, url_prefix="/api/v1", description="Schools and org structure")
status_blp = Blueprint("api_status", __name__, url_prefix="/api/v1/status", description="Stage status, overdue")
me_blp = Blueprint("api_me", __name__, url_prefix="/api/v1/me", description="My notifications and tokens")
blueprints = [org_blp, status_blp, me_blp]


@org_blp.route("/schools")
@org_blp.arguments(AreaQuery, location="query")
@org_blp.response(200, SchoolOut(many=True))
@org_blp.paginate()
def schools(query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
    """The schools I see: my school, the schools I curate, my municipality, region or the country."""
    found = list_schools(db(), region_code=query.get("region"),
                         municipality_code=query.get("municipality"), actor=api_login())
    return page_of(found, pagination_parameters)


@org_blp.route("/org/import", methods=["POST"])
@org_blp.response(200, ImportOut)
@org_blp.alt_response(403, schema=Problem)
def import_file() -> dict[str, Any]:
    """Import municipalities, schools and users from a CSV or XLSX upload (multipart `file`); admins only.
    Nothing is imported from a file with errors unless `force=true`."""
    login = api_login()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise EngineError("приложите файл CSV или XLSX в поле file")
    suffix = Path(upload.filename).suffix.lower()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"import{suffix}"
        upload.save(path)
        report = import_org(db(), path, actor=login, force=request.args.get("force") == "true")
    return {"rows": report.rows, "imported": report.imported, "errors": [e.format() for e in report.errors],
            "applied": report.applied}


@status_blp.route("")
@status_blp.arguments(AreaQuery, location="query")
@status_blp.response(200, StatusOut)
@status_blp.alt_response(403, schema=Problem)
def counts(query: dict[str, Any]) -> Any:
    """Counts of schools per stage in an area (default: the widest one I oversee)."""
    login = api_login()
    area = areas.area_for(db(), query.get("region"), query.get("municipality"), actor=login)
    return dashboards.matrix(db(), chosen_template(query.get("template")), area, query.get("cohort"), actor=login)


@status_blp.route("/schools")
@status_blp.arguments(AreaQuery, location="query")
@status_blp.response(200, SchoolStatusOut(many=True))
@status_blp.paginate()
def per_school(query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
    """Stage status of each school in an area."""
    login = api_login()
    area = areas.area_for(db(), query.get("region"), query.get("municipality"), actor=login)
    report = dashboards.matrix(db(), chosen_template(query.get("template")), area, query.get("cohort"), actor=login)
    return page_of(report.schools, pagination_parameters)


@status_blp.route("/overdue")
@status_blp.arguments(AreaQuery, location="query")
@status_blp.response(200, OverdueOut(many=True))
@status_blp.paginate()
def overdue(query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
    """Open tasks past due in an area, highest escalation level first."""
    area = areas.area_for(db(), query.get("region"), query.get("municipality"), actor=api_login())
    levels = dashboards.overdue(db(), area, actor=api_login())
    return page_of([task for level in levels.values() for task in level], pagination_parameters)


@me_blp.route("/notifications")
@me_blp.response(200, NotificationOut(many=True))
@me_blp.paginate()
def my_notifications(pagination_parameters: Any) -> list[Any]:
    """My notifications, newest first."""
    items, _ = notifications.list_notifications(db(), limit=1000, actor=api_login())
    return page_of(items, pagination_parameters)


@me_blp.route("/notifications/read", methods=["POST"])
@me_blp.response(204)
def read_all() -> None:
    """Mark all my notifications read."""
    notifications.mark_read(db(), actor=api_login())


@me_blp.route("/tokens")
class Tokens(MethodView):
    @me_blp.response(200, TokenOut(many=True))
    @me_blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Any]:
        """My personal tokens (never the tokens themselves)."""
        return page_of(api_tokens.list_tokens(db(), actor=api_login()), pagination_parameters)

    @me_blp.arguments(TokenIn)
    @me_blp.response(201, TokenOut)
    @me_blp.alt_response(403, schema=Problem)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a token (for myself, or — admins — for `user`); the token is in this answer only."""
        view, token = api_tokens.create_token(db(), body["name"], for_login=body["user"], actor=api_login())
        return {**view.__dict__, "token": token}


@me_blp.route("/tokens/<id:token_id>", methods=["DELETE"])
@me_blp.response(204)
@me_blp.alt_response(404, schema=Problem)
def revoke(token_id: int) -> None:
    """Revoke one of my tokens (admins: anyone's)."""
    api_tokens.revoke_token(db(), token_id, actor=api_login())
