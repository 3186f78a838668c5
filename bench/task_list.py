"""Task lists independent of the backlog: ``GET /api/v1/tasks`` for a caller with 10, 1,000 and 10,000 open
tasks in their scope, in one world on PostgreSQL, through Flask's test client (the whole request: token,
query, serialization) — with the target ratio printed: list p95 at 10,000 ÷ list p95 at 10 (≤ 1.5), and the
p95 at 1,000 against the peer's 49.0 ms measured in the benchmark issue (≤ 0.5×).

The world: three municipalities whose coordinators have 10, 1,000 and 10,000 open tasks each (spread over
their schools, due dates over four months with ties and some without a deadline), another 10,000 open tasks
of other roles and scopes and 20,000 completed ones, so the table is not only the caller's. Also measured in
the same run, for comparison: the first page by the cursor's second page, a page of 100, the inbox page (HTML)
and, in-process, the way lists were read before (every matching row, paged in Python).

The sizes take turns request by request (a busy minute on a shared machine slows all of them alike).

    python bench/task_list.py [--samples 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sweep_scaling import MINI, fresh_database  # noqa: E402
from engine.actors import OPERATOR  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.org import api_tokens  # noqa: E402
from engine.org.core import GrantRow, OrgData, UserRow, apply_org  # noqa: E402
from engine.org.passwords import hash_password  # noqa: E402
from engine.process import instances, tasks  # noqa: E402
from engine.roles import Role  # noqa: E402
from engine.templates import versions  # noqa: E402
from web.app import create_app  # noqa: E402

DATABASE = "roadmap_bench_task_list"
SIZES = (10, 1_000, 10_000)
PEER_P95_AT_1000_MS = 49.0  # spiff-arena's task list with 1,000 open tasks, as the benchmark issue measured it
PASSWORD = "bench-password-500"  # noqa: S105 - a benchmark's throwaway users
SCHOOLS_PER_MUNICIPALITY = 20


def load_world(db: Database) -> dict[int, str]:
    """The org, one real instance (its row is what every synthetic task points at) and the task rows, made in
    SQL. Returns each size's coordinator login."""
    municipalities = [(f"M{size}", f"Район {size}", "R") for size in SIZES] + [("MX", "Другой район", "R")]
    schools = [(f"{m}-{n:02d}", f"Школа {n} района {m}", m) for m, _, _ in municipalities
               for n in range(SCHOOLS_PER_MUNICIPALITY)]
    coordinators = {size: f"mun-{size}" for size in SIZES}
    apply_org(db, OrgData(regions=[("R", "Регион")], municipalities=municipalities, schools=schools,
                          users=[UserRow(login, f"Координатор {size}") for size, login in coordinators.items()],
                          grants=[GrantRow(login, Role.MUNICIPAL_COORDINATOR, f"M{size}")
                                  for size, login in coordinators.items()]))
    key = versions.deploy_template(db, versions.read_bundle(MINI), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, schools[0][0], actor=OPERATOR).instance_id
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET password_hash = :h"), {"h": hash_password(PASSWORD)})
        for size in SIZES:
            _tasks(conn, instance_id, f"M{size}", "municipal_coordinator", "ready", size)
        _tasks(conn, instance_id, "MX", "municipal_coordinator", "ready", 5_000)
        _tasks(conn, instance_id, "M10000", "school", "ready", 5_000)
        _tasks(conn, instance_id, "M10000", "municipal_coordinator", "completed", 20_000)
        conn.execute(text("ANALYZE"))
    return coordinators


def _tasks(conn: Any, instance_id: int, municipality: str, role: str, status: str, count: int) -> None:
    """``count`` task rows on the municipality's schools: due in the next four months at whole hours (so
    many share a due time: the id breaks the ties), every 25th without a deadline."""
    conn.execute(text("""
        INSERT INTO task (instance_id, spiff_task_id, element_id, name, stage, role, form_key, school_id,
                          municipality_id, region_id, status, due_at, escalation_level, federal_overdue,
                          created_at, completed_at)
        SELECT :instance, gen_random_uuid()::text, 'review', 'Проверить отчёт школы ' || n, 'selection', :role,
               'review', s.id, s.municipality_id, s.region_id, CAST(:status AS text),
               CASE WHEN n % 25 = 0 THEN NULL
                    ELSE timestamptz '2027-06-01 12:00+00' + (n * 7919 % 2900) * interval '1 hour' END,
               n % 3, false, timestamptz '2027-05-01 00:00+00' + n * interval '1 minute',
               CASE WHEN CAST(:status AS text) = 'completed' THEN timestamptz '2027-05-20 00:00+00' END
        FROM generate_series(1, :count) AS n
        JOIN LATERAL (SELECT school.id, school.municipality_id, municipality.region_id FROM school
                      JOIN municipality ON municipality.id = school.municipality_id
                      WHERE municipality.code = :municipality
                      ORDER BY school.code OFFSET (n % :schools) LIMIT 1) AS s ON true
    """), {"instance": instance_id, "role": role, "status": status, "count": count,
           "municipality": municipality, "schools": SCHOOLS_PER_MUNICIPALITY})


def every_row_then_a_page(db: Database, login: str) -> list[Any]:
    """How the API read a page before issue 21: every matching row, then a slice in Python."""
    return tasks.list_tasks(db, actor=login, limit=10_000)[:10]


def interleaved(calls: dict[int, Callable[[], Any]], samples: int, warmup: int = 3) -> dict[int, list[float]]:
    """Milliseconds per call, the sizes taking turns: on a shared machine a busy minute then slows every size
    alike instead of whichever was being measured, so their ratio stays meaningful."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[int, list[float]] = {size: [] for size in calls}
    for _ in range(samples):
        for size, call in calls.items():
            started = time.perf_counter()
            call()
            times[size].append((time.perf_counter() - started) * 1000)
    return times


def p(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[int(q) - 1]


def api_get(client: Any, token: str, url: str) -> Callable[[], Any]:
    headers = {"Authorization": f"Bearer {token}"}

    def call() -> Any:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    return call


def page_get(client: Any, url: str) -> Callable[[], Any]:
    def call() -> Any:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    return call


def second_page_url(client: Any, token: str, page_size: int) -> str:
    import json

    first = api_get(client, token, f"/api/v1/tasks?page_size={page_size}")()
    cursor = json.loads(first.headers["X-Pagination"])["next_cursor"]
    return f"/api/v1/tasks?page_size={page_size}&after={cursor}"


def signed_in(app: Any, login: str) -> Any:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    db = fresh_database(DATABASE)
    coordinators = load_world(db)
    tokens = {size: api_tokens.create_token(db, "bench", actor=login)[1]
              for size, login in coordinators.items()}
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "bench", "SESSION_COOKIE_SECURE": False,
                      "REMEMBER_COOKIE_SECURE": False})
    client = app.test_client()
    measured: dict[str, dict[int, Callable[[], Any]]] = {}
    for size, login in coordinators.items():
        token = tokens[size]
        calls: dict[str, Callable[[], Any] | None] = {
            "GET /api/v1/tasks (first page, 10 rows)": api_get(client, token, "/api/v1/tasks"),
            "GET /api/v1/tasks?page_size=100": api_get(client, token, "/api/v1/tasks?page_size=100"),
            "the next page by cursor (10 rows)": api_get(client, token, second_page_url(client, token, 10))
            if size > 10 else None,
            "the inbox page (HTML, 50 rows)": page_get(signed_in(app, login), "/?sort=due"),
            "in-process: task_page(limit=10)": partial(tasks.task_page, db, actor=login, limit=10),
            "in-process, before: every row, paged in Python": partial(every_row_then_a_page, db, login),
        }
        for name, call in calls.items():
            if call is not None:
                measured.setdefault(name, {})[size] = call
    rows: dict[str, dict[int, list[float]]] = {}
    for name, by_size in measured.items():  # the old way takes a second per call at 10,000: a tenth of the samples
        samples = max(args.samples // 10, 5) if "before" in name else args.samples
        rows[name] = interleaved(by_size, samples)
    print(f"task lists, {args.samples} requests each, p50 / p95 in ms, by open tasks in the caller's scope:",
          file=sys.stderr)
    for name, timings in rows.items():
        cells = "  ".join(f"{size:>6}: {p(t, 50):6.2f} / {p(t, 95):6.2f}" for size, t in timings.items())
        print(f"  {name:<50} {cells}", file=sys.stderr)
    first = rows["GET /api/v1/tasks (first page, 10 rows)"]
    ratio = p(first[10_000], 95) / p(first[10], 95)
    peer = p(first[1_000], 95) / PEER_P95_AT_1000_MS
    print(f"task_list: GET /api/v1/tasks p95 at 10,000 open tasks {p(first[10_000], 95):.2f} ms ÷ at 10 "
          f"{p(first[10], 95):.2f} ms = {ratio:.2f} (target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'}); "
          f"at 1,000 {p(first[1_000], 95):.2f} ms = {peer:.2f}x the peer's {PEER_P95_AT_1000_MS} ms "
          f"(target <= 0.5: {'met' if peer <= 0.5 else 'MISSED'})")


if __name__ == "__main__":
    main()
