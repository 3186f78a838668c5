"""marshmallow schemas of the REST API: what goes in and out, and what the OpenAPI document says."""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, pre_load, validate

from engine.process.task_pages import CURSOR_MAX
from engine.process.tasks import ASSIGNED, SEARCH_MAX, SORTS


class Problem(Schema):
    type = fields.Str()
    title = fields.Str()
    status = fields.Int()
    detail = fields.Str()
    errors = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()))


class TaskOut(Schema):
    id = fields.Int(required=True)
    instance_id = fields.Int(required=True)
    element_id = fields.Str(required=True)
    name = fields.Str(required=True)
    stage = fields.Str(required=True)
    role = fields.Str(required=True)
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    status = fields.Str(required=True)
    assignee = fields.Str(allow_none=True, metadata={"description": "the assignee's login"})
    assignee_name = fields.Str(allow_none=True, metadata={"description": "the assignee's full name"})
    due_at = fields.AwareDateTime(allow_none=True)
    escalation_level = fields.Int(required=True)
    federal_overdue = fields.Bool()
    created_at = fields.AwareDateTime(required=True)
    completed_at = fields.AwareDateTime(allow_none=True)


class TaskDetailOut(Schema):
    task = fields.Nested(TaskOut, required=True)
    form = fields.Dict(required=True, metadata={"description": "The task's form-js form definition"})
    values = fields.Dict(required=True, metadata={"description": "Current values: process data and the draft"})
    choices = fields.Dict(metadata={"description": "Option lists for the form's selects with valuesKey (e.g. the "
                                                   "region's curator candidates), by that key; not submitted"})
    rules = fields.List(fields.Nested(lambda: RuleOut()), metadata={
        "description": "The template's cross-field rules the submission must pass (open tasks): `check` is an "
                       "expression over the form's values and the process data; when it is false, the submission "
                       "is refused with `message` under `field`"})
    context = fields.List(fields.Dict(), metadata={
        "description": "What the decision needs, as the template's manifest «context» declares it: panels with a "
                       "kind (responses, risk_profile, documents, comments, values) and that kind's data"})
    version = fields.Int(required=True, metadata={"description": "The instance's version; send as If-Match"})


class TaskQuery(Schema):
    """The filters of «my tasks»: ``GET /api/v1/tasks`` and the inbox page read their query string with this
    one schema, so both take the same parameters with the same limits (the service checks them again)."""

    stage = fields.Str(validate=validate.Length(max=64))
    school = fields.Str(validate=validate.Length(max=32), metadata={"description": "a school's code"})
    overdue = fields.Bool()
    sort = fields.Str(validate=validate.OneOf(list(SORTS)), load_default="due",
                      metadata={"description": "due: the nearest deadline first; escalation: the most escalated, "
                                               "then the longest overdue; created: the newest first"})
    search = fields.Str(validate=validate.Length(max=SEARCH_MAX),
                        metadata={"description": "part of the task's or the school's name or the school's code, "
                                                 "in any case (ё = е)"})
    due_from = fields.Date(metadata={"description": "deadline on or after this day (Moscow date)"})
    due_to = fields.Date(metadata={"description": "deadline on or before this day (Moscow date)"})
    assigned = fields.Str(validate=validate.OneOf(ASSIGNED), load_default="all",
                          metadata={"description": "all: every task I may act on; mine: those I took; "
                                                   "unassigned: those nobody took"})

    @pre_load
    def _drop_empty(self, data: Any, **_: Any) -> Any:
        """An empty box of the page's form (``due_from=``) means no filter, in the API as on the page."""
        if not hasattr(data, "items"):
            return data
        return {key: value for key, value in data.items() if value not in ("", None)}


_AFTER = {"description": "the `next_cursor` of the previous page's X-Pagination header: the page after it "
                         "(instead of `page`), exact while tasks are completed between requests"}


class TaskListQuery(TaskQuery):
    """``TaskQuery`` and the cursor of the next page (the inbox keeps its filters apart from the cursor)."""

    after = fields.Str(validate=validate.Length(max=CURSOR_MAX), metadata=_AFTER)


class AreaTaskQuery(Schema):
    region = fields.Str(validate=validate.Length(max=32))
    municipality = fields.Str(validate=validate.Length(max=32))
    stage = fields.Str(validate=validate.Length(max=64))
    overdue = fields.Bool()
    after = fields.Str(validate=validate.Length(max=CURSOR_MAX), metadata=_AFTER)


class FormData(Schema):
    data = fields.Dict(required=True, metadata={"description": "Form field values, keyed by field key"})


class Reassign(Schema):
    to = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=100),
                    metadata={"description": "login of a user who may act on the task (see `/candidates`); "
                                             "null returns the task to the common list"})


class ColleagueOut(Schema):
    login = fields.Str(required=True)
    full_name = fields.Str(required=True)


class CompletedOut(Schema):
    task_id = fields.Int(required=True)
    instance_id = fields.Int(required=True)
    instance_completed = fields.Bool(required=True)
    next_task_ids = fields.List(fields.Int(), required=True)
    incident_id = fields.Int(allow_none=True, metadata={
        "description": "The submission was kept, but the step after it failed: the incident that holds it."})
    incident_error = fields.Str(allow_none=True)


class StartIn(Schema):
    template = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    school = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    cohort = fields.Int(allow_none=True, load_default=None, validate=validate.Range(2000, 2100))
    version = fields.Int(allow_none=True, load_default=None, validate=validate.Range(1, 100_000))


class StartedOut(Schema):
    instance_id = fields.Int(required=True)
    template_key = fields.Str(required=True)
    template_version = fields.Int(required=True)
    school_code = fields.Str(required=True)
    ready_task_ids = fields.List(fields.Int(), required=True)


class CohortStartIn(Schema):
    template = fields.Str(validate=validate.Length(min=1, max=64),
                          metadata={"description": "template key (default: the installation's PROJECT_TEMPLATE)"})
    region = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=32))


class CohortStartOut(Schema):
    year = fields.Int(required=True)
    started = fields.List(fields.Int(), required=True)
    already_running = fields.Int(required=True)
    failed = fields.Dict(keys=fields.Str(), values=fields.Str(), required=True)


class CohortDatesQuery(Schema):
    template = fields.Str(validate=validate.Length(min=1, max=64),
                          metadata={"description": "template key (default: the installation's PROJECT_TEMPLATE)"})


class CohortDatesIn(CohortDatesQuery):
    dates = fields.Dict(keys=fields.Str(validate=validate.Length(min=1, max=64)),
                        values=fields.Str(validate=validate.Length(max=32)), required=True,
                        metadata={"description": "date name -> YYYY-MM-DD; an empty string returns it to the "
                                                 "template's default. Names not given are left as they are.",
                                  "example": {"questionnaire_close": "2027-03-05", "selection_close": ""}})


class CohortDateOut(Schema):
    name = fields.Str(required=True)
    default = fields.Date(allow_none=True, metadata={"description": "the template's date in the cohort's year"})
    override = fields.Str(allow_none=True, metadata={"description": "the cohort's own date, if set"})
    effective = fields.Date(allow_none=True, metadata={
        "description": "the date deadlines use: the end of this day in each school's own time zone"})


class CohortCalendarOut(Schema):
    year = fields.Int(required=True)
    title = fields.Str(required=True)
    dates = fields.List(fields.Nested(CohortDateOut), required=True)


class EventOut(Schema):
    at = fields.AwareDateTime(required=True)
    action = fields.Str(required=True)
    actor = fields.Str(allow_none=True)
    task = fields.Str(allow_none=True)
    details = fields.Dict()


class InstanceOut(Schema):
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    instance_id = fields.Int(allow_none=True)
    current_stage = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    tasks = fields.List(fields.Dict())
    events = fields.List(fields.Nested(EventOut))


class AreaQuery(Schema):
    region = fields.Str(validate=validate.Length(max=32))
    municipality = fields.Str(validate=validate.Length(max=32))
    cohort = fields.Int(validate=validate.Range(2000, 2100))
    template = fields.Str(validate=validate.Length(min=1, max=64),
                          metadata={"description": "template key (default: the installation's PROJECT_TEMPLATE)"})


class StageOut(Schema):
    key = fields.Str(required=True)
    title = fields.Str(required=True)


class ExecutionOut(Schema):
    """The execution of a school's (or an area's) measures: engine/process/measures.py ``Execution``."""

    on_time = fields.Int(required=True)
    late = fields.Int(required=True)
    overdue = fields.Int(required=True)
    planned = fields.Int(required=True)
    percent = fields.Int(allow_none=True, metadata={"description": "done (on time or late) over all due so far"})


class VisitTallyOut(Schema):
    """Curator visits of one half-year: planned (not cancelled) and done (engine/process/visits.py)."""

    planned = fields.Int(required=True)
    done = fields.Int(required=True)


def _visit_tallies() -> fields.Dict:
    return fields.Dict(keys=fields.Str(), values=fields.Nested(VisitTallyOut),
                       metadata={"description": "curator visits per half-year of the school year (2026/27-1: "
                                                "September–December, 2026/27-2: January–August)"})


class SchoolStatusOut(Schema):
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    municipality_code = fields.Str(required=True)
    instance_id = fields.Int(allow_none=True)
    status = fields.Str(required=True)
    current_stage = fields.Str(allow_none=True)
    stages = fields.Dict(keys=fields.Str(), values=fields.Str())
    overdue_stages = fields.List(fields.Str())
    open_tasks = fields.Int()
    overdue_tasks = fields.Int()
    escalation_level = fields.Int()
    incidents = fields.Int()
    measures = fields.Nested(ExecutionOut)
    visits = _visit_tallies()


class StatusOut(Schema):
    template_key = fields.Str(required=True)
    stages = fields.List(fields.Nested(StageOut), required=True)
    at_stage = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True)
    completed = fields.Int(required=True)
    not_started = fields.Int(required=True)
    with_overdue = fields.Int(required=True)
    with_incident = fields.Int(required=True)
    measures = fields.Nested(ExecutionOut)
    visits = _visit_tallies()
    current_half_year = fields.Str()


class OverdueOut(Schema):
    task_id = fields.Int(required=True)
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    name = fields.Str(required=True)
    role = fields.Str(required=True)
    due_at = fields.AwareDateTime(required=True)
    escalation_level = fields.Int(required=True)
    federal_overdue = fields.Bool(required=True)


class NotificationOut(Schema):
    id = fields.Int(required=True)
    kind = fields.Str(required=True, metadata={
        "description": "arrival (new tasks), reminder, due, escalation or digest."})
    title = fields.Str(required=True)
    body = fields.Str(required=True)
    link = fields.Str(allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    read = fields.Bool(required=True)


class SchoolOut(Schema):
    code = fields.Str(required=True)
    name = fields.Str(required=True)
    municipality_code = fields.Str(required=True)
    region_code = fields.Str(required=True)


class TemplateOut(Schema):
    key = fields.Str(required=True)
    version = fields.Int(required=True)
    title = fields.Str(required=True)
    status = fields.Str(required=True)
    content_hash = fields.Str(required=True)
    deployed_at = fields.AwareDateTime(required=True)


class DeployedOut(Schema):
    template_version_id = fields.Int(required=True)
    key = fields.Str(required=True)
    version = fields.Int(required=True)
    created = fields.Bool(required=True)


class TokenIn(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    user = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=100),
                      metadata={"description": "Another user's login (admins only)"})


class TokenOut(Schema):
    id = fields.Int(required=True)
    name = fields.Str(required=True)
    login = fields.Str(required=True)
    created_at = fields.AwareDateTime(required=True)
    last_used_at = fields.AwareDateTime(allow_none=True)
    revoked = fields.Bool(required=True)
    token = fields.Str(metadata={"description": "Only in the answer to creation: store it, it is not shown again"})


class ImportOut(Schema):
    rows = fields.Int(required=True)
    imported = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True)
    errors = fields.List(fields.Str(), required=True)
    applied = fields.Bool(required=True)


class IncidentQuery(Schema):
    include_resolved = fields.Bool(load_default=False)
    school = fields.Str(validate=validate.Length(min=1, max=32))


class IncidentOut(Schema):
    id = fields.Int(required=True)
    instance_id = fields.Int(required=True)
    school_code = fields.Str(required=True, data_key="school")
    school_name = fields.Str(required=True)
    template_key = fields.Str(required=True, data_key="template")
    template_version = fields.Int(required=True)
    element_id = fields.Str(required=True)
    element_name = fields.Str(required=True)
    trigger = fields.Str(required=True, metadata={
        "description": "What was being done: completion, timer, retry, arrival, reminder, due or escalation."})
    error = fields.Str(required=True)
    tries = fields.Int(required=True)
    created_at = fields.AwareDateTime(required=True)
    last_failed_at = fields.AwareDateTime(required=True)
    next_retry_at = fields.AwareDateTime(allow_none=True, metadata={"description": "The next automatic try, if any."})
    resolved_at = fields.AwareDateTime(allow_none=True)
    resolution = fields.Str(allow_none=True, metadata={"description": "retried (by a person), automatic or passed."})


# Questionnaires (web/api/questionnaires.py)
class LinkQuery(Schema):
    group = fields.Str(validate=validate.Length(min=1, max=32), metadata={"description": "a respondent group"})


class LinksIn(Schema):
    group = fields.Str(required=True, validate=validate.Length(min=1, max=32),
                       metadata={"description": "an anonymous group of the template (teachers, students, parents)"})
    count = fields.Int(required=True, validate=validate.Range(1, 500))


class NewLinksOut(Schema):
    group = fields.Str(required=True)
    tokens = fields.List(fields.Str(), required=True, metadata={"description": "shown once: only hashes are kept"})
    urls = fields.List(fields.Str(), required=True, metadata={"description": "the web page of each link"})


class LinkStateOut(Schema):
    id = fields.Int(required=True)
    group = fields.Str(required=True)
    created_at = fields.AwareDateTime(required=True)
    used_at = fields.AwareDateTime(allow_none=True, metadata={"description": "answered then; null: not yet"})


class ResponseCountOut(Schema):
    group = fields.Str(required=True)
    title = fields.Str(required=True)
    responses = fields.Int(required=True)
    links = fields.Int(allow_none=True, metadata={"description": "links handed out; null for a named group"})


class TokenOnlyIn(Schema):
    token = fields.Str(required=True, validate=validate.Length(min=1, max=64),
                       metadata={"description": "the respondent link's token (the end of /q/<token>)"})


class LinkAnswerIn(TokenOnlyIn):
    answers = fields.Dict(required=True, metadata={"description": "the group's form values, by field key"})


class AnswersIn(Schema):
    answers = fields.Dict(required=True, metadata={"description": "the questionnaire's form values, by field key"})


class LinkFormOut(Schema):
    school_name = fields.Str(required=True)
    group_title = fields.Str(required=True)
    form = fields.Dict(required=True, metadata={"description": "the group's form-js form definition"})
    used = fields.Bool(required=True)
    open = fields.Bool(required=True, metadata={"description": "whether answers are accepted now"})


class SubmittedOut(Schema):
    group = fields.Str(required=True)


# Documents (web/api/documents.py)
class DocumentUploadIn(Schema):
    field = fields.Str(required=True, validate=validate.Length(min=1, max=64),
                       metadata={"description": "the key of a document (filepicker) field of the task's form"})
    file = Upload(required=True, metadata={"description": "the file (PDF, DOCX, XLSX, PPTX, ODT, ODS, DOC, XLS, "
                                                          "JPEG, PNG or ZIP; at most 20 MiB)"})


class DocumentOut(Schema):
    id = fields.Int(required=True)
    task_id = fields.Int(required=True)
    field_key = fields.Str(required=True, data_key="field")
    version = fields.Int(required=True)
    filename = fields.Str(required=True)
    content_type = fields.Str(required=True)
    size = fields.Int(required=True)
    sha256 = fields.Str(required=True)
    uploaded_at = fields.AwareDateTime(required=True)
    uploaded_by = fields.Str(allow_none=True)


# Forms (web/api/forms.py)
class RuleOut(Schema):
    field = fields.Str(required=True)
    check = fields.Str(required=True, metadata={
        "description": "a Python-like expression (and, or, not, comparisons, in, len, bool, all, any) over the "
                       "form's values and the process data",
        "example": "participation != 'confirmed' or bool(curator_login)"})
    message = fields.Str(required=True)


class ChoiceOut(Schema):
    label = fields.Str(required=True)
    value = fields.Str(required=True)


# Operations (web/api/admin.py)
class CalendarDayIn(Schema):
    kind = fields.Str(required=True, validate=validate.Length(max=16),
                      metadata={"description": "working (a working day) or holiday (a day off)"})
    note = fields.Str(load_default="", validate=validate.Length(max=2000),
                      metadata={"description": "why (a transferred Saturday, a regional holiday)"})


class CalendarDayOut(Schema):
    day = fields.Date(required=True)
    is_working_day = fields.Bool(required=True, data_key="working")
    note = fields.Str(required=True)


class TimeZoneIn(Schema):
    time_zone = fields.Str(required=True, validate=validate.Length(max=64),
                           metadata={"description": "an IANA zone", "example": "Asia/Novokuznetsk"})


class PoolIn(Schema):
    login = fields.Str(required=True, validate=validate.Length(min=1, max=100))


class PoolEntryOut(Schema):
    login = fields.Str(required=True)
    full_name = fields.Str(required=True)
    added_at = fields.AwareDateTime(required=True)


class DiffQuery(Schema):
    from_version = fields.Int(required=True, data_key="from", validate=validate.Range(1, 2_147_483_647))
    to_version = fields.Int(required=True, data_key="to", validate=validate.Range(1, 2_147_483_647))


class ChangesOut(Schema):
    added = fields.List(fields.Str(), required=True)
    removed = fields.List(fields.Str(), required=True)
    changed = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()), required=True)


class TemplateDiffOut(Schema):
    key = fields.Str(required=True)
    old_version = fields.Int(allow_none=True)
    new_version = fields.Int(allow_none=True)
    elements = fields.Nested(ChangesOut, required=True)
    tasks = fields.Nested(ChangesOut, required=True)
    forms = fields.Nested(ChangesOut, required=True)
    rules = fields.Nested(ChangesOut, required=True)
    manifest = fields.List(fields.Str(), required=True)


class MigrationIn(Schema):
    key = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    from_version = fields.Int(required=True, data_key="from", validate=validate.Range(1, 2_147_483_647))
    to_version = fields.Int(required=True, data_key="to", validate=validate.Range(1, 2_147_483_647))
    dry_run = fields.Bool(load_default=False, metadata={"description": "only check which instances can move"})


class InstanceCheckOut(Schema):
    instance_id = fields.Int(required=True)
    school_code = fields.Str(required=True)
    school_name = fields.Str(required=True)
    tasks = fields.List(fields.Str(), required=True)
    can_move = fields.Bool(required=True)
    reasons = fields.List(fields.Str(), required=True)
    outcome = fields.Str(required=True)


class MigrationOut(Schema):
    id = fields.Int(required=True)
    key = fields.Str(required=True)
    from_version = fields.Int(required=True)
    to_version = fields.Int(required=True)
    dry_run = fields.Bool(required=True)
    status = fields.Str(required=True, metadata={"description": "pending, running, done, failed or interrupted"})
    total = fields.Int(required=True)
    processed = fields.Int(required=True)
    moved = fields.Int(required=True)
    failed = fields.Int(required=True)
    created_at = fields.AwareDateTime(required=True)
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    results = fields.List(fields.Nested(InstanceCheckOut), required=True)


class SweepQuery(Schema):
    at = fields.AwareDateTime(metadata={"description": "the moment to evaluate deadlines at (default: now)"})
    limit = fields.Int(load_default=500, metadata={"description": "the most due rows to list (1–5000), earliest first"})
    school = fields.Str(validate=validate.Length(max=32), metadata={"description": "only this school's (its code)"})


class SweepActionOut(Schema):
    deadline_id = fields.Int(required=True)
    kind = fields.Str(required=True, metadata={"description": "reminder, due, escalation, timer, retry, arrival"})
    step = fields.Int(required=True)
    task_id = fields.Int(allow_none=True)
    school = fields.Str(required=True)
    task = fields.Str(required=True)
    recipients = fields.List(fields.Str(), required=True)
    escalation_level = fields.Int(allow_none=True)


class SweepOut(Schema):
    now = fields.AwareDateTime(required=True, data_key="at")
    actions = fields.List(fields.Nested(SweepActionOut), required=True)
    arrivals = fields.List(fields.Nested(SweepActionOut), required=True)
    truncated = fields.Bool(required=True, metadata={"description": "more is due than `limit` lets the answer list"})


class SchoolReportQuery(Schema):
    format = fields.Str(load_default="docx", validate=validate.OneOf(["docx", "pdf"]),
                        metadata={"description": "docx (from the template in use) or pdf"})


class SummaryQuery(Schema):
    format = fields.Str(load_default="docx", validate=validate.OneOf(["docx", "xlsx"]))
    template = fields.Str(validate=validate.Length(min=1, max=64),
                          metadata={"description": "template key (default: the installation's PROJECT_TEMPLATE)"})


class ReportTemplateOut(Schema):
    kind = fields.Str(required=True)
    replaced = fields.Bool(required=True, metadata={"description": "an admin's template is in use (else the default)"})
    filename = fields.Str(required=True)
    sha256 = fields.Str(required=True)
    uploaded_at = fields.DateTime(allow_none=True)
    uploaded_by = fields.Str(allow_none=True)


class ReportTemplateIn(Schema):
    file = Upload(required=True, metadata={"description": "a DOCX with docxtpl placeholders (docs/guide-admin.md); "
                                                          "checked against a sample report before it is used"})
