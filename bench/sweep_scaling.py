"""Sweep scaling: the same 1,000 due deadlines among 1,000 and among 100,000 open instances.

The sweep must cost O(due rows), not O(open instances). Both worlds are loaded into a PostgreSQL
database of their own with COPY (one open task per instance, five deadline rows per task, exactly
1,000 of them due), then the real ``engine.deadlines.sweep.sweep`` runs against each; the due rows are reset
between repetitions. Prints the median sweep time of each world and their ratio (target ≤ 1.5).

    python bench/sweep_scaling.py [--small 1000] [--large 100000] [--due 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.actors import OPERATOR
from engine.db import Database, upgrade_schema
from engine.deadlines.sweep import sweep
from engine.templates import versions

SERVER = "postgresql://postgres@127.0.0.1:5432"
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
MINI = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bundles" / "mini"


def fresh_database(name: str) -> Database:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    db = Database.from_url(f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}", clock=lambda: NOW)
    upgrade_schema(db)
    return db


def load_world(db: Database, instances: int, due: int, schools: int = 1000) -> None:
    version_id = versions.deploy_template(db, versions.read_bundle(MINI), actor=OPERATOR).template_version_id
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("INSERT INTO region (id, code, name) VALUES (1, 'R', 'Регион')")
        cursor.execute("INSERT INTO municipality (id, code, name, region_id) VALUES (1, 'M', 'Район', 1)")
        _copy(cursor, "school (id, code, name, municipality_id, region_id)",
              ((i, f"S{i}", f"Школа {i}", 1, 1) for i in range(1, schools + 1)))
        _copy(cursor, "app_user (id, login, full_name, email, is_active, wants_digest)",
              ((i, f"school-{i}", f"Директор {i}", f"s{i}@example.test", True, False) for i in range(1, schools + 1)))
        _copy(cursor, "role_grant (id, user_id, role, school_id)",
              ((i, i, "school", i) for i in range(1, schools + 1)))
        started = NOW - timedelta(days=30)
        _copy(cursor, "process_instance (id, template_version_id, school_id, status, current_stage, workflow_json,"
                      " serializer_version, version, started_at)",
              ((i, version_id, (i - 1) % schools + 1, "running", "questionnaire", "{}", "bench", 1, started)
               for i in range(1, instances + 1)))
        _copy(cursor, "task (id, instance_id, spiff_task_id, element_id, name, stage, role, form_key, school_id,"
                      " municipality_id, region_id, status, due_at, escalation_level, federal_overdue, created_at)",
              ((i, i, f"00000000-0000-0000-0000-{i:012d}", "fill_questionnaire", "Заполнить анкету",
                "questionnaire", "school", "questionnaire", (i - 1) % schools + 1, 1, 1, "ready",
                NOW + timedelta(days=1), 0, False, started) for i in range(1, instances + 1)))
        _copy(cursor, "deadline (id, instance_id, task_id, kind, step, fire_at, cancelled)", _deadlines(instances, due))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _deadlines(instances: int, due: int):  # type: ignore[no-untyped-def]
    """Five rows per task; the first ``due`` tasks' due rows are due now, everything else later."""
    row = 0
    for task in range(1, instances + 1):
        for step, kind in enumerate(("reminder", "due", "escalation", "escalation", "escalation")):
            row += 1
            fire_at = NOW - timedelta(minutes=5) if kind == "due" and task <= due else NOW + timedelta(days=2 + step)
            yield row, task, task, kind, step, fire_at, False


def _copy(cursor, table: str, rows) -> None:  # type: ignore[no-untyped-def]
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for values in rows:
            copy.write_row(values)


def reset(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE deadline SET fired_at = NULL WHERE fired_at IS NOT NULL"))
        conn.execute(text("DELETE FROM notification"))
        conn.execute(text("DELETE FROM outbox"))


def measure(db: Database, due: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        reset(db)
        start = time.perf_counter()
        report = sweep(db, now=NOW, batch_size=100)
        times.append(time.perf_counter() - start)
        assert report.fired == due, (report.fired, due)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {}
    for name, size in (("small", args.small), ("large", args.large)):
        db = fresh_database(f"roadmap_bench_sweep_{name}")
        load_started = time.perf_counter()
        load_world(db, size, args.due)
        loaded = time.perf_counter() - load_started
        results[name] = measure(db, args.due, args.repeat)
        print(f"  {size:>7} open instances: loaded in {loaded:.1f} s, sweep of {args.due} due rows "
              f"median {results[name] * 1000:.0f} ms over {args.repeat} runs", file=sys.stderr)
        db.engine.dispose()
    ratio = results["large"] / results["small"]
    verdict = "ok" if ratio <= 1.5 else "ABOVE TARGET"
    print(f"sweep: {args.due} due among {args.small} open {results['small'] * 1000:.0f} ms, among {args.large} open "
          f"{results['large'] * 1000:.0f} ms, ratio {ratio:.2f} (target <= 1.5: {verdict})")


if __name__ == "__main__":
    main()
