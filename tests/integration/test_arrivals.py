"""A task that arrives is told to its people: the step that opens it writes an arrival row, the sweep
turns the rows into one notification per person (a letter for those with an address who do not take the
digest), exactly once, grouped however many tasks arrive at once. PostgreSQL and SQLite; rq and
concurrent sweeps on PostgreSQL.

Each test runs its own moment in 2001, earlier than any other test's rows: a sweep "now" then acts on
this test's arrivals first (oldest first), in one batch, whatever other tests left due."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.actors import OPERATOR
from engine.cli import cli
from engine.db import Database
from engine.deadlines import sweep as sweep_module
from engine.deadlines.arrivals import Arrived, announce
from engine.deadlines.digests import queue_digests
from engine.deadlines.sweep import sweep
from engine.models import Deadline, DeadlineKind, Incident, Notification, OutboxMessage, Task, TaskStatus, User
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process import instances, notifications, tasks
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Org, make_org, unique
from tests.helpers import ROADMAP
from workers import jobs
from workers.queue import QUEUE_NAME, RqJobQueue

YEAR = 2042


def at(db: Database, moment: datetime) -> Database:
    return Database(db.engine, clock=lambda: moment, sessions=db.sessions)


def give_emails(db: Database, *logins: str) -> None:
    apply_org(db, OrgData(users=[UserRow(login, f"Пользователь {login}", f"{login}@example.test")
                                 for login in logins]))


def started_mini(db: Database, org: Org, bundle: Path, moment: datetime) -> tuple[int, int]:
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    instance_id = instances.start_instance(at(db, moment), key, org.school, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    return instance_id, task.id


def arrivals_of(db: Database, login: str) -> list[Notification]:
    with db.reading() as session:
        return list(session.scalars(select(Notification).join(User, User.id == Notification.user_id)
                                    .where(User.login == login, Notification.kind == "arrival")
                                    .order_by(Notification.id)))


def letters_to(db: Database, login: str) -> list[OutboxMessage]:
    with db.reading() as session:
        return list(session.scalars(select(OutboxMessage).join(User, User.id == OutboxMessage.user_id)
                                    .where(User.login == login).order_by(OutboxMessage.id)))


def test_a_completion_writes_the_next_tasks_arrival_and_the_sweep_tells_its_people_once(
        db: Database, org: Org, bundle_copy: Path) -> None:
    moment = datetime(2001, 5, 7, 9, tzinfo=UTC)
    give_emails(db, org.school_user, org.curator)
    instance_id, school_task = started_mini(db, org, bundle_copy, moment)
    sweep(db, now=moment)  # the school hears of its questionnaire
    done = moment + timedelta(hours=2)
    completed = tasks.complete_task(at(db, done), school_task, {"coverage": 80}, actor=org.school_user)
    [review] = completed.next_task_ids
    with db.reading() as session:
        rows = session.scalars(select(Deadline).where(Deadline.task_id == review,
                                                      Deadline.kind == DeadlineKind.ARRIVAL)).all()
    assert [(r.fire_at, r.fired_at, r.cancelled) for r in rows] == [(done, None, False)]  # due at once

    preview = [a for a in sweep(db, now=done, dry_run=True).arrivals if a.task_id == review]
    assert [(a.kind, a.recipients) for a in preview] == [("arrival", [org.curator])]
    assert arrivals_of(db, org.curator) == []  # a preview does nothing

    report = sweep(db, now=done, base_url="https://roadmap.test")
    assert [a.recipients for a in report.arrivals if a.task_id == review] == [[org.curator]]
    assert [a for a in report.actions if a.task_id == review] == []  # arrivals are not counted as deadlines
    [note] = arrivals_of(db, org.curator)
    assert note.task_id == review and note.link == f"https://roadmap.test/tasks/{review}"
    assert note.title == f"Новая задача «Проверить анкету»: МБОУ «Тестовая СОШ» ({org.school})"
    assert "срок —" in note.body
    [letter] = [m for m in letters_to(db, org.curator) if m.dedupe_key.startswith("arrival:")]
    assert letter.subject == note.title and f"https://roadmap.test/tasks/{review}" in letter.body
    assert letter.dedupe_key == f"arrival:{rows[0].id}:user:{letter.user_id}"
    _, unread = notifications.list_notifications(db, actor=org.curator)
    assert unread == 1  # the badge counts it

    again = sweep(db, now=done + timedelta(minutes=5))
    assert [a for a in again.arrivals if a.task_id == review] == []
    assert len(arrivals_of(db, org.curator)) == 1 and len(arrivals_of(db, org.school_user)) == 1
    assert [n.task_id for n in arrivals_of(db, org.school_user)] == [school_task]
    assert instance_id > 0


def test_a_task_done_before_the_sweep_is_no_news(db: Database, org: Org, bundle_copy: Path) -> None:
    moment = datetime(2001, 5, 14, 9, tzinfo=UTC)
    _, school_task = started_mini(db, org, bundle_copy, moment)
    tasks.complete_task(at(db, moment + timedelta(seconds=30)), school_task, {"coverage": 80},
                        actor=org.school_user)
    with db.reading() as session:
        [row] = session.scalars(select(Deadline).where(Deadline.task_id == school_task,
                                                       Deadline.kind == DeadlineKind.ARRIVAL)).all()
    assert row.cancelled and row.fired_at is not None  # closed with the task's other rows
    sweep(db, now=moment + timedelta(minutes=1))
    assert [n.task_id for n in arrivals_of(db, org.school_user)] == []


def test_the_sweep_command_lists_arrivals(db: Database, org: Org, bundle_copy: Path) -> None:
    moment = datetime(2001, 5, 21, 9, tzinfo=UTC)
    started_mini(db, org, bundle_copy, moment)
    result = CliRunner().invoke(cli, ["sweep", "--now", moment.isoformat(), "--dry-run"], obj=db)
    assert result.exit_code == 0, result.output
    assert re.search(r"будет объявлено новых задач — [1-9]", result.stdout)
    assert f"новая задача: {org.school} «Заполнить анкету» → {org.school_user}" in result.stdout
    assert arrivals_of(db, org.school_user) == []
    result = CliRunner().invoke(cli, ["sweep", "--now", moment.isoformat()], obj=db)
    assert f"новая задача: {org.school} «Заполнить анкету» → {org.school_user}" in result.stdout
    assert len(arrivals_of(db, org.school_user)) == 1


def region_of(db: Database, schools: int) -> tuple[Org, list[str]]:
    org = make_org(db)
    extra = [f"X{unique()}" for _ in range(schools - 3)]
    apply_org(db, OrgData(schools=[(code, f"Школа {code}", org.municipality) for code in extra]))
    return org, [org.school, org.sibling_school, org.foreign_school, *extra]


def test_a_cohort_start_is_one_notification_per_person(db: Database) -> None:
    moment = datetime(2001, 2, 5, 9, tzinfo=UTC)
    org, schools = region_of(db, 8)
    give_emails(db, org.regional)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    started = instances.start_cohort(at(db, moment), key, YEAR, region_code=org.region, chunk_size=3,
                                     actor=OPERATOR)
    assert len(started.started) == 8
    report = sweep(db, now=moment, base_url="https://roadmap.test")
    ours = [a for a in report.arrivals if a.school in schools]
    assert len(ours) == 8 and all(a.recipients == [org.regional] for a in ours)  # the region selects first
    [note] = arrivals_of(db, org.regional)  # one, not eight
    assert note.title == f"Новые задачи: 8 — {', '.join(sorted(schools)[:3])} и др."
    assert note.task_id is None and note.link == "https://roadmap.test/tasks"
    assert all(f"({code})" in note.body for code in schools)
    assert len([m for m in letters_to(db, org.regional) if m.dedupe_key.startswith("arrival:")]) == 1
    assert arrivals_of(db, org.municipal) == [] and arrivals_of(db, org.school_user) == []  # not theirs


def test_concurrent_sweeps_tell_each_arrival_exactly_once(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    moment = datetime(2001, 3, 5, 9, tzinfo=UTC)
    org, schools = region_of(pg_db, 12)
    give_emails(pg_db, org.regional)
    key = versions.deploy_template(pg_db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instances.start_cohort(at(pg_db, moment), key, YEAR, region_code=org.region, actor=OPERATOR)
    # Small batches, so that the two sweeps interleave on the same person's arrivals.
    monkeypatch.setattr(sweep_module, "ARRIVAL_BATCH", 2)
    reports: list[sweep_module.SweepReport] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        reports.append(sweep(pg_db, now=moment, batch_size=2))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    told = [a.task_id for report in reports for a in report.arrivals if a.school in schools]
    assert len(reports) == 2 and len(told) == len(set(told)) == 12  # every arrival once, between them
    notes = arrivals_of(pg_db, org.regional)
    counts = [1 if n.task_id else int(n.title.removeprefix("Новые задачи: ").split(" — ")[0]) for n in notes]
    assert sum(counts) == 12 and len(notes) <= 6  # batches of two: grouped within each
    letters = [m for m in letters_to(pg_db, org.regional) if m.dedupe_key.startswith("arrival:")]
    assert len(letters) == len(notes) and len({m.dedupe_key for m in letters}) == len(letters)


def test_one_failing_arrival_stays_one_failure(db: Database, org: Org, bundle_copy: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    moment = datetime(2001, 5, 28, 9, tzinfo=UTC)
    other = make_org(db)
    instance_id, broken = started_mini(db, org, bundle_copy, moment)
    _, fine = started_mini(db, other, bundle_copy, moment)
    real = announce

    def failing_for_one(session: Session, arrived: list[Arrived], **kwargs: Any) -> list[OutboxMessage]:
        if any(item.task.id == broken for item in arrived):
            raise RuntimeError("почтовый шаблон сломан")
        return real(session, arrived, **kwargs)

    monkeypatch.setattr(sweep_module, "announce", failing_for_one)
    report = sweep(db, now=moment)
    assert [n.task_id for n in arrivals_of(db, other.school_user)] == [fine]  # the rest of its batch went on
    assert arrivals_of(db, org.school_user) == []
    [failure] = [f for f in report.failures if f.instance_id == instance_id]
    assert failure.retry_at is not None and "почтовый шаблон сломан" in failure.error
    with db.reading() as session:
        incident = session.scalar(select(Incident).where(Incident.instance_id == instance_id))
    assert incident is not None and incident.trigger == "arrival"
    monkeypatch.setattr(sweep_module, "announce", real)
    sweep(db, now=failure.retry_at)  # the retry after the backoff: told once, the incident resolved
    assert [n.task_id for n in arrivals_of(db, org.school_user)] == [broken]
    with db.reading() as session:
        assert session.scalar(select(Incident.resolved_at).where(Incident.id == incident.id)) is not None


def test_an_rq_sweep_notifies_everyone_and_writes_letters_only_where_no_digest_covers_them(
        pg_db: Database, postgres_url: str, redis: Redis, bundle_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moment = datetime(2001, 6, 4, 9, tzinfo=UTC)
    org = make_org(pg_db)
    deputy, secretary = f"deputy-{unique()}", f"secretary-{unique()}"  # more people holding the school's role
    apply_org(pg_db, OrgData(users=[UserRow(deputy, "Завуч", f"{deputy}@example.test"),
                                    UserRow(secretary, "Секретарь")],  # no e-mail
                             grants=[GrantRow(deputy, Role.SCHOOL, org.school),
                                     GrantRow(secretary, Role.SCHOOL, org.school)]))
    give_emails(pg_db, org.school_user)
    with pg_db.transaction() as session:  # the director takes the daily digest
        session.execute(update(User).where(User.login == org.school_user).values(wants_digest=True))
    _, task_id = started_mini(pg_db, org, bundle_copy, moment)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.delenv("SMTP_HOST", raising=False)  # letters wait in the outbox
    job_id = RqJobQueue(redis).enqueue(jobs.sweep_deadlines, moment.isoformat())
    SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)
    result = Job.fetch(job_id, connection=redis).return_value()
    assert result["announced"] >= 1 and result["queued"] >= 1  # the deputy's letter handed to delivery

    for login in (org.school_user, deputy, secretary):
        assert [n.task_id for n in arrivals_of(pg_db, login)] == [task_id], login
    assert [m.subject for m in letters_to(pg_db, deputy)] == [arrivals_of(pg_db, deputy)[0].title]
    assert letters_to(pg_db, secretary) == []  # no address
    assert letters_to(pg_db, org.school_user) == []  # the digest covers it
    [digest] = [letter for i in queue_digests(pg_db, now=moment + timedelta(hours=20))
                if (letter := _letter(pg_db, i)).user_id == arrivals_of(pg_db, org.school_user)[0].user_id]
    assert f"• НОВАЯ: {org.school} — Заполнить анкету" in digest.body and "новых за сутки: 1" in digest.body
    with pg_db.reading() as session:
        assert session.scalar(select(Task.status).where(Task.id == task_id)) is TaskStatus.READY


def _letter(db: Database, outbox_id: int) -> OutboxMessage:
    with db.reading() as session:
        letter = session.get(OutboxMessage, outbox_id)
        assert letter is not None
        return letter
