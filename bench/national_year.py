"""A national year's busiest hour: 40,000 schools, their tasks and roadmap measures, the busiest day's due rows
all coming due within one hour, two real rq workers and the real rq cron scheduler acting on them.

The country is loaded with COPY (``bench.dashboard.load_country``: 84 regions, 2,000 municipalities, one running
roadmap and one open task per school) plus what the sweep needs to act: a school user, a curator per 20 schools,
a coordinator per municipality and region, each with an e-mail address; five measures per school. Deadline rows:

- the busy hour, per school: the task's reminder, its due time and its first escalation step, one measure's due
  time and that measure's first escalation step — 5 rows × 40,000 = 200,000 rows, ``fire_at`` spread evenly
  over ``--window`` seconds of wall-clock time starting a few seconds after the workers are up;
- the rest of the year, not due: the other four measures' reminder, due and escalation rows (480,000 rows), so
  the partial index on unfired rows is as full as in the real year.

Then ``roadmap cron`` (the real ``CronScheduler``, enqueuing the sweep every ``SWEEP_EVERY_SECONDS``) and
``--workers`` ``roadmap worker`` processes (rq's forking ``Worker``) run against PostgreSQL and Redis, and a local
SMTP sink takes the e-mails the sweep queues, as a mail relay would. When a row was acted on is the moment its
sweep transaction committed (a deferred constraint trigger stores ``clock_timestamp()`` at commit in a side
table); its lag is that moment minus its ``fire_at`` — both on this machine's wall clock.

``--window 3600`` is the real hour; a shorter window compresses it (``--window 360``: the same rows ten times
as fast), which only makes the test harder. Prints peak due rows/s (per second of ``fire_at``, and acted on per
second), the lag distribution (p50/p95/max) and how many rows were later than 60 s.

    python bench/national_year.py [--schools 40000] [--window 360] [--workers 2] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bench.dashboard import load_country
from bench.sweep_scaling import SERVER, _copy, fresh_database
from engine.db import Database

ROOT = Path(__file__).resolve().parents[1]
ROADMAP_BIN = Path(sys.executable).parent / "roadmap"
DATABASE = "roadmap_bench_year"
REDIS_URL = "redis://127.0.0.1:6379/14"
REGION_SIZE = 3_000
MEASURES = 5
BUSY_KINDS = (("task", "reminder", 0), ("task", "due", 0), ("task", "escalation", 1),
              ("measure", "due", 0), ("measure", "escalation", 1))

# Acted on = committed: a deferred constraint trigger runs at COMMIT, so clock_timestamp() there is the moment the
# sweep's transaction made the row's work visible (claim time would flatter a long batch).
ACTED_TABLE = """
CREATE UNLOGGED TABLE bench_acted (deadline_id bigint PRIMARY KEY, acted_at timestamptz NOT NULL);
CREATE FUNCTION bench_note_acted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO bench_acted VALUES (NEW.id, clock_timestamp()) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER bench_acted AFTER UPDATE OF fired_at ON deadline DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.fired_at IS NULL AND NEW.fired_at IS NOT NULL) EXECUTE FUNCTION bench_note_acted();
"""


def load_people_and_measures(db: Database, schools: int) -> None:
    """Users with e-mail for every role the busy rows speak to, their grants, and five measures per school."""
    curators = (schools + 19) // 20
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        users: list[tuple[Any, ...]] = [(s, f"school-{s}", f"Директор {s}", f"s{s}@example.test") for s in
                                        range(1, schools + 1)]
        grants: list[tuple[Any, ...]] = [(s, s, "school", s, None, None) for s in range(1, schools + 1)]
        next_id = schools
        for c in range(1, curators + 1):
            next_id += 1
            users.append((next_id, f"curator-{c}", f"Куратор {c}", f"c{c}@example.test"))
            for s in range((c - 1) * 20 + 1, min(c * 20, schools) + 1):
                grants.append((len(grants) + 1, next_id, "curator", s, None, None))
        for m in range(1, 2001):
            next_id += 1
            users.append((next_id, f"mun-{m}", f"Координатор района {m}", f"m{m}@example.test"))
            grants.append((len(grants) + 1, next_id, "municipal_coordinator", None, m, None))
        for r in range(1, 85):
            next_id += 1
            users.append((next_id, f"region-{r}", f"Координатор региона {r}", f"r{r}@example.test"))
            grants.append((len(grants) + 1, next_id, "regional_coordinator", None, None, r))
        _copy(cursor, "app_user (id, login, full_name, email, is_active, wants_digest)",
              ((*user, True, False) for user in users))
        _copy(cursor, "role_grant (id, user_id, role, school_id, municipality_id, region_id)", grants)
        created = datetime(2027, 2, 1, tzinfo=UTC)
        _copy(cursor, "measure (id, instance_id, school_id, key, position, title, direction, due_date, responsible,"
                      " status, evidence, added_later, created_at, updated_at)",
              ((_measure_id(s, k), s, s, f"мера {k}", k, f"Мероприятие {k}", None, date(2027, 3 + k, 1),
                "Заместитель директора", "planned", "[]", False, created, created)
               for s in range(1, schools + 1) for k in range(MEASURES)))
        raw.commit()
    finally:
        raw.close()


def _measure_id(school: int, k: int) -> int:
    return (school - 1) * MEASURES + k + 1


def load_deadlines(db: Database, schools: int, start: datetime, window: float) -> int:
    """The year's rows not yet due, then the busy hour's, ``fire_at`` evenly over [start, start + window)."""
    later = start + timedelta(days=30)
    busy = schools * len(BUSY_KINDS)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()

        def rows():  # type: ignore[no-untyped-def]
            row = 0
            for s in range(1, schools + 1):  # the year: measures 2..5, not due during the run
                for k in range(1, MEASURES):
                    for step, kind in enumerate(("reminder", "due", "escalation")):
                        row += 1
                        yield (row, s, None, _measure_id(s, k), kind, step, later + timedelta(days=k * 30),
                               _payload(kind, step), False, 0)
            # The busy hour: interleaved so that every second of the window has every kind of row.
            for n in range(busy):
                s, (what, kind, step) = 1 + n // len(BUSY_KINDS), BUSY_KINDS[n % len(BUSY_KINDS)]
                row += 1
                fire_at = start + timedelta(seconds=window * ((n * 7919) % busy) / busy)
                yield (row, s, s if what == "task" else None, _measure_id(s, 0) if what == "measure" else None,
                       kind, step, fire_at, _payload(kind, step), False, 0)

        _copy(cursor, "deadline (id, instance_id, task_id, measure_id, kind, step, fire_at, payload, cancelled,"
                      " attempts)", rows())
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return busy


def _payload(kind: str, step: int) -> str | None:
    return f'{{"levels_up": {step}}}' if kind == "escalation" else None


def _processes(workers: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    logs = Path(tempfile.gettempdir()) / f"national_year_{os.getpid()}"
    logs.mkdir(exist_ok=True)
    # Our own command lines (S603); the log files live as long as the processes (SIM115).
    started = [subprocess.Popen([str(ROADMAP_BIN), "cron"], env=env, cwd=ROOT, start_new_session=True,  # noqa: S603
                                stdout=subprocess.DEVNULL, stderr=open(logs / "cron.log", "wb"))]  # noqa: SIM115
    for n in range(workers):
        started.append(subprocess.Popen([str(ROADMAP_BIN), "worker"], env=env,  # noqa: S603
                                        cwd=ROOT, start_new_session=True,
                                        stdout=subprocess.DEVNULL,
                                        stderr=open(logs / f"worker-{n}.log", "wb")))  # noqa: SIM115
    return started


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """rq's second SIGTERM is a cold shutdown: the work horse (in a process group of its own) is killed too."""
    for _ in range(2):
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        time.sleep(1)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _smtp_sink() -> tuple[Any, int]:
    """A mail relay that accepts and drops: the workers' e-mail jobs cost what sending costs, not a timeout."""
    from aiosmtpd.controller import Controller

    class Drop:
        async def handle_DATA(self, _server: object, _session: object, _envelope: object) -> str:
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Drop(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def run_once(schools: int, window: float, workers: int, lead: float, sweep_every: int) -> dict[str, float]:
    db = fresh_database(DATABASE)
    loading = time.perf_counter()
    load_country(db, schools, REGION_SIZE)
    load_people_and_measures(db, schools)
    with db.engine.begin() as connection:
        connection.exec_driver_sql(ACTED_TABLE)
    from redis import Redis

    Redis.from_url(REDIS_URL).flushdb()
    smtp, port = _smtp_sink()
    env = {**os.environ, "DATABASE_URL": f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{DATABASE}",
           "REDIS_URL": REDIS_URL, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
           "SWEEP_EVERY_SECONDS": str(sweep_every)}
    start = datetime.now(UTC) + timedelta(seconds=lead + 20)  # the COPY below takes a few seconds
    busy = load_deadlines(db, schools, start, window)
    print(f"  loaded {schools} schools, {busy} busy rows in {time.perf_counter() - loading:.0f} s; "
          f"window {window:.0f} s from {start:%H:%M:%S}", file=sys.stderr)
    processes = _processes(workers, env)
    try:
        deadline = time.monotonic() + (start - datetime.now(UTC)).total_seconds() + window + 600
        while time.monotonic() < deadline:
            time.sleep(5)
            with db.engine.connect() as connection:
                acted = connection.exec_driver_sql("SELECT count(*) FROM bench_acted").scalar_one()
            print(f"  {datetime.now(UTC):%H:%M:%S} acted on {acted}/{busy}", file=sys.stderr)
            if acted >= busy:
                break
    finally:
        _stop(processes)
        smtp.stop()
    result = _measure(db, busy)
    db.engine.dispose()
    return result


def _measure(db: Database, busy: int) -> dict[str, float]:
    """Lags of the busy rows (the last ``busy`` ids); a row never acted on counts as late."""
    busy_rows = "deadline d WHERE d.id > (SELECT max(id) FROM deadline) - :busy"
    with db.engine.connect() as connection:
        lags = sorted(float(lag) for (lag,) in connection.execute(text(
            "SELECT extract(epoch FROM a.acted_at - d.fire_at) FROM bench_acted a, " + busy_rows  # noqa: S608
            + " AND d.id = a.deadline_id"), {"busy": busy}))
        due_peak = connection.execute(text(
            "SELECT max(n) FROM (SELECT count(*) n FROM " + busy_rows  # noqa: S608 - a constant of this function
            + " GROUP BY date_trunc('second', d.fire_at)) x"),
            {"busy": busy}).scalar_one()
        acted_peak = connection.execute(text(
            "SELECT max(n) FROM (SELECT count(*) n FROM bench_acted GROUP BY date_trunc('second', acted_at)) x"
        )).scalar_one()
        sent = connection.execute(text("SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM outbox")).one()
    late = sum(1 for lag in lags if lag > 60) + (busy - len(lags))
    return {"rows": busy, "acted": len(lags), "p50": _pct(lags, 50), "p95": _pct(lags, 95),
            "max": lags[-1] if lags else float("nan"), "late": late, "due_peak": float(due_peak or 0),
            "acted_peak": float(acted_peak or 0), "sent": sent[0], "letters": sent[1]}


def _pct(values: list[float], pct: float) -> float:
    return values[min(len(values) - 1, int(len(values) * pct / 100))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=40_000)
    parser.add_argument("--window", type=float, default=360.0, help="seconds the busy hour is spread over")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sweep-every", type=int, default=int(os.environ.get("SWEEP_EVERY_SECONDS") or 15))
    parser.add_argument("--lead", type=float, default=10.0, help="seconds between the workers' start and the window")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    results = []
    for run in range(args.runs):
        result = run_once(args.schools, args.window, args.workers, args.lead, args.sweep_every)
        results.append(result)
        print(f"  run {run + 1}: {result['acted']:.0f} of {result['rows']:.0f} rows acted on, due peak "
              f"{result['due_peak']:.0f}/s, acted peak "
              f"{result['acted_peak']:.0f}/s, lag p50 {result['p50']:.1f} s p95 {result['p95']:.1f} s max "
              f"{result['max']:.1f} s, {result['late']:.0f} later than 60 s; e-mails sent {result['sent']:.0f} of "
              f"{result['letters']:.0f}", file=sys.stderr)
    worst = max(r["max"] for r in results)
    late = sum(r["late"] for r in results)
    p95 = statistics.median(r["p95"] for r in results)
    print(f"national year: {args.schools} schools, {results[0]['rows']:.0f} due rows over {args.window:.0f} s "
          f"(x{3600 / args.window:.0f} the real hour), {args.workers} rq workers, sweep every {args.sweep_every} s: "
          f"due peak {statistics.median(r['due_peak'] for r in results):.0f} rows/s, lag p50 "
          f"{statistics.median(r['p50'] for r in results):.1f} s, p95 {p95:.1f} s, max {worst:.1f} s over "
          f"{args.runs} run(s) (target: every row within 60 s: {'ok' if late == 0 else f'MISSED by {late:.0f} rows'})")


if __name__ == "__main__":
    main()
