"""Issue 21, target 5: dashboards read from a real PostgreSQL hot standby (``DATABASE_READ_URL``), writes stay on
the primary, and a user who wrote reads their own write even while the standby lags.

The standby is a second cluster on this machine (port 5433) made by ``scripts/replica.sh`` with
``pg_basebackup -R`` from the primary at 127.0.0.1:5432, streaming; it is removed at the end. Its lag is made
real with ``pg_wal_replay_pause()``, not simulated."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, select, text

from engine.actors import OPERATOR
from engine.db import Database, Replica
from engine.deadlines.sweep import sweep
from engine.org.areas import Area
from engine.process import instances, tasks
from engine.process.cohorts import ensure_cohort
from engine.reports import dashboards
from engine.reports.status import area_counts
from engine.templates import versions
from tests.conftest import Clock, Org, make_org
from tests.helpers import ROADMAP, csrf_token, signed_in, with_passwords
from web.app import create_app

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "replica.sh"
REPLICA_PORT = 5433


@pytest.fixture(scope="module")
def standby(postgres_url: str) -> Iterator[str]:
    """The URL of the test database on a streaming hot standby of the primary."""
    made = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, timeout=120,
                          env={"REPLICA_PORT": str(REPLICA_PORT), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    assert made.returncode == 0, f"scripts/replica.sh up failed:\n{made.stdout}\n{made.stderr}"
    yield postgres_url.replace(":5432/", f":{REPLICA_PORT}/")
    subprocess.run([str(SCRIPT), "down"], capture_output=True, timeout=60,
                   env={"REPLICA_PORT": str(REPLICA_PORT), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


@pytest.fixture
def replicated(postgres_url: str, standby: str) -> Iterator[Database]:
    db = Database.from_url(postgres_url, Clock(), read_url=standby)
    yield db
    _resume(db)
    assert db.replica is not None
    db.replica.engine.dispose()
    db.engine.dispose()


class Statements:
    """Every SQL statement each engine ran, to say which server answered what."""

    def __init__(self, db: Database) -> None:
        assert db.replica is not None
        self.on: dict[str, list[str]] = {"primary": [], "replica": []}
        self._engines: dict[str, Engine] = {"primary": db.engine, "replica": db.replica.engine}
        for name, engine in self._engines.items():
            event.listen(engine, "before_cursor_execute", self._recorder(name))

    def _recorder(self, name: str) -> object:
        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            self.on[name].append(statement)
        return record

    @contextmanager
    def during(self) -> Iterator[dict[str, list[str]]]:
        marks = {name: len(ran) for name, ran in self.on.items()}
        seen: dict[str, list[str]] = {}
        yield seen
        seen.update({name: ran[marks[name]:] for name, ran in self.on.items()})

    @staticmethod
    def ran(statements: list[str], fragment: str) -> bool:
        return any(fragment in statement for statement in statements)


def _caught_up(db: Database) -> None:
    assert db.replica is not None
    position = db.write_position()
    assert position is not None
    for _ in range(200):
        if db.replica.has_replayed(position):
            return
        time.sleep(0.05)
    raise AssertionError(f"the standby did not replay {position} in 10 s")


def _pause(db: Database) -> None:
    assert db.replica is not None
    with db.replica.engine.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_pause()"))


def _resume(db: Database) -> None:
    assert db.replica is not None
    with db.replica.engine.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_resume()"))


def _started(db: Database, org: Org) -> str:
    ensure_cohort(db, 2038)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    for code in (org.school, org.sibling_school, org.foreign_school):
        instances.start_instance(db, key, code, cohort_year=2038, actor=OPERATOR)
    return key


def test_dashboards_read_the_standby_and_writes_go_to_the_primary(replicated: Database) -> None:
    db = replicated
    statements = Statements(db)
    org = make_org(db)
    key = _started(db, org)
    _caught_up(db)
    region = Area(org.region, None, "область")

    with db.reading(replica=True) as session:  # the session really is on a server in recovery
        assert session.scalar(select(func.pg_is_in_recovery())) is True
    with db.reading() as session:
        assert session.scalar(select(func.pg_is_in_recovery())) is False

    with statements.during() as ran:
        heat = dashboards.heat_map(db, region, key, actor=org.regional)
        waiting = dashboards.waiting_at(db, region, key, "confirm_participation", actor=org.regional)
        _, units = area_counts(db, key)
        report = dashboards.matrix(db, key, Area(org.region, org.municipality, "район"), actor=org.municipal)
        area_tasks = tasks.area_task_page(db, actor=org.regional, region=org.region)
    assert heat["confirm_participation"] == len(waiting) == 3
    assert {task.school_code for task in area_tasks.tasks} == {org.school, org.sibling_school, org.foreign_school}
    assert any(unit.code == org.region for unit in units) and len(report.schools) == 2
    assert Statements.ran(ran["replica"], "count(distinct(task.instance_id))")  # the heat map
    assert Statements.ran(ran["replica"], "GROUP BY")  # the national counts
    assert not Statements.ran(ran["primary"], "FROM task")  # no task query reached the primary

    [selection] = [t for t in tasks.list_tasks(db, actor=org.regional) if t.school_code == org.school]
    with statements.during() as ran:
        tasks.complete_task(db, selection.id, {"participation": "confirmed", "curator_login": org.curator},
                            actor=org.regional)
        assert isinstance(db.clock, Clock)
        db.clock.advance(days=365 * 6)  # past the 2038 cohort: every deadline of the started roadmaps is due
        report_of_sweep = sweep(db, now=db.now())
    assert report_of_sweep.actions, "the sweep had deadlines to act on"
    assert ran["replica"] == []  # completions and the sweep never touch the standby
    assert Statements.ran(ran["primary"], "FOR UPDATE SKIP LOCKED")


def _complete_on_the_web(client: FlaskClient, task_id: int, data: dict[str, object]) -> None:
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    response = client.post(f"/tasks/{task_id}", data={"data": json.dumps(data), "csrf_token": csrf_token(page)})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_the_writer_reads_their_write_while_the_standby_lags(replicated: Database) -> None:
    db = replicated
    statements = Statements(db)
    org = make_org(db)
    with_passwords(db, org)
    key = _started(db, org)
    app = create_app({"DATABASE": db, "SECRET_KEY": "replica", "PROJECT_TEMPLATE": key})
    writer, other = signed_in(app, org.regional), signed_in(app, org.regional)  # two browsers of one user
    waiting = f"/dashboard/heatmap/schools?region={org.region}&element=confirm_participation"
    _caught_up(db)
    with statements.during() as ran:
        assert org.school in writer.get(waiting).get_data(as_text=True)
        assert org.school in other.get(waiting).get_data(as_text=True)
    assert Statements.ran(ran["replica"], "task.element_id =")
    assert not Statements.ran(ran["primary"], "task.element_id =")

    _pause(db)  # the standby stops replaying: from here it is behind the primary
    [selection] = [t for t in tasks.list_tasks(db, actor=org.regional) if t.school_code == org.school]
    _complete_on_the_web(writer, selection.id, {"participation": "confirmed", "curator_login": org.curator})
    with statements.during() as ran:
        assert org.school not in writer.get(waiting).get_data(as_text=True)  # their own write, from the primary
    assert Statements.ran(ran["primary"], "task.element_id =")
    assert not Statements.ran(ran["replica"], "task.element_id =")
    # The other browser wrote nothing: it still reads the standby, which really is behind.
    assert org.school in other.get(waiting).get_data(as_text=True)

    _resume(db)
    _caught_up(db)
    with statements.during() as ran:
        assert org.school not in writer.get(waiting).get_data(as_text=True)
        assert org.school not in other.get(waiting).get_data(as_text=True)
    assert not Statements.ran(ran["primary"], "task.element_id =")  # caught up: both back on the standby


def test_a_lagging_standby_is_left_alone_until_it_catches_up(replicated: Database,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    db = replicated
    assert db.replica is not None
    db.replica.max_lag, db.replica.check_every = 0.5, 0.0
    org = make_org(db)
    _caught_up(db)
    assert db.replica.healthy()
    _pause(db)
    make_org(db)  # a commit the standby does not replay
    time.sleep(1.0)
    with caplog.at_level(logging.WARNING, logger="roadmap.replica"):
        assert not db.replica.healthy()
        assert not db.replica.healthy()
        with db.reading(replica=True) as session:  # served, by the primary
            assert session.scalar(select(func.pg_is_in_recovery())) is False
    assert len([r for r in caplog.records if "отстаёт" in r.getMessage()]) == 1  # logged once, not per read
    _resume(db)
    _caught_up(db)
    assert db.replica.healthy()
    assert dashboards.overdue(db, Area(org.region, None, "область"), actor=org.regional) == {}


def test_a_dead_standby_costs_one_log_line_and_no_request(pg_db: Database, postgres_url: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    dead = postgres_url.replace(":5432/", ":5439/")  # nothing listens there
    db = Database(pg_db.engine, Clock(), replica=Replica.from_url(dead))
    assert db.replica is not None
    db.replica.check_every = 0.0  # ask on every read: still one line, on the change of state
    org = make_org(db)
    area = Area(org.region, None, "область")
    with caplog.at_level(logging.WARNING, logger="roadmap.replica"):
        for _ in range(3):
            assert dashboards.overdue(db, area, actor=org.regional) == {}
    assert len(caplog.records) == 1 and "недоступна" in caplog.records[0].getMessage()
    db.replica.engine.dispose()


def test_without_a_postgresql_primary_the_read_url_is_ignored(sqlite_url: str) -> None:
    db = Database.from_url(sqlite_url, read_url=f"postgresql+psycopg://postgres@127.0.0.1:{REPLICA_PORT}/x")
    assert db.replica is None
    with db.reading(replica=True) as session:
        assert session.scalar(select(func.count()).select_from(text("alembic_version"))) == 1
    db.engine.dispose()


def test_a_forged_or_odd_position_is_not_sent_to_the_server(replicated: Database) -> None:
    with replicated.read_your_writes("0/0'; SELECT 1; --") as marks:
        assert marks.after_lsn is None
    with replicated.read_your_writes("16/B374D848") as marks:
        assert marks.after_lsn == "16/B374D848"
