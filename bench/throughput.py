"""Engine throughput: whole lifecycles of a six-user-task template, completed through the engine services
on PostgreSQL, against the same BPMN run by raw SpiffWorkflow in memory — in the same run, as task
completions per second and their ratio (the benchmark issue's target: at least 0.5×).

Counted, per repetition (medians over ``--repeat``; the variants take turns, so they share the noise):

- raw SpiffWorkflow: create the workflow, run it, complete the six tasks, in memory, no storage, no checks;
  also with SpiffWorkflow's own serializer round trip (dump + restore) after every step;
- the engine: ``start_instance`` for each lifecycle (timed apart), then every task completed through
  ``complete_task`` (authorization, form and rules, row lock, restore/store, task mirror, deadline rows,
  audit, one committed transaction each) — the inbox queries that find the tasks are inside the timing;
- the engine again with the live-workflow cache off, with ``synchronous_commit = off`` (commits do not
  wait for the WAL flush; a diagnostic of what the disk costs, not a production setting), and with the
  lifecycles shared among four threads (four web workers: the system's throughput, not one client's);
- the engine in two processes (``--processes``; each its own lifecycles and connections), beside raw
  SpiffWorkflow in as many processes: what the two cores do together, as gunicorn's workers would;
- the durable minimum: raw SpiffWorkflow plus its own serializer and one ``UPDATE … ; COMMIT`` of the
  workflow's JSON per completion through psycopg — no checks, no task rows, no audit: the ceiling of any
  engine that stores each completion before answering;
- what each writes to the WAL per completion (bytes, and records by kind where pg_walinspect is there): the
  database's share of the work, the same on any machine, where the clock of a shared one is not;
- the floor: a bare round trip (``SELECT 1``), a read-only commit, and a one-row INSERT + COMMIT (the WAL
  flush every durable completion waits for).

    python bench/throughput.py [--lifecycles 100] [--repeat 3] [--processes 2]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import os
import pstats
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, text

from bench.sweep_scaling import fresh_database
from engine.actors import OPERATOR
from engine.db import Database
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process import instances, live_workflows, tasks
from engine.roles import Role
from engine.templates import versions

BUNDLE = Path(__file__).resolve().parent / "bundles" / "six"
STEPS = 6
DATA = {"note": "готово"}


#: CPU seconds per completion by variant, one entry per run: this process's own, and PostgreSQL's backends'
#: (read from /proc: the server runs on this machine). Unlike the wall clock, CPU does not count the time
#: spent waiting for a core on a shared machine, nor the WAL flush: it is the work a completion costs.
CPU: dict[str, list[tuple[float, float]]] = defaultdict(list)
TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(conn: Any, database: str) -> float:
    """CPU seconds so far of every PostgreSQL backend connected to ``database`` (``conn`` is one of them)."""
    total = 0.0
    for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return total


def raw_spiff(lifecycles: int, serialize: bool = False) -> tuple[float, float]:
    """(completions/s, lifecycles/s including creating the workflow) with SpiffWorkflow alone, in memory."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BUNDLE / "six.bpmn"))
    spec, subprocesses = parser.get_spec("six"), parser.get_subprocess_specs("six")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    begin = time.perf_counter()
    for _ in range(lifecycles):
        workflow = BpmnWorkflow(spec, subprocesses)
        workflow.do_engine_steps()
        while not workflow.is_completed():
            if serialize:
                workflow = serializer.deserialize_json(serializer.serialize_json(workflow))
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(DATA)
            task.run()
            workflow.do_engine_steps()
    elapsed = time.perf_counter() - begin
    return lifecycles * STEPS / elapsed, lifecycles / elapsed


def durable_minimum(url: str, lifecycles: int) -> tuple[float, float]:
    """``raw_spiff`` storing the workflow after every step, the least any durable engine must do: the
    serializer's JSON written by one UPDATE and committed (psycopg, no ORM), one row per lifecycle."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BUNDLE / "six.bpmn"))
    spec, subprocesses = parser.get_spec("six"), parser.get_subprocess_specs("six")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_state (id serial PRIMARY KEY, state text, version int)")
        conn.commit()
        starting = completing = own = theirs = 0.0
        for _ in range(lifecycles):
            begin = time.perf_counter()
            workflow = BpmnWorkflow(spec, subprocesses)
            workflow.do_engine_steps()
            row = conn.execute("INSERT INTO bench_state (state, version) VALUES (%s, 1) RETURNING id",
                               (serializer.serialize_json(workflow),)).fetchone()
            conn.commit()
            middle = time.perf_counter()
            cpu, server = time.process_time(), backend_cpu(conn, conn.info.dbname)
            _complete_storing(conn, serializer, workflow, row[0])
            starting, completing = starting + middle - begin, completing + time.perf_counter() - middle
            own, theirs = own + time.process_time() - cpu, theirs + backend_cpu(conn, conn.info.dbname) - server
        CPU["durable minimum"].append((own / (lifecycles * STEPS), theirs / (lifecycles * STEPS)))
        # Its WAL per completion: one more lifecycle in the last one's row, apart from the clock.
        workflow = BpmnWorkflow(spec, subprocesses)
        workflow.do_engine_steps()
        with Wal(conn) as wal:
            _complete_storing(conn, serializer, workflow, row[0])
        WAL["durable minimum"] = wal.per(STEPS)
    return lifecycles * STEPS / completing, lifecycles / (starting + completing)


def _complete_storing(conn: Any, serializer: BpmnWorkflowSerializer, workflow: BpmnWorkflow, row_id: int) -> None:
    """The durable minimum's completions: each step, then its JSON stored by one UPDATE and committed."""
    while not workflow.is_completed():
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(DATA)
        task.run()
        workflow.do_engine_steps()
        conn.execute("UPDATE bench_state SET state = %s, version = version + 1 WHERE id = %s",
                     (serializer.serialize_json(workflow), row_id))
        conn.commit()


#: WAL written per completion by variant: (bytes, records by kind). What PostgreSQL must log (and, on a
#: replica, replay) for a completion: the same on any machine, unlike its clock, so a change to the rows and
#: indexes a step writes shows here exactly.
WAL: dict[str, tuple[float, dict[str, float]]] = {}


class Wal:
    """WAL bytes (from the insert position) and records by kind (pg_walinspect, when the server has it)
    written while entered. This machine's server runs nothing else (autovacuum is off), so the whole
    cluster's WAL is the measured work's."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.begin = self.end = ""
        self.records: dict[str, int] = {}

    def _position(self) -> str:
        position = self.conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
        self.conn.commit()
        return str(position)

    def __enter__(self) -> Wal:
        self.begin = self._position()
        return self

    def __exit__(self, *_: Any) -> None:
        self.end = self._position()
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            rows = self.conn.execute('SELECT "resource_manager/record_type", count FROM '
                                     "pg_get_wal_stats(%s::pg_lsn, %s::pg_lsn, true) WHERE count > 0",
                                     (self.begin, self.end)).fetchall()
            self.records = {kind: count for kind, count in rows}
            self.conn.commit()
        except psycopg.Error:  # no pg_walinspect (PostgreSQL before 15, or not a superuser): bytes only
            self.conn.rollback()

    def per(self, completions: int) -> tuple[float, dict[str, float]]:
        size = self.conn.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (self.end, self.begin)).fetchone()[0]
        self.conn.commit()
        return float(size) / completions, {kind: count / completions for kind, count in self.records.items()}


def engine(db: Database, lifecycles: int, key: str, cpu_as: str | None = None) -> tuple[float, float]:
    """(completions/s, lifecycles/s including start_instance) through the engine on PostgreSQL; with
    ``cpu_as``, the CPU of the completions (this process's and PostgreSQL's) is kept under that name."""
    begin = time.perf_counter()
    started = {instances.start_instance(db, key, f"B{i % 50}", actor=OPERATOR).instance_id for i in range(lifecycles)}
    starting = time.perf_counter() - begin
    with db.engine.connect() as probe:
        raw = probe.connection.driver_connection
        assert raw is not None
        database = raw.info.dbname
        cpu, server = time.process_time(), backend_cpu(raw, database)
    begin = time.perf_counter()
    completions = 0
    for _ in range(STEPS):
        for login in ("bench-school", "bench-curator"):
            for task in tasks.list_tasks(db, limit=100_000, actor=login):
                if task.instance_id in started:
                    tasks.complete_task(db, task.id, DATA, actor=login)
                    completions += 1
    completing = time.perf_counter() - begin
    with db.engine.connect() as probe:
        raw = probe.connection.driver_connection
        assert raw is not None
        own, theirs = time.process_time() - cpu, backend_cpu(raw, database) - server
    if cpu_as:
        CPU[cpu_as].append((own / completions, theirs / completions))
    assert completions == lifecycles * STEPS, completions
    return completions / completing, lifecycles / (starting + completing)


def concurrent(db: Database, lifecycles: int, key: str, workers: int = 4) -> tuple[float, float]:
    """``engine`` with the lifecycles shared among ``workers`` threads (one web worker each): while one
    waits for PostgreSQL, another runs, and concurrent commits share a WAL flush."""
    results: list[tuple[float, float]] = []
    threads = [threading.Thread(target=lambda: results.append(engine(db, lifecycles // workers, key)))
               for _ in range(workers)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - begin
    assert len(results) == workers
    done = lifecycles // workers * workers
    return done * STEPS / elapsed, done / elapsed


def _in_process(job: tuple[str, str, int, str]) -> tuple[float, float]:
    kind, url, lifecycles, key = job
    if kind == "raw":
        return raw_spiff(lifecycles)
    db = Database.from_url(url)
    try:
        return engine(db, lifecycles, key)
    finally:
        db.engine.dispose()


def processes(kind: str, db: Database, lifecycles: int, key: str, count: int) -> tuple[float, float]:
    """``count`` processes, each running ``lifecycles // count`` lifecycles of ``kind`` (raw or engine) at
    once: completions and lifecycles per second of all of them together, from the wall clock."""
    url = db.engine.url.render_as_string(hide_password=False)
    share = lifecycles // count
    with multiprocessing.get_context("spawn").Pool(count) as pool:
        pool.map(_in_process, [("raw", url, 1, key)] * count)  # the imports, outside the clock
        begin = time.perf_counter()
        pool.map(_in_process, [(kind, url, share, key)] * count)
        elapsed = time.perf_counter() - begin
    return count * share * STEPS / elapsed, count * share / elapsed


def without_cache(db: Database, lifecycles: int, key: str) -> tuple[float, float]:
    live = live_workflows.of(db)
    size, live.size = live.size, 0
    live.clear()
    try:
        return engine(db, lifecycles, key)
    finally:
        live.size = size


def floor(db: Database, samples: int = 300) -> dict[str, float]:
    """Median milliseconds of a bare round trip, a read-only commit and a durable one-row write."""
    with db.engine.connect() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_floor (id serial PRIMARY KEY, v int)"))
        conn.commit()
        probes: dict[str, Callable[[], Any]] = {
            "round trip": lambda: conn.execute(text("SELECT 1")).all(),
            "read commit": lambda: (conn.execute(text("SELECT 1")).all(), conn.commit()),
            "write commit": lambda: (conn.execute(text("INSERT INTO bench_floor (v) VALUES (1)")), conn.commit()),
        }
        result = {}
        for name, probe in probes.items():
            times = []
            for _ in range(samples):
                begin = time.perf_counter()
                probe()
                times.append(time.perf_counter() - begin)
            result[name] = statistics.median(times) * 1000
        return result


class Counter:
    """SQL statements and round trips on ``db``'s engine while it is entered: every cursor execute is a
    statement (an executemany counts once: psycopg pipelines its parameter sets), and a round trip is a
    statement, a BEGIN/COMMIT/ROLLBACK, or the liveness ping of a pool check-out (only after a rest:
    engine/db.py ``PING_AFTER_IDLE``)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self.statements = self.transactions = self.checkouts = self.pings = 0
        self.texts: dict[str, int] = defaultdict(int)
        self._ping = self.engine.dialect.do_ping

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements += 1
        self.texts[" ".join(statement.split())[:90]] += 1

    def _transaction(self, *_: Any) -> None:
        self.transactions += 1

    def _checkout(self, *_: Any) -> None:
        self.checkouts += 1

    def _pinging(self, dbapi_connection: Any) -> bool:
        self.pings += 1
        return self._ping(dbapi_connection)

    def __enter__(self) -> Counter:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        for name in ("begin", "commit", "rollback"):
            event.listen(self.engine, name, self._transaction)
        event.listen(self.engine.pool, "checkout", self._checkout)
        self.engine.dialect.do_ping = self._pinging  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        for name in ("begin", "commit", "rollback"):
            event.remove(self.engine, name, self._transaction)
        event.remove(self.engine.pool, "checkout", self._checkout)
        self.engine.dialect.do_ping = self._ping  # type: ignore[method-assign]

    @property
    def round_trips(self) -> int:
        # psycopg sends BEGIN as a command of its own (the begin event), a commit or rollback is one more;
        # a check-out's liveness ping is one.
        return self.statements + self.transactions + self.pings


def ready_tasks(db: Database, lifecycles: int, key: str) -> list[tuple[int, str]]:
    """Start ``lifecycles`` instances and return their first (task id, login) pairs."""
    started = {instances.start_instance(db, key, f"B{i % 50}", actor=OPERATOR).instance_id for i in range(lifecycles)}
    return [(task.id, "bench-school") for task in tasks.list_tasks(db, limit=100_000, actor="bench-school")
            if task.instance_id in started]


def per_completion(db: Database, lifecycles: int, key: str) -> tuple[Counter, int]:
    """The first step of ``lifecycles`` new instances, counted: statements and round trips of
    ``complete_task`` alone (the inbox query that finds the tasks is outside)."""
    todo = ready_tasks(db, lifecycles, key)
    with db.engine.connect() as probe:
        raw = probe.connection.driver_connection
        with Counter(db) as counted, Wal(raw) as wal:
            for task_id, login in todo:
                tasks.complete_task(db, task_id, DATA, actor=login)
        WAL["engine"] = wal.per(len(todo))
    return counted, len(todo)


def profile(db: Database, completions: int, key: str, top: int = 30) -> str:
    """cProfile of ``completions`` completions (first steps of new instances), by own and cumulative time,
    top lines. The timer is this process's CPU, not the wall clock: waiting for PostgreSQL (and, on a shared
    machine, for a core) is not counted; the statements and round trips are counted apart."""
    todo = ready_tasks(db, completions, key)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for task_id, login in todo:
        tasks.complete_task(db, task_id, DATA, actor=login)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def setup(db: Database) -> str:
    schools = [(f"B{i}", f"Школа {i}", "BM") for i in range(50)]
    grants = [GrantRow("bench-school", Role.SCHOOL, code) for code, _, _ in schools]
    grants += [GrantRow("bench-curator", Role.CURATOR, code) for code, _, _ in schools]
    apply_org(db, OrgData(regions=[("BR", "Регион")], municipalities=[("BM", "Район", "BR")], schools=schools,
                          users=[UserRow("bench-school", "Школа"), UserRow("bench-curator", "Куратор")],
                          grants=grants))
    return versions.deploy_template(db, versions.read_bundle(BUNDLE), actor=OPERATOR).key


def maintain(url: str) -> None:
    """What autovacuum does in production between runs: dead row versions pruned, planner statistics
    current. This machine's PostgreSQL runs with ``autovacuum = off`` (a CI setting), so without it every
    repetition would run on the bloat and the stale statistics of the ones before — plans no production
    database has (the completion's UPDATE of deadline rows chose a scan of every unfired row)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def asynchronous_commits(db: Database) -> Database:
    """The same database, but commits do not wait for the WAL flush (diagnostic only)."""
    other = Database.from_url(db.engine.url.render_as_string(hide_password=False), clock=db.clock)

    @event.listens_for(other.engine, "connect")
    def _no_flush_wait(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
        dbapi_connection.commit()

    return other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--core", action="store_true",
                        help="only raw, durable minimum and the engine (no threads, processes or diagnostics)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print a cProfile of N completions (stderr)")
    args = parser.parse_args()
    db = fresh_database("roadmap_bench_throughput")
    key = setup(db)
    url = db.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    fast_commits = asynchronous_commits(db)
    runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ratios: list[float] = []
    engine(db, 5, key)  # warm up: compiled template, statement caches, prepared statements
    for _ in range(args.repeat):
        maintain(url)
        runs["raw"].append(raw_spiff(args.lifecycles))
        runs["raw, serialized every step"].append(raw_spiff(args.lifecycles, serialize=True))
        runs["engine"].append(engine(db, args.lifecycles, key, cpu_as="engine"))
        runs["durable minimum"].append(durable_minimum(url, args.lifecycles))
        # The target: engine ÷ durable minimum, each repetition's pair measured back to back.
        ratios.append(runs["engine"][-1][0] / runs["durable minimum"][-1][0])
        if args.core:
            continue
        runs["engine, cache off"].append(without_cache(db, args.lifecycles, key))
        runs["engine, synchronous_commit off"].append(engine(fast_commits, args.lifecycles, key))
        runs["engine, 4 threads"].append(concurrent(db, args.lifecycles, key))
        runs[f"raw, {args.processes} processes"].append(
            processes("raw", db, args.lifecycles, key, args.processes))
        runs[f"engine, {args.processes} processes"].append(
            processes("engine", db, args.lifecycles, key, args.processes))
    median = {name: (statistics.median(c for c, _ in values), statistics.median(lc for _, lc in values))
              for name, values in runs.items()}
    raw, ours, least = median["raw"], median["engine"], median["durable minimum"]
    together = (median[f"engine, {args.processes} processes"][0] / median[f"raw, {args.processes} processes"][0]
                if not args.core else float("nan"))
    for name, (completions, lifecycles) in median.items():
        print(f"  {name:<32} {completions:7.0f} completions/s ({completions / raw[0]:.3f} of raw), "
              f"{lifecycles:6.1f} lifecycles/s with start ({lifecycles / raw[1]:.3f} of raw)", file=sys.stderr)
    counted, steps = per_completion(db, 50, key)
    print(f"  per completion ({steps} first steps): {counted.statements / steps:.2f} SQL statements, "
          f"{counted.round_trips / steps:.2f} round trips ({counted.transactions / steps:.2f} transactions, "
          f"{counted.checkouts / steps:.2f} pool check-outs, {counted.pings / steps:.2f} pings)", file=sys.stderr)
    for statement, times in sorted(counted.texts.items(), key=lambda item: -item[1]):
        print(f"    {times / steps:5.2f} × {statement}", file=sys.stderr)
    for name, (size, records) in WAL.items():
        kinds = ", ".join(f"{kind} {count:.1f}" for kind, count in sorted(records.items(), key=lambda kv: -kv[1])
                          if count >= 0.5)
        print(f"  WAL per completion, {name}: {size:,.0f} bytes, {sum(records.values()):.1f} records"
              f"{' (' + kinds + ')' if kinds else ''}", file=sys.stderr)
    if args.profile:
        print(profile(db, args.profile, key), file=sys.stderr)
    bottom = floor(db)
    print("  floor: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in bottom.items()), file=sys.stderr)
    verdict = "ok" if ours[0] / raw[0] >= 0.5 else "BELOW TARGET"
    print(f"throughput: raw SpiffWorkflow in memory {raw[0]:.0f} completions/s, engine on PostgreSQL {ours[0]:.0f}/s, "
          f"ratio {ours[0] / raw[0]:.3f} (target >= 0.5: {verdict}); whole lifecycles with start ratio "
          f"{ours[1] / raw[1]:.3f}; {args.processes} processes vs raw in as many {together:.3f}; "
          f"durable minimum (Spiff + serializer + UPDATE/COMMIT) {least[0]:.0f}/s = {least[0] / raw[0]:.3f} of raw; "
          f"durable one-row commit {bottom['write commit']:.2f} ms")
    # As the throughput ratio: what the durable minimum costs ÷ what the engine costs, per completion.
    by_cpu = [sum(d) / sum(e) for e, d in zip(CPU["engine"], CPU["durable minimum"], strict=True)]
    for name, values in CPU.items():
        print(f"  CPU per completion, {name}: this process {statistics.median(v[0] for v in values) * 1000:.2f} ms, "
              f"PostgreSQL {statistics.median(v[1] for v in values) * 1000:.2f} ms (medians)", file=sys.stderr)
    print(f"engine / durable minimum by CPU (this process + PostgreSQL per completion): {min(by_cpu):.3f} / "
          f"{statistics.median(by_cpu):.3f} / {max(by_cpu):.3f} (min / median / max)")
    # The most the ratio by CPU could be for an engine that writes these rows: its client doing no more than
    # the durable minimum's (SpiffWorkflow, its serializer, one statement), its server work what it is now.
    ceiling = [sum(d) / (d[0] + e[1]) for e, d in zip(CPU["engine"], CPU["durable minimum"], strict=True)]
    print(f"ceiling by CPU with no engine Python (durable minimum's process + engine's PostgreSQL): "
          f"{min(ceiling):.3f} / {statistics.median(ceiling):.3f} / {max(ceiling):.3f} (min / median / max)")
    print(f"engine / durable minimum: {min(ratios):.3f} / {statistics.median(ratios):.3f} / {max(ratios):.3f} "
          f"(min / median / max of {len(ratios)} repetitions; target >= 0.5: "
          f"{'ok' if statistics.median(ratios) >= 0.5 else 'BELOW TARGET'}); "
          f"{counted.statements / steps:.2f} statements and {counted.round_trips / steps:.2f} round trips "
          "per completion")
    fast_commits.engine.dispose()
    db.engine.dispose()


if __name__ == "__main__":
    main()
