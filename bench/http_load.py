"""HTTP under gunicorn: task form submissions by concurrent signed-in users, against the application
served the production way (gunicorn, several processes and threads, PostgreSQL), measured by a load
generator in another process — with raw SpiffWorkflow completing the same number of tasks in memory in
the same run, so the line compares across machines.

Each client is a school's user: it signs in through the login form once (argon2 stays out of the
measured loop), opens its first task to get the form's CSRF token, then submits the web task form
(``POST /tasks/<id>`` with ``csrf_token``, ``action=complete`` and the form-js JSON — what the browser
sends) for each of its open tasks, one after another — as fast as the server answers, or with a random
pause around ``--think-ms`` — and follows the redirect to the inbox as a browser does. Latency is timed on
the client: the submission (the POST and its 302) and the inbox page separately; the server's own time per
submission comes from gunicorn's access log (``%(D)s``), its CPU from /proc.

Before the load, in the same world and run (issue 21, target 2): one completion at a time, ``--per-client``
each, in-process (``tasks.complete_task``) and through the API (``POST /api/v1/tasks/<id>/complete`` with a
bearer token) — via Flask's test client and via the gunicorn server — and their p50 ratio (target ≤ 2).

    python bench/http_load.py [--clients 50] [--per-client 20] [--workers 3] [--threads 2] [--think-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from psycopg.types.json import Json
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sweep_scaling import SERVER, _copy, fresh_database  # noqa: E402
from engine.actors import OPERATOR  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.org import api_tokens  # noqa: E402
from engine.org.core import GrantRow, OrgData, UserRow, apply_org  # noqa: E402
from engine.org.passwords import hash_password  # noqa: E402
from engine.process import instances  # noqa: E402
from engine.process import tasks as task_service  # noqa: E402
from engine.roles import Role  # noqa: E402
from engine.templates import versions  # noqa: E402

DATABASE = "roadmap_bench_http"
BUNDLE = ROOT / "bench" / "bundles" / "six"
PASSWORD = "bench-password-500"  # noqa: S105 - a benchmark's throwaway users
DATA = {"note": "готово"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- the world: schools, their users, open tasks ------------------------------------------------------------

def load_world(db: Database, clients: int, per_client: int) -> dict[str, list[int]]:
    """One school and one school user per client, ``per_client`` running instances per school, each with
    its first (school) task open. One instance is started through the engine; the rest are its copies
    (fresh task UUIDs each) loaded with COPY. Returns each login's open task ids."""
    schools = [(f"H{i}", f"Школа {i}", "HM") for i in range(clients)]
    users = [UserRow(f"bench-{i}", f"Директор {i}") for i in range(clients)]
    apply_org(db, OrgData(regions=[("HR", "Регион")], municipalities=[("HM", "Район", "HR")], schools=schools,
                          users=users, grants=[GrantRow(f"bench-{i}", Role.SCHOOL, f"H{i}") for i in range(clients)]))
    key = versions.deploy_template(db, versions.read_bundle(BUNDLE), actor=OPERATOR).key
    first = instances.start_instance(db, key, "H0", actor=OPERATOR).instance_id
    with db.engine.begin() as conn:  # one argon2 hash for all: hashing 50 passwords would only slow the setup
        conn.execute(text("UPDATE app_user SET password_hash = :h"), {"h": hash_password(PASSWORD)})
        school_ids = dict(conn.execute(text("SELECT code, id FROM school")).all())  # type: ignore[arg-type]
    _clone_instance(db, first, [school_ids[f"H{i}"] for i in range(clients) for _ in range(per_client)][1:])
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT u.login, t.id FROM task t JOIN role_grant g ON g.school_id = t.school_id "
                                 "JOIN app_user u ON u.id = g.user_id WHERE t.status = 'ready' ORDER BY t.id")).all()
    tasks: dict[str, list[int]] = {}
    for login, task_id in rows:
        tasks.setdefault(login, []).append(task_id)
    return tasks


def _clone_instance(db: Database, source: int, school_ids: list[int]) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        instance = _rows(cursor, "SELECT * FROM process_instance WHERE id = %s", source)[0]
        task = _rows(cursor, "SELECT * FROM task WHERE instance_id = %s", source)[0]
        deadlines = _rows(cursor, "SELECT * FROM deadline WHERE instance_id = %s", source)
        base = max(_max_id(cursor, table) for table in ("process_instance", "task", "deadline"))
        new_instances, new_tasks, new_deadlines = [], [], []
        deadline_ids = iter(range(base + 1, base + 1 + len(deadlines) * len(school_ids)))
        for n, school_id in enumerate(school_ids, start=1):
            ids = {old: str(uuid.uuid4()) for old in set(UUID.findall(instance["workflow_json"]))}
            workflow = UUID.sub(lambda m: ids[m.group(0)], instance["workflow_json"])  # noqa: B023
            instance_id, task_id = base + n, base + n
            new_instances.append({**instance, "id": instance_id, "school_id": school_id, "workflow_json": workflow})
            new_tasks.append({**task, "id": task_id, "instance_id": instance_id, "school_id": school_id,
                              "spiff_task_id": ids[task["spiff_task_id"]]})
            new_deadlines += [{**row, "id": next(deadline_ids), "instance_id": instance_id, "task_id": task_id}
                              for row in deadlines]
        for table, rows in (("process_instance", new_instances), ("task", new_tasks), ("deadline", new_deadlines)):
            columns = list(rows[0])
            _copy(cursor, f"{table} ({', '.join(columns)})",
                  ([Json(v) if isinstance(v, dict | list) else v for v in row.values()] for row in rows))
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {_max_id(cursor, table)})")
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _rows(cursor, query: str, *args):  # type: ignore[no-untyped-def]
    cursor.execute(query, args)
    names = [d.name for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _max_id(cursor, table: str) -> int:  # type: ignore[no-untyped-def]
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 - our own table names
    return int(cursor.fetchone()[0])


# --- the server ----------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(port: int, workers: int, threads: int, access_log: Path) -> subprocess.Popen[bytes]:
    """The production command (docs/operations.md), on a free port, over plain HTTP on loopback."""
    env = {**os.environ, "DATABASE_URL": f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{DATABASE}",
           "ROADMAP_SECRET_KEY": secrets.token_urlsafe(32), "WEB_CONCURRENCY": str(workers),
           # No TLS proxy in front of the benchmark: Secure cookies would never come back over plain HTTP.
           "ROADMAP_SESSION_COOKIE_SECURE": "false"}
    env.pop("REDIS_URL", None)
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:web.gunicorn_conf",
               "--bind", f"127.0.0.1:{port}", "--threads", str(threads), "--access-logfile", str(access_log),
               "--error-logfile", str(access_log.with_suffix(".err")), "web.app:create_app()"]
    server = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603 - our own command line
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {access_log.with_suffix('.err')}")
        time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not answer /health within 60 s")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc — the living ones, and through
    the process's cutime/cstime the ones it has reaped (gunicorn recycles its workers: ``max_requests``)."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    for child in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(v) for v in fields[11:15 if child == pid else 13]) / ticks
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def server_times_ms(access_log: Path) -> list[float]:
    """Worker time of each task form submission (POST /tasks/<id>), from gunicorn's access log."""
    times = []
    for line in access_log.read_text().splitlines():
        match = re.search(r'"POST /tasks/\d+ HTTP/[\d.]+" (\d{3}) \S+ (\d+)$', line)
        if match:
            times.append(int(match.group(2)) / 1000)
    return times


# --- the load generator --------------------------------------------------------------------------------------

@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)  # the form submissions (POST, answered 302)
    inbox_ms: list[float] = field(default_factory=list)  # the inbox page the browser is redirected to
    client_cpu: float = 0.0  # seconds of the load generator's own CPU while the clock ran
    errors: list[str] = field(default_factory=list)


async def sign_in(client: httpx.AsyncClient, login: str, first_task: int) -> str:
    page = await client.get("/login")
    answer = await client.post("/login", data={"login": login, "password": PASSWORD,
                                               "csrf_token": CSRF.findall(page.text)[0]})
    if answer.status_code != 302:
        raise RuntimeError(f"{login}: sign-in answered {answer.status_code}")
    task_page = await client.get(f"/tasks/{first_task}")
    return CSRF.findall(task_page.text)[0]


async def submit_all(base_url: str, login: str, task_ids: list[int], results: Results,
                     signed_in: asyncio.Barrier, think_s: float) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        try:
            token = await sign_in(client, login, task_ids[0])
        except BaseException:
            await signed_in.abort()
            raise
        await signed_in.wait()
        payload = json.dumps(DATA, ensure_ascii=False)
        pause = random.Random(login)  # noqa: S311 - spreading clients in time, not secrecy
        if think_s:  # people do not all press «Отправить» in the same millisecond: start spread over a pause
            await asyncio.sleep(pause.uniform(0, think_s))
        for task_id in task_ids:
            answer = await _timed(client, "POST", f"/tasks/{task_id}", results.latencies_ms, results.errors,
                                  data={"csrf_token": token, "action": "complete", "data": payload})
            # A browser follows the redirect to the inbox, which also takes the flash message out of the
            # session; a client that did not would carry a session cookie growing with every submission.
            if answer is not None and answer.status_code == 302:
                await _timed(client, "GET", answer.headers["location"], results.inbox_ms, results.errors)
            if think_s:
                await asyncio.sleep(pause.uniform(0.5, 1.5) * think_s)


async def _timed(client: httpx.AsyncClient, method: str, url: str, latencies: list[float], errors: list[str],
                 **kwargs: Any) -> httpx.Response | None:
    began = time.perf_counter()
    try:
        answer = await client.request(method, url, **kwargs)
    except httpx.HTTPError as err:
        errors.append(f"{method} {url}: {type(err).__name__}")
        return None
    latencies.append((time.perf_counter() - began) * 1000)
    if not 200 <= answer.status_code < 400:
        errors.append(f"{method} {url}: HTTP {answer.status_code}")
    return answer


async def load(base_url: str, tasks: dict[str, list[int]], think_s: float,
               server_pid: int) -> tuple[Results, float, float]:
    """Runs the clients; returns their results, the measured wall time and the server's CPU seconds in it."""
    results, signed_in = Results(), asyncio.Barrier(len(tasks) + 1)
    runners = [asyncio.create_task(submit_all(base_url, login, ids, results, signed_in, think_s))
               for login, ids in tasks.items()]
    try:
        await signed_in.wait()  # everyone has signed in before the clock starts
    except asyncio.BrokenBarrierError:
        await asyncio.gather(*runners)  # raises the failed sign-in
    began, cpu, own = time.perf_counter(), process_tree_cpu(server_pid), time.process_time()
    await asyncio.gather(*runners)
    results.client_cpu = time.process_time() - own
    return results, time.perf_counter() - began, process_tree_cpu(server_pid) - cpu


# --- raw SpiffWorkflow ---------------------------------------------------------------------------------------

def raw_completion_ms(completions: int) -> float:
    """Mean time SpiffWorkflow alone takes to complete one user task of the same BPMN, in memory."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BUNDLE / "six.bpmn"))
    spec, subprocesses = parser.get_spec("six"), parser.get_subprocess_specs("six")
    workflows = []
    for _ in range(completions):
        workflow = BpmnWorkflow(spec, subprocesses)
        workflow.do_engine_steps()
        workflows.append(workflow)
    began = time.perf_counter()
    for workflow in workflows:  # the benchmark completes each instance's first task; so does this
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(DATA)
        task.run()
        workflow.do_engine_steps()
    return (time.perf_counter() - began) * 1000 / completions


# --- one completion at a time: in-process against HTTP ----------------------------------------------------

#: The extra schools whose tasks the sequential comparison completes (the load's clients keep theirs).
SEQUENTIAL = ("in-process", "test client", "gunicorn")


def sequential_completions(db: Database, tasks: dict[str, list[int]], port: int) -> dict[str, list[float]]:
    """Milliseconds per completion, one after another: the service called in this process, then the API
    through Flask's test client and through gunicorn (keep-alive, as an integration script would)."""
    from web.app import create_app

    logins = dict(zip(SEQUENTIAL, list(tasks)[-len(SEQUENTIAL):], strict=True))
    times: dict[str, list[float]] = {}
    login = logins["in-process"]
    times["in-process"] = [_timed_call(lambda i=task_id: task_service.complete_task(db, i, dict(DATA), actor=login))
                           for task_id in tasks[login]]
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "bench"})
    test_client = app.test_client()
    login = logins["test client"]
    headers = {"Authorization": f"Bearer {api_tokens.create_token(db, 'bench', actor=login)[1]}"}
    times["test client"] = [_timed_call(lambda i=task_id: _ok(test_client.post(
        f"/api/v1/tasks/{i}/complete", json={"data": DATA}, headers=headers).status_code)) for task_id in tasks[login]]
    login = logins["gunicorn"]
    headers = {"Authorization": f"Bearer {api_tokens.create_token(db, 'bench', actor=login)[1]}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
        client.get("/api/v1/tasks")  # the connection and the worker's first request are not a completion's
        times["gunicorn"] = [_timed_call(lambda i=task_id: _ok(client.post(
            f"/api/v1/tasks/{i}/complete", json={"data": DATA}).status_code)) for task_id in tasks[login]]
    return times


def _timed_call(call: Any) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def _ok(status: int) -> None:
    if status != 200:
        raise RuntimeError(f"a completion through the API answered {status}")


def report_sequential(times: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["in-process"]
    print("http completion, one at a time, p50: " + ", ".join(
        f"{name} {ms:.1f} ms ({ms / base:.2f}x)" for name, ms in medians.items()) +
          f"; target HTTP <= 2x in-process: {'met' if medians['gunicorn'] <= 2 * base else 'MISSED'} (gunicorn), "
          f"{'met' if medians['test client'] <= 2 * base else 'MISSED'} (test client)")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=20, help="submissions per client")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--think-ms", type=float, default=0,
                        help="mean pause of each client between submissions (0: as fast as answered)")
    args = parser.parse_args()
    db = fresh_database(DATABASE)
    tasks = load_world(db, args.clients + len(SEQUENTIAL), args.per_client)
    sequential = {login: tasks.pop(login) for login in list(tasks)[-len(SEQUENTIAL):]}
    submissions = sum(len(ids) for ids in tasks.values())
    raw_ms = statistics.median(raw_completion_ms(submissions) for _ in range(3))
    with tempfile.TemporaryDirectory(prefix="bench-http-") as folder:
        access_log, port = Path(folder) / "access.log", free_port()
        server = start_gunicorn(port, args.workers, args.threads, access_log)
        try:
            report_sequential(sequential_completions(db, sequential, port))
            db.engine.dispose()
            load_before = os.getloadavg()[0]
            results, elapsed, server_cpu = asyncio.run(
                load(f"http://127.0.0.1:{port}", tasks, args.think_ms / 1000, server.pid))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        server_ms = server_times_ms(access_log)
    report(args, results, elapsed, server_ms, server_cpu, raw_ms, load_before)


def report(args: argparse.Namespace, results: Results, elapsed: float, server_ms: list[float], server_cpu: float,
           raw_ms: float, load_before: float) -> None:
    latencies, done = results.latencies_ms, len(results.latencies_ms)
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    mean_server = statistics.fmean(server_ms) if server_ms else float("nan")
    for error in results.errors[:5]:
        print(f"  error: {error}", file=sys.stderr)
    print(f"  {args.clients} clients x {args.per_client} submissions, gunicorn {args.workers} workers x "
          f"{args.threads} threads, think {args.think_ms:.0f} ms; load average before {load_before:.1f}; "
          f"CPU per submission and its inbox page: gunicorn {server_cpu * 1000 / max(done, 1):.1f} ms, load generator "
          f"{results.client_cpu * 1000 / max(done, 1):.1f} ms; server time mean {mean_server:.1f} ms "
          f"(p50 {percentile(server_ms, 50):.1f}), raw SpiffWorkflow {raw_ms:.3f} ms/completion", file=sys.stderr)
    if results.inbox_ms:
        print(f"  inbox page after each submission: p50 {percentile(results.inbox_ms, 50):.0f} ms, "
              f"p95 {percentile(results.inbox_ms, 95):.0f} ms", file=sys.stderr)
    verdict = "ok" if p95 <= 200 and not results.errors else "BELOW TARGET"
    print(f"http: {done} form submissions by {args.clients} clients in {elapsed:.1f} s, {done / elapsed:.0f}/s"
          f" (+ as many inbox pages), "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, {len(results.errors)} errors "
          f"(target p95 <= 200 ms, 0 errors: {verdict}); server time per submission {mean_server:.1f} ms = "
          f"{mean_server / raw_ms:.0f}x raw SpiffWorkflow's {raw_ms:.3f} ms")


if __name__ == "__main__":
    main()
