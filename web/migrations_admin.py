"""Admins: move running instances of a template to another version — choose, dry run, start, follow.

The engine services authorize (admins only); these views read the request, call one service, render.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from redis.exceptions import RedisError

from engine import labels
from engine.db import Database
from engine.instance_migration import (
    MigrationRunView,
    get_run,
    list_runs,
    plan_migration,
    resume_migration,
    run_migration,
    start_migration,
    version_choices,
)
from web.inputs import INT32_MAX, optional_int
from web.session import db, me
from workers.queue import InlineJobQueue

blueprint = Blueprint("migrations_admin", __name__, url_prefix="/admin/migrations")
log = logging.getLogger(__name__)
#: Instances checked inside the request; beyond that the full dry run goes to the background.
PLAN_LIMIT = 200

def _version(source: Any, name: str) -> int:
    return optional_int(source, name, minimum=1, maximum=INT32_MAX) or 0


@blueprint.route("")
@login_required
def choose() -> str:
    """The choice of template and versions; with all three given (deep link), the dry run's table."""
    key, old, new = request.args.get("key", ""), _version(request.args, "from"), _version(request.args, "to")
    choices = version_choices(db(), actor_login=me())
    limit = int(current_app.config.get("MIGRATION_PLAN_LIMIT", PLAN_LIMIT))
    plan = plan_migration(db(), key, old, new, limit=limit, actor_login=me()) if key and old and new else None
    return render_template("admin_migrations.html", choices=choices, key=key, old=old, new=new, plan=plan,
                           runs=list_runs(db(), actor_login=me()), run_words=labels.MIGRATION_RUNS)


@blueprint.route("", methods=["POST"])
@login_required
def start() -> ResponseReturnValue:
    run = start_migration(db(), request.form.get("key", ""), _version(request.form, "from"),
                          _version(request.form, "to"), dry_run=request.form.get("dry_run") == "1",
                          actor_login=me())
    _launch(run.id)
    return redirect(url_for(".run_page", run_id=run.id))


@blueprint.route("/<id:run_id>/resume", methods=["POST"])
@login_required
def resume(run_id: int) -> ResponseReturnValue:
    """An interrupted run (its worker died) goes on from where it stopped; the engine refuses a live one."""
    run = resume_migration(db(), run_id, actor_login=me())
    _launch(run.id)
    return redirect(url_for(".run_page", run_id=run.id))


def _launch(run_id: int) -> None:
    """With Redis, an rq job. Without it the inline queue would move thousands of instances inside this
    request; a daemon thread does the same work while the run page shows progress. The thread is also
    the fallback when Redis does not take the job: a pending run nobody will pick up would wait forever.
    (If the server stops meanwhile, the run's heartbeat stops: the page shows it interrupted, and
    "Возобновить" gives it to a new runner.)"""
    queue = current_app.extensions["roadmap.jobs"]
    if not isinstance(queue, InlineJobQueue):
        try:
            queue.enqueue("run_migration", run_id)
            return
        except (RedisError, OSError):
            log.warning("Redis did not take migration run %d; running it in this process", run_id, exc_info=True)
    threading.Thread(target=_run_in_background, args=(db(), run_id), name=f"roadmap-migration-{run_id}",
                     daemon=True).start()


def _run_in_background(database: Database, run_id: int) -> None:
    try:
        run_migration(database, run_id)
    except Exception:  # the run row says "failed"; the log keeps the cause for the operator
        log.exception("migration run %d failed", run_id)


@blueprint.route("/<id:run_id>")
@login_required
def run_page(run_id: int) -> str:
    return render_template("admin_migration_run.html", run=get_run(db(), run_id, actor_login=me()),
                           run_words=labels.MIGRATION_RUNS, outcome_words=labels.MIGRATION_OUTCOMES)


@blueprint.route("/<id:run_id>.json")
@login_required
def run_progress(run_id: int) -> ResponseReturnValue:
    return jsonify(_progress(get_run(db(), run_id, actor_login=me())))


def _progress(run: MigrationRunView) -> dict[str, Any]:
    return {"id": run.id, "key": run.key, "from_version": run.from_version, "to_version": run.to_version,
            "dry_run": run.dry_run, "status": run.status, "total": run.total, "moved": run.moved,
            "failed": run.failed, "processed": run.processed, "finished": run.finished,
            "interrupted": run.interrupted, "resumes": run.resumes,
            "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
            "results": [item.to_dict() for item in run.results]}
