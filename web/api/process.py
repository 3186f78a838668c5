"""Templates (list, deploy a bundle) and instances (start, bulk start for a cohort, read with history)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from engine.bpmn.bundle import MAX_BUNDLE_BYTES
from engine.process import instances
from engine.process.cohorts import cohort_calendar, set_cohort_dates
from engine.reports import dashboards
from engine.templates.versions import deploy_zip, list_versions
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.paging import page_of
from web.api.schemas import (
    CohortCalendarOut,
    CohortDatesIn,
    CohortDatesQuery,
    CohortStartIn,
    CohortStartOut,
    DeployedOut,
    InstanceOut,
    Problem,
    StartedOut,
    StartIn,
    TemplateOut,
)
from web.session import chosen_template, db

templates_blp = Blueprint("api_templates", __name__, url_prefix="/api/v1/templates", description="Roadmap templates")
instances_blp = Blueprint("api_instances", __name__, url_prefix="/api/v1/instances", description="Process instances")
cohorts_blp = Blueprint("api_cohorts", __name__, url_prefix="/api/v1/cohorts", description="Cohorts (project years)")
blueprints = [templates_blp, instances_blp, cohorts_blp]


@templates_blp.route("")
class TemplateList(MethodView):
    @templates_blp.response(200, TemplateOut(many=True))
    @templates_blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Any]:
        """Every deployed version of every template."""
        api_login()
        return page_of(list_versions(db()), pagination_parameters)

    @templates_blp.response(201, DeployedOut)
    @templates_blp.alt_response(403, schema=Problem)
    @templates_blp.alt_response(422, schema=Problem)
    def post(self) -> Any:
        """Deploy a bundle (a zip of BPMN, DMN, forms and manifest, as the request body); admins only."""
        login = api_login()
        # One byte past the bundle limit is enough for the engine to say the archive is too large.
        body = request.get_data(cache=False)[: MAX_BUNDLE_BYTES + 1]
        return deploy_zip(db(), body, actor=login)


@templates_blp.route("/<key>/versions")
@templates_blp.response(200, TemplateOut(many=True))
@templates_blp.paginate()
def versions(key: str, pagination_parameters: Any) -> list[Any]:
    """The versions of one template, oldest first."""
    api_login()
    return page_of(list_versions(db(), key), pagination_parameters)


@instances_blp.route("", methods=["POST"])
@instances_blp.arguments(StartIn)
@instances_blp.response(201, StartedOut)
@instances_blp.alt_response(403, schema=Problem)
@instances_blp.alt_response(409, schema=Problem)
def start(body: dict[str, Any]) -> Any:
    """Start a template for a school (coordinators of the school's area and admins)."""
    return instances.start_instance(db(), body["template"], body["school"], version=body["version"],
                                    cohort_year=body["cohort"], actor=api_login())


@instances_blp.route("/<id:instance_id>")
@instances_blp.response(200, InstanceOut)
@instances_blp.alt_response(404, schema=Problem)
def read(instance_id: int) -> Any:
    """An instance with its tasks and history; its version is the ETag."""
    timeline, version = dashboards.instance_timeline(db(), instance_id, actor=api_login())
    return timeline, 200, {"ETag": f'"{version}"'}


@cohorts_blp.route("/<int(min=2000, max=2100):year>/start", methods=["POST"])
@cohorts_blp.arguments(CohortStartIn)
@cohorts_blp.response(200, CohortStartOut)
@cohorts_blp.alt_response(403, schema=Problem)
def start_cohort(body: dict[str, Any], year: int) -> Any:
    """Start the roadmap for every school (of a region) without one in this cohort: admins and, for their
    region, regional coordinators."""
    return instances.start_cohort(db(), chosen_template(body.get("template")), year, actor=api_login(),
                                  region_code=body["region"])


@cohorts_blp.route("/<int(min=2000, max=2100):year>/dates")
class CohortDates(MethodView):
    @cohorts_blp.arguments(CohortDatesQuery, location="query")
    @cohorts_blp.response(200, CohortCalendarOut)
    @cohorts_blp.alt_response(403, schema=Problem)
    @cohorts_blp.alt_response(400, schema=Problem)
    def get(self, query: dict[str, Any], year: int) -> Any:
        """The cohort's calendar: each named date of the template, the cohort's own where set (admins; 400 for a
        cohort not started)."""
        return cohort_calendar(db(), year, chosen_template(query.get("template")), actor=api_login())

    @cohorts_blp.arguments(CohortDatesIn)
    @cohorts_blp.response(200, CohortCalendarOut)
    @cohorts_blp.alt_response(403, schema=Problem)
    @cohorts_blp.alt_response(400, schema=Problem)
    @cohorts_blp.alt_response(422, schema=Problem)
    def put(self, body: dict[str, Any], year: int) -> Any:
        """Set the cohort's own dates (admins), as /admin/cohorts and `roadmap cohort dates` do: a date is the end
        of that day in each school's time zone; deadlines already set do not move. One bad date stores nothing:
        422 with `errors` by date name."""
        return set_cohort_dates(db(), year, chosen_template(body.get("template")), body["dates"], actor=api_login())
