"""The deadline commands (sweep, calendar, notifications, worker, cron), the digest and the inline sweeper."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from redis import Redis
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.config import Settings
from engine.db import Database
from engine.deadlines.digests import queue_digests
from engine.models import OutboxMessage, ProcessInstance, TemplateVersion, User
from engine.org import regions
from engine.org.core import OrgData, UserRow, apply_org
from engine.process import instances
from engine.templates import versions
from engine.timing.production_calendar import load_calendar
from tests.conftest import REDIS_URL, Org
from web.cli import cli
from workers.cron import build_scheduler
from workers.inline import InlineSweeper
from workers.queue import DEADLINES_QUEUE_NAME, QUEUE_NAME, WORKER_QUEUES, run_job

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def run(db: Database, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=db, env=env)
    return result.exit_code, result.stdout, result.stderr


def started(db: Database, org: Org, bundle: Path) -> int:
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    return instances.start_instance(Database(db.engine, clock=lambda: START, sessions=db.sessions),
                                    key, org.school, actor=OPERATOR).instance_id


def test_sweep_command_dry_run_then_for_real(db: Database, org: Org, bundle_copy: Path) -> None:
    instance_id = started(db, org, bundle_copy)
    moment = "2027-03-15T12:30+03:00"  # the mini task's due time, in Moscow
    code, out, _ = run(db, "sweep", "--now", moment, "--dry-run", "--json")
    preview = [a for a in json.loads(out)["actions"] if a["school"] == org.school]
    assert code == 0 and [a["kind"] for a in preview] == ["reminder", "due"]
    code, out, _ = run(db, "sweep", "--now", moment)
    assert code == 0 and f"срок наступил: {org.school} «Заполнить анкету» → {org.school_user}" in out
    code, out, _ = run(db, "sweep", "--now", moment, "--json")
    assert [a for a in json.loads(out)["actions"] if a["school"] == org.school] == []
    assert instance_id > 0


def test_sweep_now_must_be_iso(db: Database) -> None:
    code, _, err = run(db, "sweep", "--now", "в понедельник")
    assert code == 2 and "ISO 8601" in err


def test_calendar_commands_change_working_day_arithmetic(db: Database) -> None:
    day = "2039-04-30"  # a Saturday, declared a working day
    assert run(db, "calendar", "set", day, "--working", "--note", "перенос")[0] == 0
    code, out, _ = run(db, "calendar", "list", "--year", "2039")
    assert code == 0 and "30.04.2039\tрабочий\tперенос" in out
    with db.reading() as session:
        calendar = load_calendar(session)
    friday = datetime(2039, 4, 29, 10, tzinfo=UTC)
    assert calendar.add_working_days(friday, 1).date() == date(2039, 4, 30)
    assert run(db, "calendar", "reset", day)[0] == 0
    with db.reading() as session:
        assert load_calendar(session).add_working_days(friday, 1).date() == date(2039, 5, 2)


def test_notifications_command_lists_and_marks_read(db: Database, org: Org, bundle_copy: Path) -> None:
    started(db, org, bundle_copy)
    run(db, "sweep", "--now", "2027-03-15T12:30+03:00")
    code, out, _ = run(db, "notifications", "--user", org.school_user, "--json")
    listed = json.loads(out)
    assert code == 0 and listed["unread"] == 3  # the task's arrival, its reminder, its due time
    assert {item["kind"] for item in listed["items"]} == {"arrival", "reminder", "due"}
    assert run(db, "notifications", "--user", org.school_user, "--mark-read")[0] == 0
    code, out, _ = run(db, "notifications", "--user", org.school_user, "--unread")
    assert code == 0 and out.startswith("Непрочитанных: 0")


def test_worker_and_cron_need_redis(db: Database) -> None:
    for command in ("worker", "cron"):
        code, _, err = run(db, command, env={"REDIS_URL": ""})
        assert code == 2 and "REDIS_URL" in err


def test_cron_sweeps_every_fifteen_seconds_on_the_deadlines_queue() -> None:
    """Every row is acted on within a minute of its time (issue 21): the sweep runs every 15 s, on a queue the
    workers take first, so it never waits behind the letters it queued (docs/performance.md)."""
    scheduler = build_scheduler(Redis.from_url(REDIS_URL))
    by_name = {job.args[0].__name__: job for job in scheduler.get_jobs() if job.func is run_job}
    assert by_name["sweep_deadlines"].interval == 15 and by_name["flush_outbox"].interval == 60
    assert by_name["sweep_deadlines"].queue_name == DEADLINES_QUEUE_NAME == WORKER_QUEUES[0]
    assert by_name["flush_outbox"].queue_name == QUEUE_NAME in WORKER_QUEUES
    assert by_name["send_digests"].cron == "0 3 * * *"
    assert {job.name for job in by_name.values()} == {f"workers.jobs.{name}" for name in by_name}  # three, not one
    scheduler.connection.close()
    slower = build_scheduler(Redis.from_url(REDIS_URL), Settings.from_env({"SWEEP_EVERY_SECONDS": "40"}))
    assert {job.args[0].__name__: job.interval for job in slower.get_jobs()}["sweep_deadlines"] == 40
    slower.connection.close()


def test_daily_digest_once_per_day_for_those_who_want_it(db: Database, org: Org, bundle_copy: Path) -> None:
    started(db, org, bundle_copy)
    apply_org(db, OrgData(users=[UserRow(org.school_user, "Директор", f"{org.school_user}@example.test")]))
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.login == org.school_user))
        assert user is not None
        user.wants_digest = True
    morning = START + timedelta(days=20)
    first = queue_digests(db, now=morning)
    again = queue_digests(db, now=morning + timedelta(hours=2))
    with db.reading() as session:
        mine = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(first))).all()
    letters = [m for m in mine if m.to_address == f"{org.school_user}@example.test"]
    assert len(letters) == 1 and not set(again) & {m.id for m in letters}
    assert "ПРОСРОЧЕНО" in letters[0].body and org.school in letters[0].body
    # Deadlines in the school's own time, its zone named; the date in the reader's.
    regions.set_region_zone(db, org.region, "Asia/Kamchatka", actor=OPERATOR)
    later = queue_digests(db, now=morning + timedelta(days=1))
    with db.reading() as session:
        [kamchatka] = session.scalars(select(OutboxMessage).where(
            OutboxMessage.id.in_(later), OutboxMessage.to_address == f"{org.school_user}@example.test")).all()
    assert "(МСК+9)" in kamchatka.body
    next_day = (morning + timedelta(days=1)).astimezone(ZoneInfo("Asia/Kamchatka"))
    assert kamchatka.subject == f"Сводка задач на {next_day:%d.%m.%Y}"


def test_inline_sweeper_acts_without_redis(db: Database, org: Org, bundle_copy: Path) -> None:
    instance_id = started(db, org, bundle_copy)
    far = Database(db.engine, clock=lambda: START + timedelta(days=40), sessions=db.sessions)
    settings = Settings.from_env({"DATABASE_URL": "unused"})
    InlineSweeper(far, settings, interval=3600).run_once()
    code, out, _ = run(db, "status", "--template", _key(db, instance_id), "--json")
    assert code == 0
    [row] = [r for r in json.loads(out)["schools"] if r["school_code"] == org.school]
    assert row["escalation_level"] >= 2  # +3 and +7 working days have passed by then


def _key(db: Database, instance_id: int) -> str:
    with db.reading() as session:
        key = session.scalar(select(TemplateVersion.key).join(ProcessInstance).where(ProcessInstance.id == instance_id))
        assert key is not None
        return key


@pytest.fixture(autouse=True)
def _no_ambient_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
