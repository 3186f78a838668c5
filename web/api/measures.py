"""A school's roadmap of measures: read them with the execution count, and move one on (status, evidence,
reschedule with a reason) or review its evidence — the same services as the measures page."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine.process import measures
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import ExecutionOut, Problem
from web.session import db

blp = Blueprint("api_measures", __name__, url_prefix="/api/v1", description="A school's roadmap of measures")
blueprints = [blp]


class EvidenceOut(Schema):
    link = fields.Str(required=True)
    note = fields.Str()
    at = fields.Str()
    by = fields.Str()


class MeasureOut(Schema):
    id = fields.Int(required=True)
    key = fields.Str(required=True)
    title = fields.Str(required=True)
    direction = fields.Str(allow_none=True, metadata={"description": "the risk direction it serves (a key of the "
                                                                     "school's chosen directions)"})
    direction_title = fields.Str(allow_none=True, metadata={"description": "that direction's title"})
    due_date = fields.Date(required=True)
    responsible = fields.Str(required=True)
    status = fields.Str(required=True)
    status_title = fields.Str(required=True)
    outcome = fields.Str(metadata={"description": "done, failed or empty (open)"})
    done_on = fields.Date(allow_none=True)
    timing = fields.Str(metadata={"description": "on_time, late, overdue or planned"})
    evidence = fields.List(fields.Nested(EvidenceOut))
    accepted_by = fields.Str(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    proposed = fields.Bool(metadata={"description": "added later, waiting for the curator's agreement"})


class StatusChoiceOut(Schema):
    key = fields.Str(required=True)
    title = fields.Str(required=True)
    outcome = fields.Str()
    needs_reason = fields.Bool()
    needs_evidence = fields.Bool()
    reschedules = fields.Bool()


class SchoolMeasuresOut(Schema):
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    today = fields.Date(required=True, metadata={"description": "the school's local date the count is made on"})
    statuses = fields.List(fields.Nested(StatusChoiceOut))
    measures = fields.List(fields.Nested(MeasureOut))
    execution = fields.Nested(ExecutionOut)
    can_update = fields.Bool()
    can_review = fields.Bool()


class MeasurePatch(Schema):
    status = fields.Str(validate=validate.Length(max=32))
    due_date = fields.Date(metadata={"description": "the new due date, with a status that reschedules"})
    reason = fields.Str(validate=validate.Length(max=measures.MAX_REASON))
    evidence_link = fields.Str(validate=validate.Length(max=measures.MAX_LINK))
    evidence_note = fields.Str(validate=validate.Length(max=measures.MAX_NOTE))


class ReviewIn(Schema):
    accept = fields.Bool(required=True)
    comment = fields.Str(load_default="", validate=validate.Length(max=measures.MAX_REASON))


@blp.route("/schools/<code>/measures")
@blp.response(200, SchoolMeasuresOut)
@blp.alt_response(404, schema=Problem)
def school_measures(code: str) -> Any:
    """The school's measures with their state and the execution count (anyone whose scope covers the school)."""
    return measures.list_measures(db(), code, actor=api_login())


@blp.route("/measures/<id:measure_id>", methods=["PATCH"])
@blp.arguments(MeasurePatch)
@blp.response(200, MeasureOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
def update(body: dict[str, Any], measure_id: int) -> Any:
    """The school sets a measure's status, adds evidence (a link), or reschedules it with a reason."""
    return measures.update_measure(db(), measure_id, actor=api_login(), **body)


@blp.route("/measures/<id:measure_id>/review", methods=["POST"])
@blp.arguments(ReviewIn)
@blp.response(200, MeasureOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
def review(body: dict[str, Any], measure_id: int) -> Any:
    """The curator accepts the measure's evidence, or returns it with a comment."""
    return measures.review_measure(db(), measure_id, accept=body["accept"], comment=body["comment"],
                                   actor=api_login())


class MeasureIn(Schema):
    title = fields.Str(required=True, validate=validate.Length(min=1, max=500))
    due_date = fields.Date(required=True)
    responsible = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=measures.MAX_REASON))
    direction = fields.Str(validate=validate.Length(max=64))


class AgreementIn(Schema):
    agree = fields.Bool(required=True)
    comment = fields.Str(load_default="", validate=validate.Length(max=measures.MAX_REASON))


@blp.route("/schools/<code>/measures", methods=["POST"])
@blp.arguments(MeasureIn)
@blp.response(201, MeasureOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
def add(body: dict[str, Any], code: str) -> Any:
    """The school proposes a measure beyond its plan; it counts once its curator agrees."""
    return measures.add_measure(db(), code, actor=api_login(), **body)


@blp.route("/measures/<id:measure_id>/agreement", methods=["POST"])
@blp.arguments(AgreementIn)
@blp.response(200, MeasureOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
def agreement(body: dict[str, Any], measure_id: int) -> Any:
    """The curator agrees to a measure the school added, or declines it with a comment."""
    return measures.agree_addition(db(), measure_id, agree=body["agree"], comment=body["comment"], actor=api_login())
