"""Admins: their start page, users and password resets, the production calendar's corrections, cohorts' dates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from engine.errors import FormInvalid
from engine.org.accounts import list_users, reset_password
from engine.org.regions import list_region_zones, set_region_zone
from engine.process.cohorts import cohort_calendars, set_cohort_dates
from engine.reports.admin_home import admin_home
from engine.timing.production_calendar import list_overrides, parse_day, parse_override, set_calendar_day
from engine.timing.zones import russian_zones
from web.i18n import gettext
from web.inputs import optional_int
from web.session import chosen_template, db, me

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.route("")
@login_required
def home() -> str:
    """Where an admin lands after signing in: what needs them and links to each admin page."""
    return render_template("admin_home.html", home=admin_home(db(), actor=me()))


@blueprint.route("/users")
@login_required
def users() -> str:
    search = request.args.get("q", "")
    return render_template("admin_users.html", users=list_users(db(), search=search, actor=me()), search=search,
                           reset=None)


@blueprint.route("/users/<login>/reset", methods=["POST"])
@login_required
def reset(login: str) -> str:
    password = reset_password(db(), login, actor=me())
    return render_template("admin_users.html", users=list_users(db(), actor=me()), search="",
                           reset=(login, password))


# --- calendars -------------------------------------------------------------------------------------------


def _calendar_page(year: int, *, errors: dict[str, list[str]] | None = None, values: dict[str, str] | None = None,
                   status: int = 200) -> tuple[str, int]:
    overrides = list_overrides(db(), year, actor=me())
    page = render_template("admin_calendar.html", year=year, overrides=overrides, errors=errors or {},
                           values=values or {})
    return page, status


def _year() -> int:
    return optional_int(request.values, "year", minimum=2000, maximum=2100) or db().now().year


@blueprint.route("/calendar")
@login_required
def calendar() -> tuple[str, int]:
    return _calendar_page(_year())


@blueprint.route("/calendar", methods=["POST"])
@login_required
def calendar_add() -> Any:
    values = {name: request.form.get(name, "") for name in ("day", "kind", "note")}
    try:
        day, working = parse_override(values["day"], values["kind"], values["note"])
    except FormInvalid as err:
        return _calendar_page(_year(), errors=err.errors, values=values, status=422)
    set_calendar_day(db(), day, working=working, note=values["note"].strip(), actor=me())
    flash(gettext("День {day} сохранён.", day=day.strftime("%d.%m.%Y")))
    return redirect(url_for("admin.calendar", year=day.year))


@blueprint.route("/calendar/remove", methods=["POST"])
@login_required
def calendar_remove() -> Any:
    try:
        day = parse_day(request.form.get("day", ""))
    except FormInvalid as err:
        return _calendar_page(_year(), errors=err.errors, status=422)
    set_calendar_day(db(), day, working=None, actor=me())
    flash(gettext("День {day} снова по производственному календарю РФ.", day=day.strftime("%d.%m.%Y")))
    return redirect(url_for("admin.calendar", year=day.year))


def _cohorts_page(template_key: str, *, errors: dict[str, list[str]] | None = None, year: int | None = None,
                  values: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    found = cohort_calendars(db(), template_key, actor=me())
    page = render_template("admin_cohorts.html", cohorts=found, template_key=template_key, errors=errors or {},
                           error_year=year, values=values or {})
    return page, status


@blueprint.route("/cohorts")
@login_required
def cohorts() -> tuple[str, int]:
    return _cohorts_page(chosen_template(request.args.get("template")))


@blueprint.route("/cohorts/<int32:year>", methods=["POST"])
@login_required
def cohort_dates(year: int) -> Any:
    template_key = chosen_template(request.form.get("template"))
    values = {name.removeprefix("date-"): text for name, text in request.form.items() if name.startswith("date-")}
    try:
        set_cohort_dates(db(), year, template_key, values, actor=me())
    except FormInvalid as err:
        return _cohorts_page(template_key, errors=err.errors, year=year, values=values, status=422)
    flash(gettext("Календарь когорты {year} года сохранён.", year=year))
    return redirect(url_for("admin.cohorts", template=template_key))


# --- regions' time zones -----------------------------------------------------------------------------


def _regions_page(*, errors: dict[str, list[str]] | None = None, region: str | None = None, value: str = "",
                  status: int = 200) -> tuple[str, int]:
    page = render_template("admin_regions.html", regions=list_region_zones(db(), actor=me()), zones=russian_zones(),
                           errors=errors or {}, error_region=region, value=value)
    return page, status


@blueprint.route("/regions")
@login_required
def regions() -> tuple[str, int]:
    return _regions_page()


@blueprint.route("/regions/<code>", methods=["POST"])
@login_required
def region_zone(code: str) -> Any:
    value = request.form.get("time_zone", "")
    try:
        set_region_zone(db(), code, value, actor=me())
    except FormInvalid as err:
        return _regions_page(errors=err.errors, region=code, value=value, status=422)
    flash(gettext("Часовой пояс региона {code}: {zone}.", code=code, zone=value.strip()))
    return redirect(url_for("admin.regions"))
