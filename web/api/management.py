"""Managing running roadmaps (issue 22): withdraw a school's roadmap, suspend and resume roadmaps of a
school, a municipality or a region — admins and, in their region, regional coordinators. The same
services as the «Управление маршрутом» pages and `roadmap roadmaps …`."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine.process import management
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import Problem
from web.session import db

blp = Blueprint("api_roadmaps", __name__, url_prefix="/api/v1/roadmaps",
                description="Managing running roadmaps: withdraw, suspend, resume (admins, regional coordinators)")
blueprints = [blp]

_CODE = validate.Length(min=1, max=32)


class WithdrawIn(Schema):
    reason = fields.Str(required=True, validate=validate.OneOf(sorted(management.WITHDRAW_REASONS)),
                        metadata={"description": "; ".join(f"{k}: {v}" for k, v in
                                                            management.WITHDRAW_REASONS.items())})
    comment = fields.Str(load_default="", validate=validate.Length(max=1000),
                         metadata={"description": "required for `other`"})


class SelectionIn(Schema):
    school = fields.Str(allow_none=True, load_default=None, validate=_CODE)
    municipality = fields.Str(allow_none=True, load_default=None, validate=_CODE)
    region = fields.Str(allow_none=True, load_default=None, validate=_CODE)


class SuspensionIn(SelectionIn):
    reason = fields.Str(load_default="", validate=validate.Length(max=1000),
                        metadata={"description": "why (required to suspend)"})


class PreviewQuery(SelectionIn):
    resume = fields.Bool(load_default=False, metadata={"description": "preview a resume (with each shift)"})


class RoadmapOut(Schema):
    instance_id = fields.Int(required=True)
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "running, completed or cancelled (withdrawn)"})
    suspended_at = fields.DateTime(allow_none=True)
    shift_working_days = fields.Int(metadata={"description": "a resume: working days its deadlines move by"})
    tasks_closed = fields.Int(metadata={"description": "a withdrawal: open tasks it cancelled"})


def _selection(body: dict[str, Any]) -> management.Selection:
    return management.Selection(body["school"], body["municipality"], body["region"])


@blp.route("/schools/<code>/withdraw", methods=["POST"])
@blp.arguments(WithdrawIn)
@blp.response(200, RoadmapOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def withdraw(body: dict[str, Any], code: str) -> Any:
    """Withdraw the school's running roadmap: its open tasks close, its deadlines stop; audited with the reason."""
    return management.withdraw_roadmap(db(), code, reason=body["reason"], comment=body["comment"], actor=api_login())


@blp.route("/suspension", methods=["GET"])
@blp.arguments(PreviewQuery, location="query")
@blp.response(200, RoadmapOut(many=True))
@blp.alt_response(403, schema=Problem)
def preview(query: dict[str, Any]) -> Any:
    """A dry run: the roadmaps that suspending (or, `resume=true`, resuming) the selection would touch, with the
    working days each resume would shift deadlines by if done now. Exactly one of school, municipality, region."""
    return management.preview_suspension(db(), _selection(query), resume=query["resume"], actor=api_login())


@blp.route("/suspend", methods=["POST"])
@blp.arguments(SuspensionIn)
@blp.response(200, RoadmapOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.alt_response(409, schema=Problem)
def suspend(body: dict[str, Any]) -> Any:
    """Suspend the selection's running roadmaps: no deadline fires and no task can be completed until resumed."""
    return management.suspend_roadmaps(db(), _selection(body), reason=body["reason"], actor=api_login())


@blp.route("/resume", methods=["POST"])
@blp.arguments(SuspensionIn)
@blp.response(200, RoadmapOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.alt_response(409, schema=Problem)
def resume(body: dict[str, Any]) -> Any:
    """Resume the selection's suspended roadmaps; deadlines shift by the working days each stood suspended."""
    return management.resume_roadmaps(db(), _selection(body), reason=body["reason"], actor=api_login())


class CuratorIn(Schema):
    to = fields.Str(required=True, validate=validate.Length(min=1, max=100), metadata={"description": "new curator"})
    school = fields.Str(allow_none=True, load_default=None, validate=_CODE,
                        metadata={"description": "one school: its curators are replaced"})
    from_login = fields.Str(data_key="from", allow_none=True, load_default=None, validate=validate.Length(max=100),
                            metadata={"description": "the curator replaced (without `school`: in all their schools)"})
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=1000))


class CuratorChangeOut(Schema):
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    previous = fields.List(fields.Str(), required=True)
    curator = fields.Str(required=True)
    tasks_moved = fields.Int(required=True)


@blp.route("/curator", methods=["POST"])
@blp.arguments(CuratorIn)
@blp.response(200, CuratorChangeOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(422, schema=Problem)
def curator(body: dict[str, Any]) -> Any:
    """Change a school's curator (or every school of `from`): open curator tasks move to the new curator, both are
    notified; the new curator must be one of the region's candidates."""
    return management.change_curator(db(), body["to"], school=body["school"], from_login=body["from_login"],
                                     reason=body["reason"], actor=api_login())


class SendBackIn(Schema):
    element = fields.Str(required=True, validate=validate.Length(min=1, max=255),
                         metadata={"description": "BPMN id of a user task the roadmap has completed"})
    whole_branch = fields.Bool(load_default=False,
                               metadata={"description": "inside parallel branches: send back the whole split"})
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=1000))


class SentBackOut(Schema):
    instance_id = fields.Int(required=True)
    school_code = fields.Str(required=True)
    element_id = fields.Str(required=True)
    reset_element = fields.Str(required=True)
    opened_task_ids = fields.List(fields.Int(), required=True)
    cancelled_task_ids = fields.List(fields.Int(), required=True)


@blp.route("/schools/<code>/send-back", methods=["POST"])
@blp.arguments(SendBackIn)
@blp.response(200, SentBackOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def send_back(body: dict[str, Any], code: str) -> Any:
    """Send the school's roadmap back to an earlier user task, keeping its data and documents; 409 where that is not
    safe (inside parallel branches without `whole_branch`, a step never done)."""
    return management.send_back(db(), code, body["element"], reason=body["reason"],
                                whole_branch=body["whole_branch"], actor=api_login())


class MoveSchoolIn(Schema):
    municipality = fields.Str(required=True, validate=_CODE)
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=1000))


class MovedSchoolOut(Schema):
    school_code = fields.Str(required=True)
    from_municipality = fields.Str(required=True)
    to_municipality = fields.Str(required=True)
    tasks_moved = fields.Int(required=True)


@blp.route("/schools/<code>/move", methods=["POST"])
@blp.arguments(MoveSchoolIn)
@blp.response(200, MovedSchoolOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def move_school(body: dict[str, Any], code: str) -> Any:
    """Move a school to another municipality (reorganisation): its tasks, dashboards and escalations follow."""
    return management.move_school(db(), code, body["municipality"], reason=body["reason"], actor=api_login())
