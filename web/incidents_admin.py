"""Admins: incidents — steps of roadmaps that failed, where they stand, and a retry after a fix.

The engine services authorize (admins only) and audit the retry; these views read, call, render."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.config import Settings
from engine.deadlines.sweep import retry_incident
from engine.process.incidents import list_incidents
from web.i18n import gettext
from web.session import db, me

blueprint = Blueprint("incidents_admin", __name__, url_prefix="/admin/incidents")


@blueprint.route("")
@login_required
def index() -> str:
    include_resolved = request.args.get("all") == "1"
    school = request.args.get("school", "").strip()[:32] or None
    found = list_incidents(db(), include_resolved=include_resolved, school=school, actor=me())
    return render_template("admin_incidents.html", incidents=found, include_resolved=include_resolved,
                           school=school or "", now=db().now())


@blueprint.route("/<id:incident_id>/retry", methods=["POST"])
@login_required
def retry(incident_id: int) -> Response:
    view = retry_incident(db(), incident_id, base_url=Settings.from_env().base_url, actor=me())
    if view.resolved_at is not None:
        flash(gettext("Повтор удался: шаг «{name}» выполнен, маршрут школы {school} продолжается.",
                      name=view.element_name, school=view.school_code), "info")
    else:
        flash(gettext("Повтор не удался: {error}", error=view.error), "error")
    if request.form.get("back") == "school":
        return redirect(url_for("dashboards.school", code=view.school_code))
    return redirect(url_for("incidents_admin.index"))
