"""Batch operations on running roadmaps and merging two schools (issue 22) — on PostgreSQL and SQLite: the dry run
that really runs each school's step and rolls it back, refusals exactly as the single operation's, one school's
failure kept to that school, a runner killed with SIGKILL and resumed (each school done once), the rq job (delivered
twice, harmless), and the web pages, the CLI and the REST API over the same services.

Every test leaves no roadmap suspended: the deadline tests that run after this file sweep the whole shared database
and expect every due row to fire (a suspended roadmap's rows are held)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select, update

from engine.actors import OPERATOR
from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict, FormInvalid, NotAllowed
from engine.models import (
    AuditRecord,
    BatchRun,
    InstanceStatus,
    ProcessInstance,
    RoleGrant,
    School,
    Task,
    TaskStatus,
    User,
)
from engine.org.api_tokens import create_token
from engine.org.core import OrgData, apply_org
from engine.process import batches, instances, management, merges, tasks
from engine.process.batches import BatchFilter
from engine.reports.status import StageState, stage_status
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Org, make_org, unique
from tests.helpers import post, signed_in, with_passwords
from web.app import create_app
from web.cli import cli
from workers import jobs
from workers.queue import QUEUE_NAME, InlineJobQueue, RqJobQueue

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # Monday; the mini template's first task is due 15 March
LATER = datetime(2027, 3, 17, 9, 0, tzinfo=UTC)  # after that due time: the first task is overdue


@pytest.fixture(autouse=True)
def nothing_left_suspended(pg_db: Database, sqlite_db: Database) -> Iterator[None]:
    """Both databases, whichever the test used (some use PostgreSQL only: a runner subprocess, an rq worker)."""
    yield
    for db in (pg_db, sqlite_db):
        with db.transaction() as session:
            session.execute(update(ProcessInstance).where(ProcessInstance.suspended_at.is_not(None))
                            .values(suspended_at=None).execution_options(synchronize_session=False))


def _at(db: Database, moment: datetime) -> Database:
    return Database(db.engine, clock=lambda: moment, sessions=db.sessions)


def _two_stages(bundle: Path) -> None:
    """The mini template with the curator's review as a stage of its own, so roadmaps can stand at two stages."""
    manifest = bundle / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["stages"].append({"key": "review", "title": "Проверка анкеты"})
    manifest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    path = bundle / "mini.bpmn"
    text = path.read_text(encoding="utf-8")
    old = 'id="review" name="Проверить анкету" roadmap:stage="questionnaire"'
    assert old in text
    path.write_text(text.replace(old, 'id="review" name="Проверить анкету" roadmap:stage="review"'), encoding="utf-8")


def _start(db: Database, bundle: Path, *schools: str) -> dict[str, int]:
    _two_stages(bundle)
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    return {code: instances.start_instance(_at(db, START), key, code, actor=OPERATOR).instance_id for code in schools}


def _more_schools(db: Database, org: Org, count: int) -> list[str]:
    codes = [f"X{unique()}" for _ in range(count)]
    apply_org(db, OrgData(schools=[(code, f"МБОУ «Школа {code}»", org.municipality) for code in codes]))
    return codes


def _instance(db: Database, instance_id: int) -> ProcessInstance:
    with db.reading() as session:
        found = session.get(ProcessInstance, instance_id)
        assert found is not None
        return found


def _audit(db: Database, action: str, **details: object) -> list[AuditRecord]:
    with db.reading() as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id))
        return [r for r in rows if all(r.details.get(k) == v for k, v in details.items())]


def _outcomes(run: batches.BatchRunView) -> dict[str, tuple[str, str]]:
    return {item.school_code: (item.outcome, item.message) for item in run.items}


def _review_ready(db: Database, org: Org, instance_id: int) -> None:
    with db.reading() as session:
        task_id = session.scalars(select(Task.id).where(Task.instance_id == instance_id,
                                                        Task.status == TaskStatus.READY)).one()
    tasks.complete_task(_at(db, START), task_id, {"coverage": 80}, actor=org.school_user)


def test_a_dry_run_tries_each_school_and_changes_nothing_then_the_confirmed_run_does(
        db: Database, org: Org, bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school, org.foreign_school)
    area = BatchFilter(region=org.region)
    params = {"municipality": org.municipality, "reason": "реорганизация"}
    dry = batches.start_batch(db, "move", params, area, actor=org.regional, dry_run=True)
    assert [i.outcome for i in dry.items] == ["pending"] * 3 and dry.total == 3
    with pytest.raises(Conflict, match="не закончен"):
        batches.confirm_batch(db, dry.id, actor=org.regional)
    dry = batches.run_batch(db, dry.id)
    assert dry.status == "done" and (dry.done, dry.failed) == (1, 2)
    outcomes = _outcomes(dry)
    assert outcomes[org.foreign_school] == ("done", "")
    assert outcomes[org.school] == ("failed", f"школа «{org.school}» уже в муниципалитете «{org.municipality}»")
    with db.reading() as session:  # rolled back: the school is where it was, nothing audited
        foreign = session.scalars(select(School).where(School.code == org.foreign_school)).one()
        assert foreign.municipality.code == org.other_municipality
    assert _audit(db, "org.school_moved", school=org.foreign_school) == []

    run = batches.confirm_batch(db, dry.id, actor=org.regional)
    assert [i.school_code for i in run.items] == [org.foreign_school] and not run.dry_run
    with pytest.raises(Conflict, match="не пробный прогон"):
        batches.confirm_batch(db, run.id, actor=org.regional)
    run = batches.run_batch(_at(db, LATER), run.id)
    assert (run.status, run.done, run.failed) == ("done", 1, 0)
    [moved] = _audit(db, "org.school_moved", school=org.foreign_school)
    assert moved.details["batch_run"] == run.id and moved.details["reason"] == "реорганизация"
    assert moved.actor_id is not None and moved.at == LATER
    assert _instance(db, started[org.foreign_school]).status is InstanceStatus.RUNNING


def test_a_municipality_is_suspended_by_stage_and_overdue_and_the_refusals_are_the_single_ones(
        db: Database, org: Org, bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school, org.foreign_school)
    _review_ready(db, org, started[org.school])  # its roadmap now stands at «Проверка анкеты»
    late = _at(db, LATER)
    area = BatchFilter(municipality=org.municipality, stage="questionnaire", overdue=True)
    picked = batches.select_schools(late, "suspend", area, actor=org.regional)
    assert [(s.school_code, s.stage, s.overdue) for s in picked] == [(org.sibling_school, "questionnaire", True)]
    assert batches.select_schools(db, "suspend", area, actor=org.regional) == []  # not overdue yet at START

    with pytest.raises(NotAllowed):
        batches.start_batch(late, "suspend", {"reason": "x"}, area, actor=make_org(db).regional)
    with pytest.raises(NotAllowed):
        batches.start_batch(late, "suspend", {"reason": "x"}, area, actor=org.municipal)
    with pytest.raises(FormInvalid):
        batches.start_batch(late, "suspend", {"reason": " "}, area, actor=org.regional)
    with pytest.raises(FormInvalid):
        batches.start_batch(late, "explode", {"reason": "x"}, area, actor=org.regional)
    with pytest.raises(FormInvalid):
        BatchFilter(stage="questionnaire")

    run = batches.run_batch(late, batches.start_batch(late, "suspend", {"reason": "реорганизация"},
                                                      BatchFilter(municipality=org.municipality),
                                                      actor=org.regional).id)
    assert (run.done, run.failed) == (2, 0)
    assert _instance(db, started[org.school]).suspended_at == LATER
    assert _instance(db, started[org.foreign_school]).suspended_at is None  # the other municipality
    # Send back refuses a suspended roadmap in a batch exactly as alone.
    sent = batches.run_batch(late, batches.start_batch(late, "send_back", {"element": "fill_questionnaire",
                                                                           "reason": "доработка"},
                                                       BatchFilter(municipality=org.municipality),
                                                       actor=org.regional, dry_run=True).id)
    with pytest.raises(Conflict) as alone:
        management.send_back(late, org.school, "fill_questionnaire", reason="доработка", actor=org.regional)
    assert _outcomes(sent)[org.school] == ("failed", alone.value.message)
    resumed = batches.run_batch(late, batches.start_batch(late, "resume", {"reason": ""},
                                                          BatchFilter(region=org.region), actor=org.admin).id)
    assert sorted(i.school_code for i in resumed.items) == sorted([org.school, org.sibling_school])
    assert _instance(db, started[org.school]).suspended_at is None
    with pytest.raises(Conflict, match="ни один"):
        batches.start_batch(late, "resume", {}, BatchFilter(region=org.region), actor=org.admin)


def test_an_injected_failure_stays_with_its_school(db: Database, org: Org, bundle_copy: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school)
    real = management.suspend_one

    def broken(session: object, school_code: str, **kwargs: object) -> object:
        result = real(session, school_code, **kwargs)  # type: ignore[arg-type]  # the real step, then a crash
        if school_code == org.school:
            raise RuntimeError("диск переполнен")
        return result

    monkeypatch.setattr(management, "suspend_one", broken)
    run = batches.start_batch(db, "suspend", {"reason": "проверка"}, BatchFilter(municipality=org.municipality),
                              actor=org.admin)
    seen: list[tuple[int, int]] = []
    run = batches.run_batch(db, run.id, progress=lambda done, total: seen.append((done, total)))
    assert (run.status, run.done, run.failed) == ("done", 1, 1) and seen == [(1, 2), (2, 2)]
    assert _outcomes(run)[org.school] == ("failed", "внутренняя ошибка: RuntimeError: диск переполнен")
    assert _instance(db, started[org.school]).suspended_at is None  # its step rolled back whole
    assert _instance(db, started[org.sibling_school]).suspended_at is not None
    [failed] = _audit(db, "batch.school_failed", run_id=run.id)
    assert failed.details["school"] == org.school and failed.details["reason"] == "проверка"
    assert len(_audit(db, "instance.suspended", batch_run=run.id)) == 1


def test_a_withdrawal_batch_and_a_curator_change_batch(db: Database, org: Org, bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school)
    area = BatchFilter(municipality=org.municipality)
    change = batches.run_batch(db, batches.start_batch(db, "curator", {"to": org.sibling_curator,
                                                                       "reason": "болезнь"},
                                                       area, actor=org.regional).id)
    assert (change.done, change.failed) == (2, 0)
    with db.reading() as session:
        curators = set(session.scalars(select(User.login).join(RoleGrant, RoleGrant.user_id == User.id).join(
            School, School.id == RoleGrant.school_id).where(School.code == org.school, RoleGrant.role == Role.CURATOR)))
    assert curators == {org.sibling_curator}
    with pytest.raises(FormInvalid):
        batches.start_batch(db, "withdraw", {"reason": "merged"}, area, actor=org.regional)
    run = batches.run_batch(db, batches.start_batch(db, "withdraw", {"reason": "closed"}, area,
                                                    actor=org.regional).id)
    assert (run.done, run.failed) == (2, 0)
    assert {_instance(db, i).status for i in started.values()} == {InstanceStatus.CANCELLED}
    assert [r.details["reason_text"] for r in _audit(db, "instance.withdrawn", batch_run=run.id)] == [
        "школа закрыта", "школа закрыта"]


def _wait_until(predicate: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail("timed out")


SLOW_RUNNER = """
import sys, time
from engine.db import Database
from engine.process import batches, management
real = management.suspend_one
def slow(*args, **kwargs):
    time.sleep(0.4)  # inside the school's transaction: a kill lands mid-school as often as between schools
    return real(*args, **kwargs)
management.suspend_one = slow
batches.run_batch(Database.from_url(sys.argv[1]), int(sys.argv[2]))
"""


def test_a_killed_runner_is_resumed_and_each_school_is_done_once(pg_db: Database, postgres_url: str,
                                                                 bundle_copy: Path) -> None:
    org = make_org(pg_db)
    schools = [org.school, org.sibling_school, *_more_schools(pg_db, org, 6)]
    started = _start(pg_db, bundle_copy, *schools)
    run_id = batches.start_batch(pg_db, "suspend", {"reason": "реорганизация"},
                                 BatchFilter(municipality=org.municipality), actor=org.admin).id
    runner = subprocess.Popen([sys.executable, "-c", SLOW_RUNNER, postgres_url, str(run_id)],
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: batches.get_batch(pg_db, run_id, actor=OPERATOR).done >= 2)
    finally:
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    killed = batches.get_batch(pg_db, run_id, actor=OPERATOR)
    assert killed.status == "running" and 2 <= killed.done < len(schools)
    with pytest.raises(Conflict, match="отвечает"):
        batches.resume_batch(pg_db, run_id, actor=org.admin)
    later = _at(pg_db, datetime.now(UTC) + timedelta(minutes=6))
    assert batches.get_batch(later, run_id, actor=org.admin).status == "interrupted"
    assert batches.resume_batch(later, run_id, actor=org.admin).resumes == 1
    done = batches.run_batch(later, run_id)
    assert (done.status, done.done, done.failed) == ("done", len(schools), 0)
    for code in schools:
        assert _instance(pg_db, started[code]).suspended_at is not None
        assert len([r for r in _audit(pg_db, "instance.suspended", batch_run=run_id)
                    if r.details["school"] == code]) == 1
    assert batches._settle(pg_db, run_id, 1, 0) is False  # noqa: SLF001 - the killed runner would stop
    with pytest.raises(Conflict, match="завершена"):
        batches.resume_batch(later, run_id, actor=org.admin)


def test_the_rq_job_runs_a_batch_and_a_second_delivery_does_nothing(
        pg_db: Database, postgres_url: str, bundle_copy: Path, redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org(pg_db)
    started = _start(pg_db, bundle_copy, org.school, org.sibling_school)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    run_id = batches.start_batch(pg_db, "suspend", {"reason": "каникулы"}, BatchFilter(municipality=org.municipality),
                                 actor=org.regional).id
    queue = RqJobQueue(redis)
    first, second = queue.enqueue(jobs.run_batch, run_id), queue.enqueue(jobs.run_batch, run_id)
    rq = Queue(QUEUE_NAME, connection=redis)
    SimpleWorker([rq], connection=redis).work(burst=True)
    for job_id in (first, second):
        job = rq.fetch_job(job_id)
        assert job is not None and job.is_finished and job.return_value() == {"done": 2, "failed": 0}
    assert rq.fetch_job(first).timeout == 6 * 3600  # type: ignore[union-attr]
    assert all(_instance(pg_db, i).suspended_at is not None for i in started.values())
    assert len(_audit(pg_db, "instance.suspended", batch_run=run_id)) == 2
    assert len(_audit(pg_db, "batch.finished", run_id=run_id)) == 1


# --- merging two schools --------------------------------------------------------------------------------


def test_a_school_is_merged_into_another_and_its_people_follow(db: Database, org: Org, bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school)
    done = merges.merge_schools(_at(db, LATER), org.sibling_school, org.school, reason="реорганизация",
                                actor=org.regional)
    assert done.withdrawn_instance_id == started[org.sibling_school] and done.people == [org.sibling_curator]
    absorbed = _instance(db, started[org.sibling_school])
    assert absorbed.status is InstanceStatus.CANCELLED
    [withdrawn] = _audit(db, "instance.withdrawn", school=org.sibling_school)
    assert (withdrawn.details["reason"], withdrawn.details["reason_text"]) == ("merged", "слияние")
    with db.reading() as session:
        rows = {s.code: s for s in session.scalars(select(School).where(School.code.in_([org.school,
                                                                                       org.sibling_school])))}
        assert rows[org.sibling_school].merged_into_id == rows[org.school].id
        assert session.scalar(select(RoleGrant.id).join(User, User.id == RoleGrant.user_id).where(
            User.login == org.sibling_curator, RoleGrant.school_id == rows[org.school].id)) is not None
    [merged] = _audit(db, "org.schools_merged", school=org.sibling_school)
    assert merged.details["into"] == org.school and merged.actor_id is not None
    with pytest.raises(Conflict, match="уже присоединена"):
        merges.merge_schools(db, org.sibling_school, org.school, reason="ещё раз", actor=org.admin)


def test_a_merge_is_refused_across_stages_and_regions(db: Database, org: Org, bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school)
    _review_ready(db, org, started[org.school])
    with pytest.raises(Conflict) as stages:
        merges.merge_schools(db, org.sibling_school, org.school, reason="слияние", actor=org.admin)
    assert stages.value.message == (f"маршруты на разных этапах: школа «{org.sibling_school}» — этап «Анкетирование», "
                                    f"школа «{org.school}» — этап «Проверка анкеты»; слить можно школы на одном этапе")
    other = make_org(db)
    with pytest.raises(Conflict, match="в разных регионах"):
        merges.merge_schools(db, other.school, org.school, reason="слияние", actor=OPERATOR)
    with pytest.raises(NotAllowed):
        merges.merge_schools(db, org.sibling_school, org.school, reason="слияние", actor=org.municipal)
    with pytest.raises(FormInvalid):
        merges.merge_schools(db, org.school, org.school, reason="слияние", actor=org.admin)
    assert _instance(db, started[org.sibling_school]).status is InstanceStatus.RUNNING


# --- the web pages, the CLI, the REST API ---------------------------------------------------------------


def _app(db: Database) -> tuple[Flask, InlineJobQueue]:
    inline = InlineJobQueue(db, Settings.from_env())
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "batch", "SESSION_COOKIE_SECURE": False},
                     queue=inline)
    return app, inline


def test_the_batch_pages_dry_run_confirm_follow_and_resume(db: Database, org: Org, bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school, org.foreign_school)
    with_passwords(db, org)
    app, inline = _app(db)
    regional = signed_in(app, org.regional)
    listing = f"/roadmaps/batches?operation=suspend&municipality={org.municipality}"
    page = regional.get(listing).get_data(as_text=True)
    assert 'data-testid="batch-picked"' in page and org.school in page and org.foreign_school not in page
    assert signed_in(app, org.municipal).get(listing).status_code == 403
    assert signed_in(app, org.curator).get("/roadmaps/batches").status_code == 403  # not even the empty form
    status, _ = post(regional, "/roadmaps/batches", {"operation": "suspend", "municipality": org.municipality,
                                                     "reason": "реорганизация"}, listing)
    assert status == 302
    inline.join(60)
    with db.reading() as session:
        dry_id = session.scalars(select(BatchRun.id).where(BatchRun.dry_run.is_(True))
                                 .order_by(BatchRun.id.desc()).limit(1)).one()
    progress = regional.get(f"/roadmaps/batches/{dry_id}.json").get_json()
    assert (progress["status"], progress["processed"], progress["total"]) == ("done", 2, 2)
    page = regional.get(f"/roadmaps/batches/{dry_id}").get_data(as_text=True)
    assert "Выполнить для 2 школ" in page and f"{org.school}, {org.sibling_school}" in page
    assert "будет сделано" in page and _instance(db, started[org.school]).suspended_at is None
    status, _ = post(regional, f"/roadmaps/batches/{dry_id}/confirm", {}, f"/roadmaps/batches/{dry_id}")
    assert status == 302
    inline.join(60)
    assert all(_instance(db, started[c]).suspended_at is not None for c in (org.school, org.sibling_school))
    assert _instance(db, started[org.foreign_school]).suspended_at is None
    page = regional.get("/roadmaps/batches").get_data(as_text=True)
    assert 'data-testid="batch-runs"' in page and "завершена" in page
    # A run whose runner vanished is resumed from its page.
    stuck = batches.start_batch(db, "resume", {}, BatchFilter(municipality=org.municipality), actor=org.regional)
    later = _at(db, datetime.now(UTC) + timedelta(minutes=6))
    app_later, inline_later = _app(later)
    page = signed_in(app_later, org.regional).get(f"/roadmaps/batches/{stuck.id}").get_data(as_text=True)
    assert 'data-testid="batch-resume"' in page and "прервана" in page
    client = signed_in(app_later, org.regional)
    status, _ = post(client, f"/roadmaps/batches/{stuck.id}/resume", {}, f"/roadmaps/batches/{stuck.id}")
    assert status == 302
    inline_later.join(60)
    assert batches.get_batch(db, stuck.id, actor=OPERATOR).done == 2
    assert _instance(db, started[org.school]).suspended_at is None


def test_the_merge_page_refuses_and_merges(db: Database, org: Org, bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school)
    _review_ready(db, org, started[org.school])
    with_passwords(db, org)
    app, _ = _app(db)
    regional = signed_in(app, org.regional)
    page = regional.get(f"/schools/{org.sibling_school}/merge").get_data(as_text=True)
    assert 'data-testid="merge-form"' in page and "Проверка анкеты" in page
    status, _ = post(regional, f"/schools/{org.sibling_school}/merge", {"into": org.school, "reason": "слияние"},
                     f"/schools/{org.sibling_school}/merge")
    assert status == 302
    page = regional.get(f"/schools/{org.sibling_school}/merge?into={org.school}").get_data(as_text=True)
    assert "маршруты на разных этапах" in page
    assert _instance(db, started[org.sibling_school]).status is InstanceStatus.RUNNING


def test_the_cli_runs_a_batch_with_a_dry_run_lists_resumes_and_merges(db: Database, org: Org,
                                                                       bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school)
    runner = CliRunner()
    dry = runner.invoke(cli, ["roadmaps", "batch", "suspend", "--municipality", org.municipality, "--reason",
                              "каникулы", "--dry-run"], obj=db)
    assert dry.exit_code == 0, dry.output
    assert f"{org.school}\tМБОУ «Тестовая СОШ»\tбудет сделано" in dry.stdout and "(пробная)" in dry.stdout
    assert _instance(db, started[org.school]).suspended_at is None
    done = runner.invoke(cli, ["roadmaps", "batch", "suspend", "--municipality", org.municipality, "--reason",
                               "каникулы", "--json"], obj=db)
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert (body["done"], body["failed"], body["status"]) == (2, 0, "done")
    refused = runner.invoke(cli, ["roadmaps", "batch", "send_back", "--municipality", org.municipality,
                                  "--element", "fill_questionnaire", "--reason", "доработка"], obj=db)
    assert refused.exit_code == 1 and "отказ: маршрут школы" in refused.stdout and "приостановлен" in refused.stdout
    listed = runner.invoke(cli, ["roadmaps", "batch-runs"], obj=db)
    assert f"{body['id']}\tsuspend\t{org.municipality}\tзавершена\tобработано 2 из 2" in listed.stdout
    stuck = batches.start_batch(db, "resume", {}, BatchFilter(municipality=org.municipality), actor=OPERATOR)
    alive = runner.invoke(cli, ["roadmaps", "batch-resume", str(stuck.id)], obj=db)
    assert alive.exit_code == 1 and "отвечает" in alive.stderr
    later = _at(db, datetime.now(UTC) + timedelta(minutes=6))
    resumed = runner.invoke(cli, ["roadmaps", "batch-resume", str(stuck.id)], obj=later)
    assert resumed.exit_code == 0 and "сделано 2" in resumed.stdout
    merged = runner.invoke(cli, ["roadmaps", "merge", org.sibling_school, org.school, "--reason", "слияние"], obj=db)
    assert merged.exit_code == 0 and "снят («слияние»)" in merged.stdout
    again = runner.invoke(cli, ["roadmaps", "merge", org.sibling_school, org.school, "--reason", "слияние"], obj=db)
    assert again.exit_code == 1 and "уже присоединена" in again.stderr


def test_the_rest_api_creates_follows_and_resumes_batches_and_merges(db: Database, org: Org,
                                                                      bundle_copy: Path) -> None:
    started = _start(db, bundle_copy, org.school, org.sibling_school)
    app, inline = _app(db)
    client = app.test_client()

    def call(login: str, method: str, url: str, **kwargs: object) -> tuple[int, Any]:
        token = create_token(db, "тест", actor=login)[1]
        response = client.open(f"/api/v1{url}", method=method, headers={"Authorization": f"Bearer {token}"},
                               **kwargs)  # type: ignore[arg-type]
        return response.status_code, response.json

    body = {"operation": "suspend", "municipality": org.municipality, "reason": "пауза", "dry_run": True}
    status, _ = call(org.municipal, "POST", "/roadmaps/batches", json=body)
    assert status == 403
    status, dry = call(org.regional, "POST", "/roadmaps/batches", json=body)
    assert status == 202 and dry["dry_run"] and dry["total"] == 2
    inline.join(60)
    status, dry = call(org.regional, "GET", f"/roadmaps/batches/{dry['id']}")
    assert status == 200 and dry["status"] == "done" and dry["will_do"] == [org.school, org.sibling_school]
    assert [i["outcome"] for i in dry["items"]] == ["done", "done"]
    status, run = call(org.regional, "POST", "/roadmaps/batches",
                       json={**body, "dry_run": False, "schools": [org.school]})
    assert status == 202 and [i["school_code"] for i in run["items"]] == [org.school]
    inline.join(60)
    assert _instance(db, started[org.school]).suspended_at is not None
    assert _instance(db, started[org.sibling_school]).suspended_at is None
    status, listed = call(org.regional, "GET", "/roadmaps/batches")
    assert status == 200 and {r["id"] for r in listed} >= {dry["id"], run["id"]} and "items" not in listed[0]
    status, problem = call(org.regional, "POST", f"/roadmaps/batches/{run['id']}/resume")
    assert status == 409 and "завершена" in problem["detail"]
    status, problem = call(org.regional, "POST", f"/schools/{org.sibling_school}/merge",
                           json={"into": make_org(db).school, "reason": "слияние"})
    assert status in (403, 409)
    status, merged = call(org.regional, "POST", f"/schools/{org.sibling_school}/merge",
                          json={"into": org.school, "reason": "слияние"})
    assert status == 200 and merged["withdrawn_instance_id"] == started[org.sibling_school]
    document = client.get("/api/v1/openapi.json").json
    assert document is not None
    operations = {op["operationId"] for ops in document["paths"].values() for op in ops.values() if "operationId" in op}
    assert {"create_batch", "get_batch", "list_batches", "resume_batch", "merge_schools"} <= operations


def test_suspended_roadmaps_carry_a_badge_and_a_withdrawn_stage_is_not_passed(db: Database, org: Org,
                                                                             bundle_copy: Path) -> None:
    _start(db, bundle_copy, org.school, org.sibling_school)
    key = json.loads((bundle_copy / "manifest.json").read_text(encoding="utf-8"))["key"]
    late = _at(db, LATER)
    management.suspend_roadmaps(late, management.Selection(school=org.school), reason="пауза", actor=org.admin)
    management.withdraw_roadmap(late, org.sibling_school, reason="closed", actor=org.admin)
    report = stage_status(late, key, municipality_code=org.municipality)
    rows = {row.school_code: row for row in report.schools}
    assert rows[org.school].suspended and rows[org.school].stages["questionnaire"] is StageState.CURRENT
    assert rows[org.sibling_school].stages == {"questionnaire": StageState.WITHDRAWN, "review": StageState.SKIPPED}
    assert report.at_stage == {"questionnaire": 1, "review": 0}  # the withdrawn roadmap is not in progress
    with_passwords(db, org)
    app, _ = _app(late)
    regional = signed_in(app, org.regional)
    matrix = regional.get(f"/dashboard?municipality={org.municipality}&template={key}").get_data(as_text=True)
    sibling_row = matrix[matrix.index(f'data-school="{org.sibling_school}"'):]
    sibling_row = sibling_row[:sibling_row.index("</tr>")]
    assert "снят на этом этапе" in sibling_row and "пройден" not in sibling_row
    school_row = matrix[matrix.index(f'data-school="{org.school}"'):]
    assert 'data-testid="suspended"' in school_row[:school_row.index("</tr>")]
    overdue = regional.get(f"/dashboard/overdue?municipality={org.municipality}").get_data(as_text=True)
    assert "МБОУ «Тестовая СОШ»" in overdue and overdue.count('data-testid="suspended"') == 1  # overdue since 15.03
    school_page = regional.get(f"/schools/{org.school}").get_data(as_text=True)
    assert 'data-testid="roadmap-suspended"' in school_page
