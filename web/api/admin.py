"""Operations for admins (and, for the curator pool, regional coordinators) that the admin pages offer: the
production calendar's corrections, regions' time zones, the curator pool, template versions (retire, restore,
export, diff), migration runs with their progress, and a deadline sweep's dry run. Each view calls the service
the page calls; the services authorize."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Response, send_file
from flask.views import MethodView

from engine.deadlines.sweep import preview_sweep
from engine.org import curator_pool
from engine.org.regions import set_region_zone
from engine.process.migration import get_run, resume_migration, start_migration
from engine.templates import workspace
from engine.templates.diff import diff_versions
from engine.timing.production_calendar import list_overrides, parse_day, parse_override, set_calendar_day
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import (
    CalendarDayIn,
    CalendarDayOut,
    DiffQuery,
    MigrationIn,
    MigrationOut,
    PoolEntryOut,
    PoolIn,
    Problem,
    SweepOut,
    SweepQuery,
    TemplateDiffOut,
    TimeZoneIn,
)
from web.session import db, queue
from workers import jobs

blp = Blueprint("api_admin", __name__, url_prefix="/api/v1", description="Operations: calendars, regions, the "
                "curator pool, template versions, migrations, deadlines")
blueprints = [blp]


@blp.route("/calendar/<int(min=2000, max=2100):year>")
@blp.response(200, CalendarDayOut(many=True))
@blp.alt_response(403, schema=Problem)
def calendar(year: int) -> Any:
    """The year's corrections of the production calendar (admins)."""
    return list_overrides(db(), year, actor=api_login())


@blp.route("/calendar/days/<day>")
class CalendarDay(MethodView):
    @blp.arguments(CalendarDayIn)
    @blp.response(204)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(422, schema=Problem)
    def put(self, body: dict[str, Any], day: str) -> None:
        """Mark a day (YYYY-MM-DD) a working day or a day off (`kind`: working or holiday), as /admin/calendar
        does; deadlines computed from now on count it so (admins)."""
        parsed, working = parse_override(day, body["kind"], body["note"])
        set_calendar_day(db(), parsed, working=working, note=body["note"].strip(), actor=api_login())

    @blp.response(204)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(422, schema=Problem)
    def delete(self, day: str) -> None:
        """Return the day to the built-in Russian production calendar (admins)."""
        set_calendar_day(db(), parse_day(day), working=None, actor=api_login())


@blp.route("/regions/<code>/time-zone", methods=["PUT"])
@blp.arguments(TimeZoneIn)
@blp.response(204)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(422, schema=Problem)
def region_zone(body: dict[str, Any], code: str) -> None:
    """The region's time zone (an IANA name such as Asia/Novokuznetsk) for its schools' deadlines (admins)."""
    set_region_zone(db(), code, body["time_zone"], actor=api_login())


@blp.route("/regions/<code>/curator-pool")
class CuratorPool(MethodView):
    @blp.response(200, PoolEntryOut(many=True))
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    def get(self, code: str) -> Any:
        """The region's curator candidates kept in reserve (its coordinator, the federal level, admins)."""
        return curator_pool.list_pool(db(), code, actor=api_login())

    @blp.arguments(PoolIn)
    @blp.response(200, PoolEntryOut(many=True))
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    def post(self, body: dict[str, Any], code: str) -> Any:
        """Put a user into the pool (no change if there already); the answer is the pool afterwards."""
        curator_pool.add_to_pool(db(), code, body["login"], actor=api_login())
        return curator_pool.list_pool(db(), code, actor=api_login())


@blp.route("/regions/<code>/curator-pool/<login>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def pool_remove(code: str, login: str) -> None:
    """Take a user out of the pool (schools they already curate keep them)."""
    curator_pool.remove_from_pool(db(), code, login, actor=api_login())


@blp.route("/templates/<key>/versions/<int(min=1, max=2147483647):version>/retire", methods=["POST"])
@blp.response(204)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def retire(key: str, version: int) -> None:
    """Retire a version: no new roadmap starts on it; running ones go on (admins)."""
    workspace.set_retired(db(), key, version, retired=True, actor=api_login())


@blp.route("/templates/<key>/versions/<int(min=1, max=2147483647):version>/restore", methods=["POST"])
@blp.response(204)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def restore(key: str, version: int) -> None:
    """Return a retired version to service (admins)."""
    workspace.set_retired(db(), key, version, retired=False, actor=api_login())


@blp.route("/templates/<key>/versions/<int(min=1, max=2147483647):version>/bundle")
@blp.response(200, {"format": "binary", "type": "string"}, content_type="application/zip")
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def export(key: str, version: int) -> Response:
    """A stored version as a bundle zip (manifest.json, BPMN, DMN, forms), deployable again (admins)."""
    name, data = workspace.export_version(db(), key, version, actor=api_login())
    return send_file(BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=name)


@blp.route("/templates/<key>/diff")
@blp.arguments(DiffQuery, location="query")
@blp.response(200, TemplateDiffOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def diff(query: dict[str, Any], key: str) -> Any:
    """What changed between two stored versions: elements, tasks, forms, rules and the manifest (admins)."""
    return diff_versions(db(), key, query["from_version"], query["to_version"], actor=api_login())


@blp.route("/migrations", methods=["POST"])
@blp.arguments(MigrationIn)
@blp.response(202, MigrationOut)
@blp.alt_response(400, schema=Problem)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def migrate(body: dict[str, Any]) -> Any:
    """Move the running roadmaps of one version to another (or only check them: `dry_run`) in the background;
    follow its progress with `GET /migrations/{id}` (admins)."""
    run = start_migration(db(), body["key"], body["from_version"], body["to_version"], dry_run=body["dry_run"],
                          actor=api_login())
    queue().enqueue(jobs.run_migration, run.id)
    return run


@blp.route("/migrations/<id:run_id>")
@blp.response(200, MigrationOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def migration(run_id: int) -> Any:
    """A migration run with its progress: total, moved, failed, each instance checked (admins)."""
    return get_run(db(), run_id, actor=api_login())


@blp.route("/migrations/<id:run_id>/resume", methods=["POST"])
@blp.response(202, MigrationOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
def resume(run_id: int) -> Any:
    """Give an interrupted run (its runner died) to a new runner; it goes on where it stopped (admins)."""
    run = resume_migration(db(), run_id, actor=api_login())
    queue().enqueue(jobs.run_migration, run.id)
    return run


@blp.route("/deadlines/preview")
@blp.arguments(SweepQuery, location="query")
@blp.response(200, SweepOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(422, schema=Problem)
def sweep_preview(query: dict[str, Any]) -> Any:
    """What the deadline sweep would fire at `at` (default: now) — reminders, due, escalations, timers,
    retries, arrivals, with their recipients — doing nothing (admins)."""
    return preview_sweep(db(), query.get("at") or db().now(), actor=api_login(), limit=query["limit"],
                         school=query.get("school"))
