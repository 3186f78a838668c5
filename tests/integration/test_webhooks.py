"""Events and webhooks with real parts: events written in the step's transaction (PostgreSQL and SQLite), a
real HTTP receiver on loopback, real rq workers (in-process ``SimpleWorker`` and a killed worker process)."""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from engine.actors import OPERATOR
from engine.cli import cli
from engine.config import Settings
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.errors import FormInvalid, NotAllowed, NotFound
from engine.models import DeliveryStatus, Event, Webhook, WebhookDelivery
from engine.org.api_tokens import create_token
from engine.process import events, instances, tasks, webhooks
from engine.templates import versions
from tests.conftest import REDIS_URL, Clock, Org, make_org
from tests.helpers import post, problem, signed_in, with_passwords
from tests.receiver import Receiver, receiving
from web.app import create_app
from workers import jobs
from workers import queue as queue_module
from workers.cron import build_scheduler
from workers.inline import InlineSweeper
from workers.queue import QUEUE_NAME, RqJobQueue

SECRET = "s3cret-for-the-receiver-0123456789"


@pytest.fixture
def two_stages(bundle_copy: Path) -> Path:
    """The mini template with its review in a stage of its own, so a completion changes the stage."""
    manifest = bundle_copy / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        '{"key": "questionnaire", "title": "Анкетирование"}',
        '{"key": "questionnaire", "title": "Анкетирование"}, {"key": "review", "title": "Проверка"}'), encoding="utf-8")
    bpmn = bundle_copy / "mini.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(
        'roadmap:stage="questionnaire" roadmap:form="review"', 'roadmap:stage="review" roadmap:form="review"'),
        encoding="utf-8")
    return bundle_copy


def _events_of(db: Database, school: str, after: int) -> list[Event]:
    with db.reading() as session:
        rows = session.scalars(select(Event).where(Event.id > after).order_by(Event.id)).all()
        return [row for row in rows if row.payload.get("school", {}).get("code") == school]


def _last_event_id(db: Database) -> int:
    with db.reading() as session:
        return session.scalar(select(func.max(Event.id))) or 0


def _only_task(db: Database, login: str, instance_id: int) -> int:
    [task] = [t for t in tasks.list_tasks(db, actor=login) if t.instance_id == instance_id]
    return task.id


def test_every_event_type_is_written_with_its_step(db: Database, org: Org, two_stages: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(two_stages), actor=OPERATOR).key
    before = _last_event_id(db)
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    fill = _only_task(db, org.school_user, instance_id)
    started = _events_of(db, org.school, before)
    assert [(e.type, e.payload.get("stage")) for e in started] == [
        ("stage.changed", "questionnaire"), ("task.ready", None)]
    assert started[1].payload["task"]["id"] == fill and started[1].payload["instance_id"] == instance_id
    assert started[0].payload["previous_stage"] is None

    tasks.complete_task(db, fill, {"coverage": 40}, actor=org.school_user)
    review = _only_task(db, org.curator, instance_id)
    sweep(db, now=db.now() + timedelta(days=120))  # its due time and every escalation step pass
    tasks.complete_task(db, review, {"decision": "accepted"}, actor=org.curator)
    later = _events_of(db, org.school, started[-1].id)
    types = [e.type for e in later]
    assert types[:3] == ["task.completed", "stage.changed", "task.ready"]
    assert later[0].payload["task"]["id"] == fill and later[0].payload["completed_by"] == org.school_user
    assert (later[1].payload["previous_stage"], later[1].payload["stage"]) == ("questionnaire", "review")
    assert later[2].payload["task"] == {**later[2].payload["task"], "id": review, "stage": "review", "role": "curator"}
    late = [e for e in later if e.type in ("task.overdue", "task.escalated")]
    assert [(e.type, e.payload.get("level")) for e in late] == [
        ("task.overdue", None), ("task.escalated", 1), ("task.escalated", 2), ("task.escalated", 3)]
    assert {e.payload["task"]["id"] for e in late} == {review}
    assert types[-2:] == ["task.completed", "instance.completed"]
    assert {e.type for e in started + later} == set(events.TYPES)
    assert len({e.uid for e in started + later}) == len(started + later)  # each its own stable id


def test_a_step_writes_its_events_in_one_insert(db: Database, org: Org, two_stages: Path) -> None:
    """Events ride with the step's other write-only rows: one INSERT of the event table per step, whatever
    number of events (a completion here writes three: completed, stage changed, the next task ready)."""
    key = versions.deploy_template(db, versions.read_bundle(two_stages), actor=OPERATOR).key
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # A statement of its own, or (PostgreSQL) a CTE of the completion's one write statement.
        inserts.extend([statement] * statement.upper().count("INSERT INTO EVENT "))

    sqlalchemy_event.listen(db.engine, "before_cursor_execute", count)
    try:
        instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
        assert len(inserts) == 1  # stage.changed and task.ready
        before = _last_event_id(db)
        tasks.complete_task(db, _only_task(db, org.school_user, instance_id), {"coverage": 40}, actor=org.school_user)
    finally:
        sqlalchemy_event.remove(db.engine, "before_cursor_execute", count)
    assert len(inserts) == 2 and len(_events_of(db, org.school, before)) == 3


def test_a_rolled_back_completion_writes_no_event(db: Database, org: Org, bundle_copy: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    fill = _only_task(db, org.school_user, instance_id)
    before = _last_event_id(db)
    # The step's last write: one INSERT per table (SQLite), or the one statement with CTEs (PostgreSQL).
    last_writes = {name: getattr(tasks, name) for name in ("insert_pending", "write_together")}

    def write_then_fail(name: str) -> Any:
        def wrapped(session: Any, *args: Any) -> None:
            last_writes[name](session, *args)  # the event rows reach the database inside the transaction …
            raise RuntimeError("the process dies after the writes")  # … which then rolls back
        return wrapped

    for name in last_writes:
        monkeypatch.setattr(tasks, name, write_then_fail(name))
    with pytest.raises(RuntimeError):
        tasks.complete_task(db, fill, {"coverage": 40}, actor=org.school_user)
    assert _events_of(db, org.school, before) == []
    for name, real in last_writes.items():
        monkeypatch.setattr(tasks, name, real)
    tasks.complete_task(db, fill, {"coverage": 40}, actor=org.school_user)
    assert [e.type for e in _events_of(db, org.school, before)] == ["task.completed", "task.ready"]


# --- delivery through rq -------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))  # the real time: a worker process (with the real clock) shares its rows


@pytest.fixture
def worker_db(pg_db: Database, postgres_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The in-process rq worker's database is the test's, with the test's clock; its settings the environment's."""
    clocked = Database(pg_db.engine, clock=clock, sessions=pg_db.sessions)
    monkeypatch.setitem(queue_module._databases, (postgres_url, os.getpid()), clocked)  # noqa: SLF001 - the seam
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("WEBHOOK_BLOCK_PRIVATE", "0")  # the receiver is on loopback
    monkeypatch.setenv("WEBHOOK_TIMEOUT", "5")
    monkeypatch.setenv("WEBHOOK_LEASE", "60")
    return clocked


@pytest.fixture
def subscribers(worker_db: Database) -> Iterator[list[int]]:
    """Webhooks the test creates, deleted at its end: the shared database's later events are not sent to them."""
    created: list[int] = []
    yield created
    for webhook_id in created:
        with contextlib.suppress(NotFound):  # the test deleted it itself
            webhooks.delete_webhook(worker_db, webhook_id, actor=OPERATOR)


def _subscribe(db: Database, receiver: Receiver, created: list[int], types: list[str]) -> int:
    view, _ = webhooks.create_webhook(db, receiver.url, types, secret=SECRET, actor=OPERATOR, block_private=False)
    created.append(view.id)
    return view.id


def _run_cron(redis: Redis) -> None:
    """What `rq cron` does every minute, and a worker taking it and the delivery jobs it queues."""
    RqJobQueue(redis).enqueue(jobs.dispatch_webhooks)
    SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)


def _deliveries(db: Database, webhook_id: int) -> list[WebhookDelivery]:
    with db.reading() as session:
        return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
                                    .order_by(WebhookDelivery.id)))


def _started(db: Database, org: Org, bundle: Path) -> tuple[int, int]:
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    return instance_id, _only_task(db, org.school_user, instance_id)


def test_each_event_is_posted_once_signed(worker_db: Database, subscribers: list[int], bundle_copy: Path,
                                          redis: Redis) -> None:
    org = make_org(worker_db)
    with receiving() as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, ["task.ready", "task.completed", "stage.changed"])
        instance_id, fill = _started(worker_db, org, bundle_copy)
        tasks.complete_task(worker_db, fill, {"coverage": 40}, actor=org.school_user)
        _run_cron(redis)
        _run_cron(redis)  # the next minute: nothing again
    got = [r for r in receiver.acknowledged if r.json["data"]["school"]["code"] == org.school]
    assert [r.json["type"] for r in got] == ["stage.changed", "task.ready", "task.completed", "task.ready"]
    for request in got:
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, "sha256").hexdigest()
        assert hmac.compare_digest(request.headers["x-roadmap-signature"], expected)
        assert request.headers["x-roadmap-event-id"] == request.json["id"]
        assert request.headers["x-roadmap-event"] == request.json["type"]
        assert request.headers["content-type"] == "application/json"
    assert got[1].json["data"]["instance_id"] == instance_id and got[2].json["data"]["task"]["id"] == fill
    assert len(receiver.requests) == len(receiver.acknowledged)
    rows = _deliveries(worker_db, webhook_id)
    assert [(d.status, d.attempts) for d in rows] == [(DeliveryStatus.DELIVERED, 1)] * len(rows)
    assert rows[0].attempt_log[0]["status"] == 200 and rows[0].attempt_log[0]["duration_ms"] >= 0


def test_a_500_is_retried_after_a_minute_then_delivered(worker_db: Database, subscribers: list[int], clock: Clock,
                                                        bundle_copy: Path, redis: Redis) -> None:
    org = make_org(worker_db)
    with receiving(answers=[500]) as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, ["task.ready"])
        _started(worker_db, org, bundle_copy)
        _run_cron(redis)
        [delivery] = _deliveries(worker_db, webhook_id)
        assert (delivery.status, delivery.attempts, delivery.last_status) == (DeliveryStatus.PENDING, 1, 500)
        assert delivery.next_attempt_at == clock.now + timedelta(minutes=1)
        _run_cron(redis)  # not due yet: nothing sent
        assert len(receiver.requests) == 1
        clock.advance(minutes=1)
        _run_cron(redis)
    [delivery] = _deliveries(worker_db, webhook_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert [(a["status"], a["error"]) for a in delivery.attempt_log] == [(500, "ответ 500"), (200, None)]
    assert [r.status for r in receiver.requests] == [500, 200]
    assert receiver.requests[0].body == receiver.requests[1].body  # the same event, byte for byte


def test_dead_after_twelve_attempts_then_an_admin_redelivers(worker_db: Database, subscribers: list[int],
                                                             clock: Clock, bundle_copy: Path, redis: Redis) -> None:
    org = make_org(worker_db)
    with receiving(default=503) as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, ["task.ready"])
        _started(worker_db, org, bundle_copy)
        delays = []
        for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
            _run_cron(redis)
            [delivery] = _deliveries(worker_db, webhook_id)
            assert delivery.attempts == attempt
            if delivery.status is DeliveryStatus.PENDING:
                delays.append(delivery.next_attempt_at - clock.now)
                clock.now = delivery.next_attempt_at
        assert delivery.status is DeliveryStatus.DEAD and len(receiver.requests) == webhooks.MAX_ATTEMPTS
        assert [d // timedelta(minutes=1) for d in delays] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
        clock.advance(days=1)
        _run_cron(redis)  # dead stays dead
        assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
        [dead] = webhooks.list_deliveries(worker_db, actor=OPERATOR, webhook_id=webhook_id, status="dead")
        assert len(dead.attempt_log) == webhooks.MAX_ATTEMPTS and dead.last_error == "ответ 503"
        receiver.default = 200
        webhooks.redeliver(worker_db, dead.id, actor=OPERATOR)
        _run_cron(redis)
    [delivery] = _deliveries(worker_db, webhook_id)
    assert delivery.status is DeliveryStatus.DELIVERED and len(delivery.attempt_log) == webhooks.MAX_ATTEMPTS + 1


def test_a_worker_killed_mid_delivery_then_it_completes_once_after_the_lease(
        worker_db: Database, subscribers: list[int], clock: Clock, postgres_url: str, bundle_copy: Path,
        redis: Redis) -> None:
    org = make_org(worker_db)
    with receiving(hold=True) as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, ["task.ready"])
        _started(worker_db, org, bundle_copy)
        [delivery_id] = webhooks.dispatch_events(worker_db).delivery_ids
        RqJobQueue(redis).enqueue(jobs.deliver_webhook, delivery_id)
        env = {**os.environ, "DATABASE_URL": postgres_url, "REDIS_URL": REDIS_URL}
        worker = subprocess.Popen([sys.executable, "-c", "from web.cli import cli; cli()", "worker", "--burst"],
                                  env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        assert receiver.arrived.wait(60), "the worker never posted"
        # The worker and its work horse (rq puts the horse in a process group of its own), waiting for the answer.
        horses = _children(worker.pid)
        assert horses, "the worker runs its job in a forked work horse"
        for pid in (*horses, worker.pid):
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=30)
        receiver.release()
        [held] = _deliveries(worker_db, webhook_id)
        assert (held.status, held.attempts) == (DeliveryStatus.SENDING, 1)
        assert webhooks.due_deliveries(worker_db) == [] or delivery_id not in webhooks.due_deliveries(worker_db)
        _run_cron(redis)  # the lease holds: nobody sends it meanwhile
        assert len(receiver.requests) == 1
        clock.now = datetime.now(UTC) + timedelta(seconds=61)  # the lease (60 s) has run out
        _run_cron(redis)
        _run_cron(redis)
    [done] = _deliveries(worker_db, webhook_id)
    assert (done.status, done.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert [r.json["id"] for r in receiver.acknowledged] == [receiver.requests[0].json["id"]]
    assert len(receiver.requests) == 2  # the killed try and the one that completed, with the same event id
    assert len({r.headers["x-roadmap-event-id"] for r in receiver.requests}) == 1


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_fan_out_goes_batch_by_batch_and_never_twice(worker_db: Database, subscribers: list[int],
                                                         bundle_copy: Path) -> None:
    org = make_org(worker_db)
    while webhooks.dispatch_events(worker_db).events:  # what other tests left goes to nobody here
        pass
    with receiving() as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, list(events.TYPES))
        _, fill = _started(worker_db, org, bundle_copy)
        tasks.complete_task(worker_db, fill, {"coverage": 40}, actor=org.school_user)
    rounds = []
    while (dispatched := webhooks.dispatch_events(worker_db, limit=2)).events:
        rounds.append((dispatched.events, len(dispatched.delivery_ids)))
    assert rounds == [(2, 2), (2, 2)]  # stage.changed, task.ready; task.completed, task.ready
    assert len(_deliveries(worker_db, webhook_id)) == 4
    assert webhooks.dispatch_events(worker_db) == webhooks.Dispatched(0, [])


def test_private_addresses_are_refused_when_blocked(worker_db: Database, subscribers: list[int],
                                                    bundle_copy: Path) -> None:
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x",
                "http://169.254.169.254/latest", "http://192.168.0.1/"):
        with pytest.raises(FormInvalid) as refused:
            webhooks.create_webhook(worker_db, url, ["task.ready"], actor=OPERATOR, block_private=True)
        assert "url" in refused.value.errors
    org = make_org(worker_db)
    with receiving() as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, ["task.ready"])  # saved while allowed
        _started(worker_db, org, bundle_copy)
        [delivery_id] = webhooks.dispatch_events(worker_db).delivery_ids
        sent = webhooks.deliver(worker_db, delivery_id, webhooks.DeliverySettings(block_private=True))
    assert not sent and receiver.requests == []  # refused at the try too, before any connection
    [delivery] = _deliveries(worker_db, webhook_id)
    assert delivery.status is DeliveryStatus.PENDING and "внутренней сети" in (delivery.last_error or "")


def test_only_admins_keep_subscribers_and_bad_input_is_refused(worker_db: Database, subscribers: list[int]) -> None:
    org = make_org(worker_db)
    with pytest.raises(NotAllowed):
        webhooks.create_webhook(worker_db, "https://example.org/h", ["task.ready"], actor=org.regional)
    with pytest.raises(FormInvalid) as refused:
        webhooks.create_webhook(worker_db, "ftp://example.org/h", ["task.nope"], secret="short", actor=org.admin)
    assert set(refused.value.errors) == {"url", "event_types", "secret"}
    view, secret = webhooks.create_webhook(worker_db, "https://example.org/h", ["task.ready"], actor=org.admin)
    subscribers.append(view.id)
    assert len(secret) >= 32 and view.secret_hint == secret[-4:]
    changed = webhooks.update_webhook(worker_db, view.id, active=False, event_types=["task.overdue"], actor=org.admin)
    assert (changed.active, changed.event_types) == (False, ["task.overdue"])
    assert view.id in [w.id for w in webhooks.list_webhooks(worker_db, actor=org.admin)]


def test_a_test_event_goes_to_one_subscriber_and_old_events_are_pruned(
        worker_db: Database, subscribers: list[int], clock: Clock, redis: Redis) -> None:
    with receiving() as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, ["task.ready"])
        delivery_id = webhooks.send_test_event(worker_db, webhook_id, actor=OPERATOR)
        RqJobQueue(redis).enqueue(jobs.deliver_webhook, delivery_id)
        SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)
    [got] = receiver.acknowledged
    assert got.json["type"] == "webhook.test" and got.json["data"]["webhook_id"] == webhook_id
    clock.advance(days=31)
    assert webhooks.prune(worker_db) >= 1
    assert _deliveries(worker_db, webhook_id) == []
    with worker_db.reading() as session:
        assert session.scalar(select(Webhook.id).where(Webhook.id == webhook_id)) == webhook_id


def test_the_body_is_the_event_as_json() -> None:
    event = Event(uid="e-1", type="task.ready", created_at=datetime(2030, 1, 1, tzinfo=UTC),
                  payload={"school": {"code": "S", "name": "Школа"}})
    body = webhooks.body_of(event)
    assert json.loads(body) == {"id": "e-1", "type": "task.ready", "created_at": "2030-01-01T00:00:00+00:00",
                                "data": {"school": {"code": "S", "name": "Школа"}}}
    assert "Школа" in body.decode()  # UTF-8 as it is, not \\u escapes


# --- the API, the CLI and the admin page: the same services ---------------------------------------------------


def _api(app: Flask, token: str, method: str, url: str, **kwargs: Any) -> TestResponse:
    return app.test_client().open(f"/api/v1{url}", method=method, headers={"Authorization": f"Bearer {token}"},
                                  **kwargs)


def _work(redis: Redis) -> None:
    SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)


def test_the_api_keeps_subscribers_and_shows_deliveries(worker_db: Database, subscribers: list[int],
                                                        redis: Redis) -> None:
    org = make_org(worker_db)
    admin, regional = (create_token(worker_db, "hooks", actor=login)[1] for login in (org.admin, org.regional))
    app = create_app({"DATABASE": worker_db, "TESTING": True, "SECRET_KEY": "hooks"}, queue=RqJobQueue(redis))
    with receiving() as receiver:
        body = {"url": receiver.url, "event_types": ["task.ready", "task.completed"], "secret": SECRET}
        problem(_api(app, regional, "POST", "/webhooks", json=body), 403)
        refused = problem(_api(app, admin, "POST", "/webhooks", json={**body, "url": "ftp://x"}), 422)
        assert "url" in refused["errors"]
        created = _api(app, admin, "POST", "/webhooks", json=body)
        assert created.status_code == 201 and created.json is not None
        webhook_id = created.json["id"]
        subscribers.append(webhook_id)
        assert created.json["secret"] == SECRET and created.json["secret_hint"] == SECRET[-4:]
        listed = _api(app, admin, "GET", "/webhooks").json
        assert listed is not None and [w for w in listed if w["id"] == webhook_id][0].get("secret") is None
        paused = _api(app, admin, "PATCH", f"/webhooks/{webhook_id}", json={"active": False}).json
        assert paused is not None and paused["active"] is False
        _api(app, admin, "PATCH", f"/webhooks/{webhook_id}", json={"active": True})
        queued = _api(app, admin, "POST", f"/webhooks/{webhook_id}/test")
        assert queued.status_code == 202 and queued.json is not None
        _work(redis)
        assert [r.json["type"] for r in receiver.acknowledged] == ["webhook.test"]
        delivery_id = queued.json["delivery_id"]
        again = _api(app, admin, "POST", f"/webhooks/deliveries/{delivery_id}/redeliver")
        assert again.status_code == 202
        _work(redis)
        [shown] = _api(app, admin, "GET", f"/webhooks/deliveries?webhook={webhook_id}").json or []
        assert (shown["id"], shown["status"], shown["event_type"]) == (delivery_id, "delivered", "webhook.test")
        assert [a["status"] for a in shown["attempt_log"]] == [200, 200]
        assert shown["event_id"] == receiver.acknowledged[0].headers["x-roadmap-event-id"]
    assert _api(app, admin, "DELETE", f"/webhooks/{webhook_id}").status_code == 204
    problem(_api(app, admin, "GET", f"/webhooks/{webhook_id}"), 404)


def test_the_cli_adds_lists_and_removes_subscribers(worker_db: Database) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["webhooks", *args], obj=worker_db)
        assert result.exit_code == 0, result.output
        return result.output

    added = run("add", "https://example.org/roadmap", "--event", "task.ready", "--event", "stage.changed",
                "--description", "портал")
    webhook_id = int(added.split()[1])
    assert "Секрет" in added
    assert f"#{webhook_id} https://example.org/roadmap [task.ready, stage.changed] включена" in run("list")
    delivery_id = webhooks.send_test_event(worker_db, webhook_id, actor=OPERATOR)
    assert f"#{delivery_id} подписка {webhook_id} webhook.test" in run("deliveries", "--webhook", str(webhook_id))
    assert "снова ждёт отправки" in run("redeliver", str(delivery_id))
    assert "удалена" in run("remove", str(webhook_id))
    refused = runner.invoke(cli, ["webhooks", "add", "ftp://example.org/x", "--event", "task.ready"], obj=worker_db)
    assert refused.exit_code == 1 and "url: адрес вида https://сервер/путь" in refused.output


def test_the_admin_page_creates_tests_and_deletes_a_subscriber(worker_db: Database, subscribers: list[int],
                                                               redis: Redis) -> None:
    org = make_org(worker_db)
    with_passwords(worker_db, org)
    app = create_app({"DATABASE": worker_db, "TESTING": True, "SECRET_KEY": "hooks-page"}, queue=RqJobQueue(redis))
    school = signed_in(app, org.school_user)
    assert school.get("/admin/webhooks").status_code == 403
    admin = signed_in(app, org.admin)
    with receiving() as receiver:
        status, _ = post(admin, "/admin/webhooks", {"url": receiver.url, "event_types": ["task.ready"],
                                                    "description": "Региональная система", "active": "1"},
                         "/admin/webhooks")
        assert status == 302
        [view] = [w for w in webhooks.list_webhooks(worker_db, actor=org.admin) if w.url == receiver.url]
        subscribers.append(view.id)
        page = admin.get(f"/admin/webhooks/{view.id}").get_data(as_text=True)
        assert "Секрет для проверки подписи" in page and "Региональная система" in page
        status, _ = post(admin, f"/admin/webhooks/{view.id}/test", {}, f"/admin/webhooks/{view.id}")
        _work(redis)
        assert status == 302 and [r.json["type"] for r in receiver.acknowledged] == ["webhook.test"]
    page = admin.get(f"/admin/webhooks/{view.id}").get_data(as_text=True)
    assert 'data-status="delivered"' in page
    status, body = post(admin, "/admin/webhooks", {"url": "nonsense", "event_types": []}, "/admin/webhooks")
    assert status == 200 and "адрес вида https://сервер/путь" in body
    status, _ = post(admin, f"/admin/webhooks/{view.id}/delete", {}, f"/admin/webhooks/{view.id}")
    assert status == 302 and view.id not in [w.id for w in webhooks.list_webhooks(worker_db, actor=org.admin)]


def test_cron_fans_events_out_every_minute_and_prunes_daily(redis: Redis) -> None:
    registered = {job.name: (job.interval, job.cron) for job in build_scheduler(redis).get_jobs()}
    assert registered["workers.jobs.dispatch_webhooks"] == (60, None)
    assert registered["workers.jobs.prune_events"] == (None, "30 0 * * *")


def test_without_redis_the_server_thread_fans_out_and_delivers(worker_db: Database, subscribers: list[int],
                                                               bundle_copy: Path) -> None:
    org = make_org(worker_db)
    with receiving() as receiver:
        webhook_id = _subscribe(worker_db, receiver, subscribers, ["task.ready"])
        _started(worker_db, org, bundle_copy)
        InlineSweeper(worker_db, Settings.from_env()).deliver_webhooks()
    got = [r.json for r in receiver.acknowledged if r.json["data"]["school"]["code"] == org.school]
    assert [e["type"] for e in got] == ["task.ready"]
    assert [d.status for d in _deliveries(worker_db, webhook_id)] == [DeliveryStatus.DELIVERED]
