"""«Пробный запуск» of a template's draft: the page at /admin/templates/<key>/draft/simulation. Every view calls
``engine.process.simulation``, which authorizes (admins only, as the template workspace) and rolls back every run;
the page's form is the task page's (web/assets/task-form.js) with the same server-side validation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import FormInvalid
from engine.org.regions import list_region_zones
from engine.process import simulation
from web.i18n import gettext
from web.inputs import InputRejected, flash_errors, form_date, parse_int, posted_form_data
from web.session import db, me

blueprint = Blueprint("simulation_admin", __name__, url_prefix="/admin/templates")

#: A task's name in the run, ``element.N`` (engine/process/simulation.py ``Fill.ref``).
MAX_REF = 300


def _page_url(key: str, task: str | None = None) -> str:
    return url_for("simulation_admin.page", key=key, task=task) if task else url_for("simulation_admin.page", key=key)


def _render(key: str, view: simulation.SimulationView | None, setup: simulation.SimulationSetup, *,
            values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
            status: int = 200) -> tuple[str, int]:
    shown = dict(view.current.values) if view is not None and view.current is not None else {}
    if values is not None:  # what was posted, over the defaults; the option lists stay (never submitted)
        shown = {**shown, **values}
    page = render_template("templates_admin/simulation.html", key=key, view=view, setup=setup, values=shown,
                           errors=errors or {}, regions=list_region_zones(db(), actor=me()))
    return page, status


@blueprint.route("/<key>/draft/simulation")
@login_required
def page(key: str) -> tuple[str, int]:
    saved = simulation.saved_simulation(db(), key, actor=me())
    if saved is None:
        return _render(key, None, simulation.default_setup(db().now()))
    task = request.args.get("task", "")[:MAX_REF] or None
    view = simulation.simulate(db(), key, saved.setup, saved.events, actor=me(), selected=task)
    return _render(key, view, saved.setup)


@blueprint.route("/<key>/draft/simulation", methods=["POST"])
@login_required
def start(key: str) -> Response:
    """Start, or start over («Начать заново»), with the region, first day and cohort chosen."""
    simulation.saved_simulation(db(), key, actor=me())  # admins only, and a draft to run, before reading the form
    try:
        setup = _posted_setup()
        simulation.start_simulation(db(), key, setup, actor=me())
    except FormInvalid as err:
        flash_errors(err)
    return redirect(_page_url(key))


def _posted_setup() -> simulation.SimulationSetup:
    first_day = form_date("start")
    if first_day is None:
        raise FormInvalid({"start": [gettext("Укажите дату начала.")]})
    try:
        year = parse_int(request.form.get("cohort", ""), "cohort", minimum=2000, maximum=2100)
    except InputRejected as err:
        raise FormInvalid({"cohort": [err.message]}) from None
    region = request.form.get("region", "").strip()[:32] or None
    return simulation.SimulationSetup(region, first_day, year)


@blueprint.route("/<key>/draft/simulation/fill", methods=["POST"])
@login_required
def fill(key: str) -> tuple[str, int] | Response:
    """«Заполнить как <роль>»: the form of one open task, validated as the task page validates it."""
    ref = request.form.get("task", "")[:MAX_REF]
    data: dict[str, Any] = {}
    try:
        data = posted_form_data()
        view = simulation.fill_form(db(), key, ref, data, actor=me())
    except FormInvalid as err:
        saved = simulation.saved_simulation(db(), key, actor=me())
        assert saved is not None  # fill_form refuses without one before it validates anything
        view = simulation.simulate(db(), key, saved.setup, saved.events, actor=me(), selected=ref)
        flash(gettext("Форма заполнена с ошибками — исправьте отмеченные поля."), "error")
        return _render(key, view, saved.setup, values=data, errors=err.errors, status=422)
    for problem in view.problems:
        flash(problem, "error")
    return redirect(_page_url(key, ref if view.problems else None))


@blueprint.route("/<key>/draft/simulation/clock", methods=["POST"])
@login_required
def clock(key: str) -> Response:
    """«Сдвинуть время до срока»: the simulated clock jumps to the next due time, escalation step or timer."""
    simulation.move_clock(db(), key, actor=me())
    return redirect(_page_url(key))
