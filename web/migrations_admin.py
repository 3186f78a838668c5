"""Admins: move running instances of a template to another version — choose, dry run, start, follow.

The engine services authorize (admins only); these views read the request, call one service, render.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from engine import labels
from engine.process.migration import (
    MigrationRunView,
    get_run,
    list_runs,
    plan_migration,
    resume_migration,
    start_migration,
    version_choices,
)
from web.inputs import INT32_MAX, optional_int
from web.session import db, me, queue
from workers import jobs

blueprint = Blueprint("migrations_admin", __name__, url_prefix="/admin/migrations")
#: Instances checked inside the request; beyond that the full dry run goes to the background.
PLAN_LIMIT = 200

def _version(source: Any, name: str) -> int:
    return optional_int(source, name, minimum=1, maximum=INT32_MAX) or 0


@blueprint.route("")
@login_required
def choose() -> str:
    """The choice of template and versions; with all three given (deep link), the dry run's table."""
    key, old, new = request.args.get("key", ""), _version(request.args, "from"), _version(request.args, "to")
    choices = version_choices(db(), actor=me())
    limit = int(current_app.config.get("MIGRATION_PLAN_LIMIT", PLAN_LIMIT))
    plan = plan_migration(db(), key, old, new, limit=limit, actor=me()) if key and old and new else None
    return render_template("admin_migrations.html", choices=choices, key=key, old=old, new=new, plan=plan,
                           runs=list_runs(db(), actor=me()), run_words=labels.MIGRATION_RUNS)


@blueprint.route("", methods=["POST"])
@login_required
def start() -> ResponseReturnValue:
    run = start_migration(db(), request.form.get("key", ""), _version(request.form, "from"),
                          _version(request.form, "to"), dry_run=request.form.get("dry_run") == "1",
                          actor=me())
    _launch(run.id)
    return redirect(url_for(".run_page", run_id=run.id))


@blueprint.route("/<id:run_id>/resume", methods=["POST"])
@login_required
def resume(run_id: int) -> ResponseReturnValue:
    """An interrupted run (its worker died) goes on from where it stopped; the engine refuses a live one."""
    run = resume_migration(db(), run_id, actor=me())
    _launch(run.id)
    return redirect(url_for(".run_page", run_id=run.id))


def _launch(run_id: int) -> None:
    """The run goes to the background while the run page shows progress: an rq job, or a thread of this
    process without Redis or when Redis does not take the job (workers/queue.py). If its runner stops
    meanwhile, the run's heartbeat stops: the page shows it interrupted, and "Возобновить" gives it to a
    new runner."""
    queue().enqueue(jobs.run_migration, run_id)


@blueprint.route("/<id:run_id>")
@login_required
def run_page(run_id: int) -> str:
    return render_template("admin_migration_run.html", run=get_run(db(), run_id, actor=me()),
                           run_words=labels.MIGRATION_RUNS, outcome_words=labels.MIGRATION_OUTCOMES)


@blueprint.route("/<id:run_id>.json")
@login_required
def run_progress(run_id: int) -> ResponseReturnValue:
    return jsonify(_progress(get_run(db(), run_id, actor=me())))


def _progress(run: MigrationRunView) -> dict[str, Any]:
    return {"id": run.id, "key": run.key, "from_version": run.from_version, "to_version": run.to_version,
            "dry_run": run.dry_run, "status": run.status, "total": run.total, "moved": run.moved,
            "failed": run.failed, "processed": run.processed, "finished": run.finished,
            "interrupted": run.interrupted, "resumes": run.resumes,
            "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
            "results": [item.to_dict() for item in run.results]}
