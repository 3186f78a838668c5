"""Worker memory: peak RSS of a real rq worker over a long run of deadline sweeps, and whether it grows.

A world of open tasks with ``--due`` due deadlines, spread over ``--jobs`` minutes, is loaded with COPY
(bench/sweep_scaling.py); then ``--jobs`` ``sweep_deadlines`` jobs are queued, each evaluating one minute
later than the one before — what ``roadmap cron`` does every minute — so each job sweeps the rows that
came due in its minute, in batches, writing the notifications. Two real workers run the queue in burst
mode, one after the other, on the same rows (reset in between):

- ``roadmap worker --burst`` — the production command: rq's forking ``Worker`` runs each job in a fresh
  work horse, so the horse's peak is the job's cost and the parent should not move at all;
- ``rq worker --worker-class rq.SimpleWorker --burst`` — every job in the one process, where any leak
  accumulates from job to job.

RSS is sampled from /proc (``VmRSS`` of the worker and its work horse) every few milliseconds; the peak is
also read from the kernel (``ru_maxrss`` of the finished worker and its children, via ``wait4``). Each job's
peak is the largest sample between rq's started and ended times of that job; growth is the median peak of
the jobs in the last quarter of the run minus that of the jobs in the first quarter (a leak shows as growth).
The baseline is a bare worker: ``roadmap worker --burst`` on an empty queue.

    python bench/memory.py [--due 20000] [--jobs 20] [--redis redis://127.0.0.1:6379/0]
    python bench/memory.py --completions 10000 [--warm 1000] [--every 500] [--in-flight 300]

With ``--completions``: one fresh process (recycling off, as a web worker without ``max_requests``)
runs whole lifecycles of the six-task template of bench/throughput.py through ``start_instance`` and
``complete_task``; its VmRSS is sampled after a full garbage collection every ``--every`` completions,
and the growth from ``--warm`` completions to the end is printed (the target: at most 5 MiB from 1,000
to 10,000), with every cache's size and limit (``engine.caches``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sweep_scaling import NOW, SERVER, fresh_database, load_world
from engine.db import Database
from workers import jobs
from workers.queue import QUEUE_NAME, run_job

DATABASE = "roadmap_bench_memory"
BIN = Path(sys.executable).parent
MIB = 1024 * 1024


def load(db: Database, due: int, minutes: int) -> None:
    """One open task per instance, ``due`` of them with their due row falling in one of ``minutes`` minutes
    before NOW. The users have no e-mail address: letters would queue one delivery job each, and this run
    is about the sweep's memory, not about 100,000 jobs that find no SMTP server."""
    load_world(db, due, due)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE deadline SET fire_at = :first + (task_id % :minutes) * interval '1 minute' "
                          "WHERE kind = 'due'"), {"first": first_minute(minutes), "minutes": minutes})
        conn.execute(text("UPDATE app_user SET email = NULL"))
        conn.execute(text("ANALYZE deadline"))


def first_minute(minutes: int):  # type: ignore[no-untyped-def]
    return NOW - timedelta(minutes=minutes)


def reset(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE deadline SET fired_at = NULL WHERE fired_at IS NOT NULL"))
        conn.execute(text("DELETE FROM notification"))


class Sampler(threading.Thread):
    """VmRSS of a process and of its children (the work horse), every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int, int]] = []  # (time, worker RSS, largest child RSS) in bytes
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            worker = rss(self.pid)
            if worker is None:
                return
            children = [rss(child) or 0 for child in children_of(self.pid)]
            self.samples.append((time.time(), worker, max(children, default=0)))
            time.sleep(self.interval)


def rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def run_worker(command: list[str], env: dict[str, str]) -> tuple[list[tuple[float, int, int]], int, float]:
    """Runs a burst worker to the end; returns the RSS samples, the kernel's peak RSS (bytes) and seconds."""
    began = time.monotonic()
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    sampler = Sampler(worker.pid)
    sampler.start()
    _, status, usage = os.wait4(worker.pid, 0)
    worker.returncode = os.waitstatus_to_exitcode(status)
    sampler.stopped.set()
    sampler.join()
    if worker.returncode != 0:
        raise SystemExit(f"{command[0]} exited with {worker.returncode}: {worker.stderr.read().decode()[-2000:]}")
    return sampler.samples, usage.ru_maxrss * 1024, time.monotonic() - began


def queue_sweeps(redis: Redis, jobs_count: int, batch: int) -> list[str]:
    queue = Queue(QUEUE_NAME, connection=redis)
    if queue.count:
        raise SystemExit(f"the queue {QUEUE_NAME!r} on {redis} is not empty: another worker's jobs? pass --redis")
    ids = []
    for minute in range(1, jobs_count + 1):
        now = first_minute(jobs_count) + timedelta(minutes=minute, seconds=-1)
        # What RqJobQueue enqueues (run_job with the job), with the longer timeout and result kept for the bench.
        ids.append(queue.enqueue(run_job, args=(jobs.sweep_deadlines, now.isoformat(), batch), job_timeout=3600,
                                 result_ttl=600).id)
    return ids


def peaks_per_job(redis: Redis, ids: list[str], samples: list[tuple[float, int, int]], column: int) -> list[int]:
    """The largest RSS sampled while each job ran (rq's own started/ended times), in bytes."""
    peaks = []
    for job in Job.fetch_many(ids, connection=redis):
        if job is None or job.started_at is None or job.ended_at is None:
            raise SystemExit("a sweep job did not finish; see the worker's output")
        began, ended = (_epoch(moment) for moment in (job.started_at, job.ended_at))
        peaks.append(max((s[column] for s in samples if began <= s[0] <= ended), default=0))
    return [peak for peak in peaks if peak]


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def growth(peaks: list[int]) -> float:
    """Median peak of the jobs in the last quarter of the run minus that of the first quarter (bytes)."""
    if len(peaks) < 4:
        return 0.0
    quarter = len(peaks) // 4
    # Rounded, plus 0.0: a flat run prints +0.0, not -0.0.
    return round(statistics.median(peaks[-quarter:]) - statistics.median(peaks[:quarter]), -4) + 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=20_000, help="due deadline rows (one open task each)")
    parser.add_argument("--jobs", type=int, default=20, help="sweep jobs, one per minute of due rows")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--completions", type=int, default=0, metavar="N",
                        help="instead: RSS of one process completing N tasks (e.g. 10000), growth after warm-up")
    parser.add_argument("--warm", type=int, default=1000, help="completions before the first measured RSS")
    parser.add_argument("--every", type=int, default=500, help="completions between RSS samples")
    parser.add_argument("--in-flight", type=int, default=1,
                        help="roadmaps under way at once, one step each in turn (300: past the live-workflow cache)")
    args = parser.parse_args()
    if args.completions:
        completions(args.completions, args.every, args.warm, args.in_flight)
        return
    db = fresh_database(DATABASE)
    started = time.monotonic()
    load(db, args.due, args.jobs)
    print(f"  loaded {args.due} due rows in {time.monotonic() - started:.0f} s", file=sys.stderr)
    redis = Redis.from_url(args.redis)
    env = {**os.environ, "DATABASE_URL": f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{DATABASE}",
           "REDIS_URL": args.redis}
    _, bare, _ = run_worker([str(BIN / "roadmap"), "worker", "--burst"], env)
    lines = []
    for name, command in (
        ("forking worker", [str(BIN / "roadmap"), "worker", "--burst"]),
        ("SimpleWorker", [str(BIN / "rq"), "worker", "--burst", "--worker-class", "rq.SimpleWorker",
                          "--url", args.redis, QUEUE_NAME]),
    ):
        reset(db)
        ids = queue_sweeps(redis, args.jobs, args.batch)
        samples, peak, seconds = run_worker(command, env)
        fired = _fired(db)
        # In the forking worker the work happens in the horse (column 2); in SimpleWorker, in the worker.
        peaks = peaks_per_job(redis, ids, samples, 2 if name == "forking worker" else 1)
        print(f"  {name}, peak RSS per job (MiB): {' '.join(f'{p / MIB:.0f}' for p in peaks)}", file=sys.stderr)
        lines.append((name, peak, growth(peaks), max(s[1] for s in samples), seconds, fired))
    db.engine.dispose()
    for name, peak, grew, parent, seconds, fired in lines:
        print(f"  {name}: {fired} deadlines in {seconds:.0f} s, peak RSS {peak / MIB:.0f} MiB (worker process "
              f"itself {parent / MIB:.0f} MiB), growth first to last quarter {grew / MIB:+.1f} MiB", file=sys.stderr)
    fork, simple = lines
    print(f"memory: {args.jobs} sweep jobs over {args.due} due deadlines; bare worker {bare / MIB:.0f} MiB; "
          f"forking worker peak {fork[1] / MIB:.0f} MiB, growth {fork[2] / MIB:+.1f} MiB; "
          f"SimpleWorker peak {simple[1] / MIB:.0f} MiB, growth {simple[2] / MIB:+.1f} MiB")


def _fired(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM deadline WHERE fired_at IS NOT NULL")).scalar_one())


# --- completions in one long-lived process ---------------------------------------------------------------


def completions_child(url: str, key: str, total: int, every: int, in_flight: int = 1) -> None:
    """In a fresh process (no recycling, as a web worker with ``max_requests`` off): whole lifecycles of the
    six-task template, start and every completion through the engine services, one after another; after
    every ``every`` completions a full garbage collection and a sample of this process's VmRSS, printed as
    ``completions instances rss_bytes``; at the end the caches' sizes (``engine.caches``). With ``in_flight``
    above 1, that many roadmaps are under way at once and take turns, one step each (as many schools do),
    so the live-workflow cache fills to its limit and must let the oldest go."""
    import gc
    from collections import deque

    from engine import caches
    from engine.actors import OPERATOR
    from engine.process import instances, tasks

    db = Database.from_url(url)
    done = lifecycles = 0
    under_way: deque[list[int]] = deque()
    while done < total:
        while len(under_way) < in_flight:
            started = instances.start_instance(db, key, f"B{lifecycles % 50}", actor=OPERATOR)
            under_way.append(list(started.ready_task_ids))
            lifecycles += 1
        todo = under_way.popleft()
        completed = tasks.complete_task(db, todo.pop(), {"note": "готово"}, actor="bench-both")
        todo.extend(completed.next_task_ids)
        if todo:
            under_way.append(todo)
        done += 1
        if done % every == 0:
            gc.collect()
            print(f"{done} {lifecycles} {rss(os.getpid())}", flush=True)
    for name, size in caches.sizes(db.caches).items():
        print(f"cache {name} {size.size} {size.limit}", flush=True)


def completions(total: int, every: int, warm: int, in_flight: int = 1) -> None:
    """RSS of one process completing ``total`` tasks: growth from ``warm`` completions to the end."""
    from bench.throughput import setup
    from engine.org.core import GrantRow, OrgData, UserRow, apply_org
    from engine.roles import Role

    db = fresh_database("roadmap_bench_memory_completions")
    key = setup(db)
    schools = [f"B{i}" for i in range(50)]
    apply_org(db, OrgData(users=[UserRow("bench-both", "Школа и куратор")],
                          grants=[GrantRow("bench-both", role, code) for code in schools
                                  for role in (Role.SCHOOL, Role.CURATOR)]))
    url = db.engine.url.render_as_string(hide_password=False)
    db.engine.dispose()
    begin = time.perf_counter()
    command = [sys.executable, __file__, "--completions-child", url, key, str(total), str(every), str(in_flight)]
    child = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    elapsed = time.perf_counter() - begin
    samples = [tuple(map(int, line.split())) for line in child.stdout.splitlines() if not line.startswith("cache")]
    for done, lifecycles, size in samples:
        print(f"  {done:6d} completions ({lifecycles:5d} roadmaps started): RSS {size / MIB:7.1f} MiB", file=sys.stderr)
    for line in child.stdout.splitlines():
        if line.startswith("cache"):
            _, name, size, limit = line.split()
            print(f"  cache {name:<28} {size:>6} of {limit}", file=sys.stderr)
    at_warm = next(size for done, _, size in samples if done >= warm)
    last_done, last_lifecycles, at_end = samples[-1]
    grown = (at_end - at_warm) / MIB
    print(f"memory (completions, {in_flight} under way): RSS {at_warm / MIB:.1f} MiB after {warm} completions, "
          f"{at_end / MIB:.1f} MiB after {last_done} ({last_lifecycles} roadmaps started): growth {grown:+.1f} MiB "
          f"(target <= 5 MiB: {'ok' if grown <= 5 else 'ABOVE TARGET'}); {elapsed:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--completions-child":
        completions_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        sys.exit(0)
    main()
