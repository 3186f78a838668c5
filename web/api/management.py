"""Managing running roadmaps (issue 22): withdraw a school's roadmap, suspend and resume roadmaps of a
school, a municipality or a region — admins and, in their region, regional coordinators. The same
services as the «Управление маршрутом» pages and `roadmap roadmaps …`."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine.process import batches, management, merges
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import Problem
from web.session import db, queue
from workers import jobs

blp = Blueprint("api_roadmaps", __name__, url_prefix="/api/v1/roadmaps",
                description="Managing running roadmaps: withdraw, suspend, resume, batches (admins, regional "
                            "coordinators)")
schools_blp = Blueprint("api_school_merges", __name__, url_prefix="/api/v1/schools",
                        description="Merging two schools' records (admins, regional coordinators)")
blueprints = [blp, schools_blp]

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


class BatchIn(Schema):
    operation = fields.Str(required=True, validate=validate.OneOf(sorted(batches.OPERATIONS)),
                           metadata={"description": "; ".join(f"{k}: {v}" for k, v in batches.OPERATIONS.items())})
    region = fields.Str(allow_none=True, load_default=None, validate=_CODE)
    municipality = fields.Str(allow_none=True, load_default=None, validate=_CODE,
                              metadata={"description": "exactly one of region, municipality"})
    stage = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=64),
                       metadata={"description": "only roadmaps at this stage (its key)"})
    overdue = fields.Bool(load_default=False, metadata={"description": "only roadmaps with an overdue open task"})
    schools = fields.List(fields.Str(validate=_CODE), allow_none=True, load_default=None,
                          metadata={"description": "only these of the selected schools (a dry run's `will_do`)"})
    dry_run = fields.Bool(load_default=False, metadata={"description": "try each school and roll back"})
    reason = fields.Str(load_default="", validate=validate.Length(max=1000))
    comment = fields.Str(load_default="", validate=validate.Length(max=1000), metadata={"description": "withdraw"})
    to = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=100),
                    metadata={"description": "curator: the new curator"})
    from_login = fields.Str(data_key="from", load_default=None, allow_none=True, validate=validate.Length(max=100),
                            metadata={"description": "curator: only replace this curator"})
    element = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=255),
                         metadata={"description": "send_back: BPMN id of the step"})
    whole_branch = fields.Bool(load_default=False, metadata={"description": "send_back"})
    target_municipality = fields.Str(load_default=None, allow_none=True, validate=_CODE,
                                     metadata={"description": "move: the municipality the schools go to"})


class BatchItemOut(Schema):
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    stage = fields.Str(allow_none=True)
    outcome = fields.Str(required=True, metadata={"description": "pending, done (dry run: would be done) or failed "
                                                                 "(dry run: would be refused), with `message`"})
    message = fields.Str(required=True)


class BatchSummaryOut(Schema):
    id = fields.Int(required=True)
    operation = fields.Str(required=True)
    params = fields.Dict(required=True)
    selection = fields.Dict(required=True)
    dry_run = fields.Bool(required=True)
    status = fields.Str(required=True, metadata={"description": "pending, running, done, failed or interrupted"})
    total = fields.Int(required=True)
    done = fields.Int(required=True)
    failed = fields.Int(required=True)
    processed = fields.Int(required=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    heartbeat_at = fields.DateTime(allow_none=True)
    resumes = fields.Int(required=True)
    created_by = fields.Str(allow_none=True)
    will_do = fields.List(fields.Str(), required=True)


class BatchOut(BatchSummaryOut):
    items = fields.List(fields.Nested(BatchItemOut), required=True)


def batch_params(body: dict[str, Any]) -> dict[str, Any]:
    """The operation's own inputs out of a request (the API's and the batch page's alike)."""
    return {"reason": body.get("reason", ""), "comment": body.get("comment", ""), "to": body.get("to"),
            "from": body.get("from_login"), "element": body.get("element"),
            "whole_branch": body.get("whole_branch", False), "municipality": body.get("target_municipality")}


@blp.route("/batches", methods=["POST"])
@blp.arguments(BatchIn)
@blp.response(202, BatchOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def create_batch(body: dict[str, Any]) -> Any:
    """Record a batch operation over the running roadmaps of a region or municipality (narrowed by stage and
    overdue) and run it in the background, school by school; `dry_run` tries each school and rolls it back,
    listing what would be done and what refused. Follow it with `GET /batches/{id}`."""
    selection = batches.BatchFilter(body["region"], body["municipality"], body["stage"] or None, body["overdue"])
    run = batches.start_batch(db(), body["operation"], batch_params(body), selection, actor=api_login(),
                              dry_run=body["dry_run"], schools=body["schools"])
    queue().enqueue(jobs.run_batch, run.id)
    return run


@blp.route("/batches", methods=["GET"])
@blp.response(200, BatchSummaryOut(many=True))
def batches_list() -> Any:
    """The latest batch operations the caller may see, newest first (without their items)."""
    return batches.list_batches(db(), actor=api_login())


@blp.route("/batches/<id:run_id>")
@blp.response(200, BatchOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def get_batch(run_id: int) -> Any:
    """A batch operation with its progress (processed of total) and every school's outcome."""
    return batches.get_batch(db(), run_id, actor=api_login())


@blp.route("/batches/<id:run_id>/resume", methods=["POST"])
@blp.response(202, BatchOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def resume_batch(run_id: int) -> Any:
    """Give an interrupted batch (no heartbeat for 5 minutes) to a new runner: only its pending schools remain."""
    run = batches.resume_batch(db(), run_id, actor=api_login())
    queue().enqueue(jobs.run_batch, run.id)
    return batches.get_batch(db(), run_id, actor=api_login())


class MergeIn(Schema):
    into = fields.Str(required=True, validate=_CODE, metadata={"description": "the surviving school's code"})
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=1000))


class MergedOut(Schema):
    absorbed = fields.Str(required=True)
    survivor = fields.Str(required=True)
    withdrawn_instance_id = fields.Int(allow_none=True)
    people = fields.List(fields.Str(), required=True, metadata={"description": "logins that reached the survivor"})


@schools_blp.route("/<code>/merge", methods=["POST"])
@schools_blp.arguments(MergeIn)
@schools_blp.response(200, MergedOut)
@schools_blp.alt_response(403, schema=Problem)
@schools_blp.alt_response(404, schema=Problem)
@schools_blp.alt_response(409, schema=Problem)
def merge(body: dict[str, Any], code: str) -> Any:
    """Merge the school into `into`: its running roadmap is withdrawn («слияние») and kept with its history, its
    people reach the surviving school; 409 across stages (each named), across regions, or if already merged."""
    return merges.merge_schools(db(), code, body["into"], reason=body["reason"], actor=api_login())
