"""Coordinators' dashboards: stage matrix, overdue list, school timeline with its diagram, heat map."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Blueprint, Response, render_template, request, send_file
from flask_login import login_required

from engine.org import areas
from engine.process.visits import sum_tallies
from engine.reports import dashboards
from engine.templates.versions import template_keys
from web.inputs import optional_int
from web.session import chosen_template, db, me, project_template

blueprint = Blueprint("dashboards", __name__)


def _area() -> areas.Area:
    return areas.area_for(db(), request.args.get("region") or None,
                               request.args.get("municipality") or None, actor=me())


def _cohort() -> int | None:
    return optional_int(request.args, "cohort", minimum=2000, maximum=2100)


def _template() -> str:
    return chosen_template(request.args.get("template"))


@blueprint.context_processor
def _template_links() -> dict[str, Any]:
    """``template_arg`` for the dashboards' own links (absent for the project template, so URLs stay
    short) and the deployed templates to switch between when there is more than one."""
    key = _template()
    return {"template_arg": None if key == project_template() else key, "template_key": key,
            "template_choices": template_keys(db())}


@blueprint.route("/dashboard")
@login_required
def matrix() -> str:
    """A municipality: every school × stage. A region or the country: counts per municipality or region
    (thousands of school rows help nobody; the drill-down leads to them)."""
    area = _area()
    if area.municipality_code is None:
        stages, units = dashboards.area_summary(db(), _template(), area, _cohort(), actor=me())
        visits = sum_tallies(u.visits for u in units)
        return render_template("dashboard_areas.html", area=area, stages=stages, units=units, cohort=_cohort(),
                               visits=visits)
    report = dashboards.matrix(db(), _template(), area, _cohort(), actor=me())
    return render_template("dashboard.html", area=area, report=report, cohort=_cohort())


@blueprint.route("/dashboard/export.xlsx")
@login_required
def export() -> Response:
    area = _area()
    report = dashboards.matrix(db(), _template(), area, _cohort(), actor=me())
    return send_file(BytesIO(dashboards.matrix_xlsx(report, area)), as_attachment=True,
                     download_name="etapy-500.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@blueprint.route("/dashboard/overdue")
@login_required
def overdue() -> str:
    area = _area()
    return render_template("overdue.html", area=area, levels=dashboards.overdue(db(), area, actor=me()))


@blueprint.route("/dashboard/heatmap")
@login_required
def heatmap() -> str:
    area = _area()
    key = _template()
    heat = dashboards.heat_map(db(), area, key, actor=me())
    return render_template("heatmap.html", area=area, heat=heat, template_key=key,
                           process_id=dashboards.template_process(db(), key))


@blueprint.route("/dashboard/heatmap/schools")
@login_required
def heatmap_schools() -> str:
    """The schools behind one count of the heat map: who waits at that step, with deadlines."""
    area, key, element = _area(), _template(), request.args.get("element", "")[:255]
    schools = dashboards.waiting_at(db(), area, key, element, actor=me())
    return render_template("heatmap_schools.html", area=area, schools=schools, element=element)


@blueprint.route("/schools/<code>")
@login_required
def school(code: str) -> str:
    timeline = dashboards.school_timeline(db(), code, actor=me())
    state = dashboards.diagram_state(db(), timeline.instance_id, actor=me()) if timeline.instance_id else None
    return render_template("school.html", timeline=timeline, state=state)


@blueprint.route("/instances/<id:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int) -> Response:
    return Response(dashboards.diagram_xml(db(), instance_id, actor=me()), mimetype="application/xml")


@blueprint.route("/templates/<key>/diagram.bpmn")
@login_required
def template_diagram(key: str) -> Response:
    return Response(dashboards.template_xml(db(), key, actor=me()), mimetype="application/xml")
