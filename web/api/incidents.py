"""Incidents: failed steps of roadmaps, for admins — list, read one, retry after a fix."""

from __future__ import annotations

from typing import Any

from engine.config import Settings
from engine.deadlines.sweep import retry_incident
from engine.process.incidents import get_incident, list_incidents
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.paging import page_of
from web.api.schemas import IncidentOut, IncidentQuery, Problem
from web.session import db

blp = Blueprint("api_incidents", __name__, url_prefix="/api/v1/incidents",
                description="Incidents: steps of roadmaps that failed and wait for a retry (admins)")
blueprints = [blp]


@blp.route("")
@blp.arguments(IncidentQuery, location="query")
@blp.response(200, IncidentOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.paginate()
def index(query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
    """Open incidents, newest first (`include_resolved=true` for every one); `school` narrows to one school."""
    found = list_incidents(db(), include_resolved=query.get("include_resolved", False),
                           school=query.get("school"), actor=api_login())
    return page_of(found, pagination_parameters)


@blp.route("/<id:incident_id>")
@blp.response(200, IncidentOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def read(incident_id: int) -> Any:
    """One incident."""
    return get_incident(db(), incident_id, actor=api_login())


@blp.route("/<id:incident_id>/retry", methods=["POST"])
@blp.response(200, IncidentOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def retry(incident_id: int) -> Any:
    """Try the failed step again now (after fixing the template and migrating the instance). The answer is the
    incident afterwards: `resolved_at` set if the step went through, else the new `error` and one more try."""
    return retry_incident(db(), incident_id, base_url=Settings.from_env().base_url, actor=api_login())
