"""Deadlines and escalation with real parts: the sweep on PostgreSQL (and SQLite), concurrent sweeps,
a worker process killed mid-sweep, Redis going away, e-mail through a real SMTP server on loopback.
Time moves by an injected clock, never by sleeping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.models import AuditRecord, Deadline, Notification, OutboxMessage, OutboxStatus, Task, User
from engine.org.core import OrgData, UserRow, apply_org
from engine.process import instances, tasks
from engine.process.mailer import SmtpSettings, deliver, due_messages
from engine.templates import versions
from tests.conftest import REDIS_URL, Org, make_org
from tests.helpers import Mailbox, free_port
from workers import jobs
from workers.queue import QUEUE_NAME, RqJobQueue

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday; the mini template's first task is due in 14 days
DUE = START + timedelta(days=14)  # Monday 15 March


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, SmtpSettings]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, SmtpSettings(host="127.0.0.1", port=port, sender="roadmap@test.local")
    finally:
        controller.stop()


def with_emails(db: Database, org: Org) -> None:
    logins = [org.school_user, org.curator, org.municipal, org.regional, org.sibling_curator, org.federal]
    apply_org(db, OrgData(users=[UserRow(login, f"Пользователь {login}", f"{login}@example.test")
                                 for login in logins]))


def started_mini(db: Database, org: Org, bundle: Path) -> tuple[int, int]:
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    at_start = Database(db.engine, clock=lambda: START, sessions=db.sessions)
    instance_id = instances.start_instance(at_start, key, org.school, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    return instance_id, task.id


def notified(db: Database, login: str, task_id: int) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(select(Notification.kind).join(User, User.id == Notification.user_id)
                                    .where(User.login == login, Notification.task_id == task_id)
                                    .order_by(Notification.id)))


def task_row(db: Database, task_id: int) -> Task:
    with db.reading() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task


def test_full_chain_of_an_overdue_school_task(db: Database, org: Org, bundle_copy: Path) -> None:
    with_emails(db, org)
    _, task_id = started_mini(db, org, bundle_copy)
    assert task_row(db, task_id).due_at == DUE
    moments = {  # the mini task is due Monday 15 March 2027; 2 WD before is Thursday 11 March
        "reminder": datetime(2027, 3, 11, 10, tzinfo=UTC),
        "due": DUE,
        "level 1": datetime(2027, 3, 18, 10, tzinfo=UTC),  # +3 working days
        "level 2": datetime(2027, 3, 24, 10, tzinfo=UTC),  # +7
        "level 3": datetime(2027, 4, 5, 10, tzinfo=UTC),  # +14 (2 April 09:00 UTC is the 14th working day)
    }
    fired = {}
    for name, moment in moments.items():
        fired[name] = [a.kind for a in sweep(db, now=moment).actions if a.task_id == task_id]
        assert sweep(db, now=moment).fired == 0  # again at the same moment: nothing twice
    assert fired == {"reminder": ["reminder"], "due": ["due"], "level 1": ["escalation"],
                     "level 2": ["escalation"], "level 3": ["escalation"]}
    assert notified(db, org.school_user, task_id) == ["arrival", "reminder", "due"]  # told when it opened
    assert notified(db, org.curator, task_id) == ["escalation"]
    assert notified(db, org.municipal, task_id) == ["escalation"]
    assert notified(db, org.regional, task_id) == ["escalation"]
    assert notified(db, org.sibling_curator, task_id) == []  # another school's curator hears nothing
    task = task_row(db, task_id)
    assert task.escalation_level == 3 and task.federal_overdue
    with db.reading() as session:
        levels = [r.details["level"] for r in session.scalars(select(AuditRecord).where(
            AuditRecord.task_id == task_id, AuditRecord.action == "task.escalated").order_by(AuditRecord.id))]
        letters = session.scalars(select(OutboxMessage).join(User, User.id == OutboxMessage.user_id)
                                  .where(User.login == org.regional)).all()
    assert levels == [1, 2, 3]
    [letter] = [m for m in letters if "Заполнить анкету" in m.subject]
    assert "Просрочена задача «Заполнить анкету» (уровень 3)" in letter.subject and "МБОУ «Тестовая СОШ»" in letter.body
    assert "15.03.2027 12:00 (МСК)" in letter.body and "Уровень эскалации: 3" in letter.body


def test_a_task_completed_before_due_never_escalates(db: Database, org: Org, bundle_copy: Path) -> None:
    _, task_id = started_mini(db, org, bundle_copy)
    tasks.complete_task(db, task_id, {"coverage": 80}, actor=org.school_user)
    with db.reading() as session:
        open_rows = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.task_id == task_id, Deadline.fired_at.is_(None)))
    assert open_rows == 0
    actions = sweep(db, now=START + timedelta(days=120)).actions
    assert [a for a in actions if a.task_id == task_id] == []
    assert task_row(db, task_id).escalation_level == 0
    assert notified(db, org.curator, task_id) == []


def test_dry_run_reports_without_acting(db: Database, org: Org, bundle_copy: Path) -> None:
    _, task_id = started_mini(db, org, bundle_copy)
    preview = [a for a in sweep(db, now=DUE, dry_run=True).actions if a.task_id == task_id]
    assert [a.kind for a in preview] == ["reminder", "due"] and preview[1].recipients == [org.school_user]
    assert notified(db, org.school_user, task_id) == []
    assert [a.kind for a in sweep(db, now=DUE).actions if a.task_id == task_id] == ["reminder", "due"]


def _many_overdue(db: Database, bundle: Path, schools: int) -> list[Org]:
    orgs = [make_org(db) for _ in range(schools)]
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    at_start = Database(db.engine, clock=lambda: START, sessions=db.sessions)
    for org in orgs:
        with_emails(db, org)
        instances.start_instance(at_start, key, org.school, actor=OPERATOR)
    return orgs


def _last_notification(db: Database) -> int:
    with db.reading() as session:
        return session.scalar(select(func.max(Notification.id))) or 0


def _duplicates(db: Database, after: int) -> int:
    """Notifications since ``after`` (the test's own: earlier tests in this database may have sent two alike, e.g.
    reminders of two visits planned on one day) that share (user, task, kind, title, body): a duplicate delivery of
    one event. (The body too: two notifications of new tasks «Новые задачи: 2» to one person are two events when
    they list other tasks.)"""
    with db.reading() as session:
        groups = session.execute(select(func.count()).select_from(Notification).where(Notification.id > after).group_by(
            Notification.user_id, Notification.task_id, Notification.kind, Notification.title,
            Notification.body)).scalars().all()
    return sum(count - 1 for count in groups if count > 1)


def test_concurrent_sweeps_send_each_notification_once(pg_db: Database, bundle_copy: Path) -> None:
    before = _last_notification(pg_db)
    _many_overdue(pg_db, bundle_copy, 12)
    far = START + timedelta(days=60)
    preview = sweep(pg_db, now=far, dry_run=True).actions
    expected, expected_actions = sum(len(a.recipients) for a in preview), len(preview)
    reports: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        reports.append(sweep(pg_db, now=far, batch_size=3).fired)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with pg_db.reading() as session:
        unfired = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.fired_at.is_(None), Deadline.fire_at <= far))
    assert unfired == 0 and len(reports) == 2
    assert sum(reports) == expected_actions  # between them, every due row acted on once
    assert _duplicates(pg_db, before) == 0
    assert expected > 0


def test_worker_killed_mid_sweep_loses_and_duplicates_nothing(pg_db: Database, postgres_url: str, redis: Redis,
                                                              bundle_copy: Path) -> None:
    before = _last_notification(pg_db)
    _many_overdue(pg_db, bundle_copy, 60)
    far = START + timedelta(days=60)
    with pg_db.reading() as session:
        total = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.fired_at.is_(None), Deadline.fire_at <= far))
    env = {**os.environ, "DATABASE_URL": postgres_url, "REDIS_URL": REDIS_URL}
    command = [sys.executable, "-c", "from web.cli import cli; cli()", "worker", "--burst"]
    queue = RqJobQueue(redis)
    queue.enqueue(jobs.sweep_deadlines, far.isoformat(), 2)
    worker = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    fired = _wait_until_partly_fired(pg_db, far, total)
    horses = _children(worker.pid)
    assert horses, "the worker forked no work horse"
    for horse in horses:  # rq's work horse runs in a process group of its own (os.setpgrp): kill it by pid
        os.kill(horse, signal.SIGKILL)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert 0 < fired < total
    queue.enqueue(jobs.sweep_deadlines, far.isoformat(), 50)  # cron's next minute
    subprocess.run(command, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL)
    with pg_db.reading() as session:
        unfired = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.fired_at.is_(None), Deadline.fire_at <= far))
    assert unfired == 0
    assert _duplicates(pg_db, before) == 0


def _children(pid: int) -> list[int]:
    """The processes whose parent is pid (from /proc: the horse rq forks is the worker's child)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _wait_until_partly_fired(db: Database, now: datetime, total: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with db.reading() as session:
            unfired = session.scalar(select(func.count()).select_from(Deadline).where(
                Deadline.fired_at.is_(None), Deadline.fire_at <= now)) or 0
        if total - unfired >= 10:
            return total - unfired
        time.sleep(0.02)
    pytest.fail("the worker never started sweeping")


def _redis_without_retries(port: int) -> Redis:
    """A client of the test's own Redis that reports it down at once: redis-py's default retries with
    backoff made each call on the stopped server (its shutdown, the refused enqueue) wait seconds."""
    return Redis(port=port, retry=Retry(NoBackoff(), 0))


def _wait_for_redis(port: int) -> None:
    for _ in range(100):
        try:
            if _redis_without_retries(port).ping():
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    pytest.fail(f"redis-server on {port} did not start")


def test_redis_down_while_tasks_go_overdue_then_every_email_goes_out_once(
        pg_db: Database, postgres_url: str, bundle_copy: Path, smtp: tuple[Mailbox, SmtpSettings],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mailbox, settings = smtp
    port = free_port()  # a Redis of its own: stopping it disturbs nothing else
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    start = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(redis_dir)]
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("SMTP_HOST", settings.host)
    monkeypatch.setenv("SMTP_PORT", str(settings.port))
    orgs = _many_overdue(pg_db, bundle_copy, 3)
    redis_process = subprocess.Popen(start, stdout=subprocess.DEVNULL)
    try:
        _wait_for_redis(port)
        connection = _redis_without_retries(port)
        queue, jobs_queue = Queue(QUEUE_NAME, connection=connection), RqJobQueue(connection)
        # The first sweep runs and queues its e-mails; then Redis dies with those jobs in it.
        jobs_queue.enqueue(jobs.sweep_deadlines, DUE.isoformat())
        SimpleWorker([queue], connection=connection).work(burst=True, max_jobs=1)  # the sweep only
        assert queue.count > 0  # deliveries queued, not yet run
        connection.shutdown(nosave=True)
        redis_process.wait(timeout=10)
        # While Redis is down the tasks go further overdue: cron cannot even enqueue the sweep.
        with pytest.raises(Exception):  # any connection error
            jobs_queue.enqueue(jobs.sweep_deadlines, (DUE + timedelta(days=30)).isoformat())
        # Redis is back (empty: it keeps nothing on disk). Cron's next minute: sweep and flush.
        redis_process = subprocess.Popen(start, stdout=subprocess.DEVNULL)
        _wait_for_redis(port)
        connection = _redis_without_retries(port)
        queue, jobs_queue = Queue(QUEUE_NAME, connection=connection), RqJobQueue(connection)
        jobs_queue.enqueue(jobs.sweep_deadlines, (DUE + timedelta(days=30)).isoformat())
        jobs_queue.enqueue(jobs.flush_outbox)
        SimpleWorker([queue], connection=connection).work(burst=True)
        jobs_queue.enqueue(jobs.flush_outbox)  # and the minute after: nothing left to send
        SimpleWorker([queue], connection=connection).work(burst=True)
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
    with pg_db.reading() as session:
        ours = session.scalars(select(OutboxMessage).join(User, User.id == OutboxMessage.user_id).where(
            User.login.in_([login for org in orgs for login in (org.school_user, org.curator, org.municipal)]))).all()
    assert ours and all(m.status is OutboxStatus.SENT for m in ours)
    subjects = [(rcpt[0], _subject(content)) for _, rcpt, content in mailbox.messages]
    assert len(subjects) == len(set(subjects))  # none twice
    assert {(m.to_address, m.subject) for m in ours} <= set(subjects)  # none lost, subjects intact


def _subject(content: str) -> str:
    return str(message_from_string(content, policy=policy.default)["Subject"])


def test_smtp_down_then_up_delivers_once(db: Database, org: Org, bundle_copy: Path,
                                         smtp: tuple[Mailbox, SmtpSettings]) -> None:
    mailbox, settings = smtp
    with_emails(db, org)
    started_mini(db, org, bundle_copy)
    report = sweep(db, now=DUE)
    mine = [i for i in report.outbox_ids if _recipient(db, i) == f"{org.school_user}@example.test"][-1]
    down = SmtpSettings(host="127.0.0.1", port=1, sender="roadmap@test.local")  # nothing listens there
    with pytest.raises(OSError):
        deliver(db, mine, down)
    assert mine not in due_messages(db)  # waits for its retry time
    later = Database(db.engine, clock=lambda: datetime.now(UTC) + timedelta(minutes=5), sessions=db.sessions)
    assert mine in due_messages(later)
    assert deliver(later, mine, settings) is True
    assert deliver(later, mine, settings) is False  # already sent: a second delivery sends nothing
    assert sum(1 for _, rcpt, _ in mailbox.messages if rcpt == [f"{org.school_user}@example.test"]) == 1


def _recipient(db: Database, outbox_id: int) -> str:
    with db.reading() as session:
        message = session.get(OutboxMessage, outbox_id)
        assert message is not None
        return message.to_address


TIMER_BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "timer"


def _timer_instance(db: Database, org: Org) -> int:
    key = versions.deploy_template(db, versions.read_bundle(TIMER_BUNDLE), actor=OPERATOR).key
    at_start = Database(db.engine, clock=lambda: START, sessions=db.sessions)
    return instances.start_instance(at_start, key, org.school, actor=OPERATOR).instance_id


def _open_elements(db: Database, instance_id: int) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(select(Task.element_id).where(
            Task.instance_id == instance_id, Task.status == "ready").order_by(Task.id)))


def test_bpmn_timer_fires_through_the_deadline_table(db: Database, org: Org) -> None:
    instance_id = _timer_instance(db, org)
    with db.reading() as session:
        [timer] = session.scalars(select(Deadline).where(Deadline.instance_id == instance_id,
                                                         Deadline.kind == "timer")).all()
    assert timer.fire_at == START + timedelta(days=7)  # measured from the engine's clock, not the machine's
    early = [a for a in sweep(db, now=START + timedelta(days=6)).actions if a.deadline_id == timer.id]
    assert early == [] and _open_elements(db, instance_id) == ["fill_questionnaire"]
    fired = [a for a in sweep(db, now=START + timedelta(days=7, minutes=1)).actions if a.deadline_id == timer.id]
    assert [a.kind for a in fired] == ["timer"]
    assert _open_elements(db, instance_id) == ["help_school"]  # the boundary timer interrupted the school task
    with db.reading() as session:
        cancelled = session.scalar(select(Task.status).where(Task.instance_id == instance_id,
                                                             Task.element_id == "fill_questionnaire"))
        audit = session.scalars(select(AuditRecord.action).where(AuditRecord.instance_id == instance_id)).all()
    assert cancelled == "cancelled" and "timer.fired" in audit


def test_completing_the_task_closes_its_boundary_timer(db: Database, org: Org) -> None:
    instance_id = _timer_instance(db, org)
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    tasks.complete_task(db, task.id, {"coverage": 90}, actor=org.school_user)
    with db.reading() as session:
        open_timers = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.instance_id == instance_id, Deadline.kind == "timer", Deadline.fired_at.is_(None)))
    assert open_timers == 0
    assert [a for a in sweep(db, now=START + timedelta(days=30)).actions if a.kind == "timer"
            and a.deadline_id in _timer_rows(db, instance_id)] == []


def _timer_rows(db: Database, instance_id: int) -> set[int]:
    with db.reading() as session:
        return set(session.scalars(select(Deadline.id).where(Deadline.instance_id == instance_id,
                                                             Deadline.kind == "timer")))
