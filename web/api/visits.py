"""The curator visit schedule of a school: read it with the half-year counts, plan a visit, move one with a
reason, cancel one — the same services as the visits page (engine/process/visits.py)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine.process import visits
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import Problem
from web.session import db

blp = Blueprint("api_visits", __name__, url_prefix="/api/v1", description="The curator visit schedule")
blueprints = [blp]


class VisitMoveOut(Schema):
    at = fields.Str(required=True)
    by = fields.Str(allow_none=True)
    moved_from = fields.Date(required=True)
    moved_to = fields.Date(required=True)
    reason = fields.Str(required=True)


class VisitOut(Schema):
    id = fields.Int(required=True)
    school_code = fields.Str(required=True)
    planned_on = fields.Date(required=True)
    half_year = fields.Str(required=True, metadata={"description": "the school year's half: 2026/27-1 (Sep–Dec), "
                                                                  "2026/27-2 (Jan–Aug)"})
    half_year_title = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "planned, done or cancelled"})
    status_title = fields.Str(required=True)
    note = fields.Str()
    visited_on = fields.Date(allow_none=True)
    report_task_id = fields.Int(allow_none=True, metadata={"description": "the curator's visit report linked to it"})
    cancel_reason = fields.Str(allow_none=True)
    overdue = fields.Bool(metadata={"description": "planned, its day passed and not done"})
    moves = fields.List(fields.Nested(VisitMoveOut))


class TallyOut(Schema):
    planned = fields.Int(required=True)
    done = fields.Int(required=True)


class SchoolVisitsOut(Schema):
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    today = fields.Date(required=True, metadata={"description": "the school's local date"})
    visits = fields.List(fields.Nested(VisitOut))
    tallies = fields.Dict(keys=fields.Str(), values=fields.Nested(TallyOut),
                          metadata={"description": "planned (not cancelled) and done visits per half-year"})
    can_plan = fields.Bool()
    schedules = fields.Bool(metadata={"description": "the school's running roadmap keeps a visit schedule"})
    curators = fields.List(fields.Str())


class VisitIn(Schema):
    planned_on = fields.Date(required=True)
    note = fields.Str(load_default="", validate=validate.Length(max=visits.MAX_NOTE))


class VisitMoveIn(Schema):
    planned_on = fields.Date(required=True)
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=visits.MAX_REASON))


class VisitCancelIn(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=visits.MAX_REASON))


@blp.route("/schools/<code>/visits")
@blp.response(200, SchoolVisitsOut)
@blp.alt_response(404, schema=Problem)
def school_visits(code: str) -> Any:
    """The school's planned curator visits and the half-year counts (anyone whose scope covers the school)."""
    return visits.list_visits(db(), code, actor=api_login())


@blp.route("/schools/<code>/visits", methods=["POST"])
@blp.arguments(VisitIn)
@blp.response(201, VisitOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(422, schema=Problem)
def plan(body: dict[str, Any], code: str) -> Any:
    """Plan a curator's visit to the school (its municipal or regional coordinator, an admin)."""
    return visits.plan_visit(db(), code, actor=api_login(), **body)


@blp.route("/visits/<id:visit_id>/move", methods=["POST"])
@blp.arguments(VisitMoveIn)
@blp.response(200, VisitOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
def move(body: dict[str, Any], visit_id: int) -> Any:
    """Move a planned visit to another day, with the reason; the move is kept in its history."""
    return visits.move_visit(db(), visit_id, actor=api_login(), **body)


@blp.route("/visits/<id:visit_id>/cancel", methods=["POST"])
@blp.arguments(VisitCancelIn)
@blp.response(200, VisitOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
def cancel(body: dict[str, Any], visit_id: int) -> Any:
    """Cancel a planned visit, with the reason."""
    return visits.cancel_visit(db(), visit_id, actor=api_login(), **body)
