"""Bulk start: a cohort of «500+» roadmaps started for every school of a world of 3,000 and of 40,000 schools,
through ``engine.process.instances.start_cohort`` on PostgreSQL, against raw SpiffWorkflow starting the same number of
workflows of the same BPMN in memory — in the same run.

Each size gets a database of its own (schools loaded with COPY). Timed: the whole ``start_cohort`` call —
finding the schools without a roadmap, starting each workflow, and writing instances, task rows, deadline rows
and audit records, chunk by chunk. Targets: 3,000 in at most 10 s, 40,000 in at most 120 s.

    python bench/bulk_start.py [--small 3000] [--large 10000] [--repeat 1]

``make bench`` runs the quick sizes; ``--large 40000`` is the full country (a few minutes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from bench.sweep_scaling import _copy, fresh_database
from engine.actors import OPERATOR
from engine.db import Database
from engine.process import instances
from engine.templates import versions

ROADMAP = Path(__file__).resolve().parents[1] / "workflows" / "roadmap-500"
YEAR = 2027
SCHOOLS_PER_MUNICIPALITY = 75
MUNICIPALITIES_PER_REGION = 40


def raw_spiff(schools: int) -> float:
    """Seconds for SpiffWorkflow alone to start ``schools`` workflows in memory (no storage, no checks)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(ROADMAP / "roadmap-500.bpmn"))
    parser.add_dmn_file(str(ROADMAP / "risk-factors.dmn"))
    process = parser.get_process_ids()[0]
    spec, subprocesses = parser.get_spec(process), parser.get_subprocess_specs(process)
    begin = time.perf_counter()
    for i in range(schools):
        workflow = BpmnWorkflow(spec, subprocesses)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update({"school": {"code": f"S{i}", "name": f"Школа {i}"}, "cohort": YEAR})
        workflow.do_engine_steps()
    return time.perf_counter() - begin


def load_schools(db: Database, schools: int) -> None:
    """A country of ``schools`` schools: 75 per municipality, 40 municipalities per region (COPY)."""
    municipalities = -(-schools // SCHOOLS_PER_MUNICIPALITY)
    regions = -(-municipalities // MUNICIPALITIES_PER_REGION)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        _copy(cursor, "region (id, code, name)", ((r, f"R{r}", f"Регион {r}") for r in range(1, regions + 1)))
        _copy(cursor, "municipality (id, code, name, region_id)",
              ((m, f"M{m}", f"Район {m}", (m - 1) // MUNICIPALITIES_PER_REGION + 1)
               for m in range(1, municipalities + 1)))
        _copy(cursor, "school (id, code, name, municipality_id, region_id)",
              ((s, f"S{s:06d}", f"Школа {s}", (s - 1) // SCHOOLS_PER_MUNICIPALITY + 1,
                ((s - 1) // SCHOOLS_PER_MUNICIPALITY) // MUNICIPALITIES_PER_REGION + 1)
               for s in range(1, schools + 1)))
        raw.commit()
    finally:
        raw.close()


def engine_start(schools: int) -> tuple[float, int]:
    """Seconds for ``start_cohort`` over a fresh world of ``schools`` schools, and how many it started."""
    db = fresh_database("roadmap_bench_bulk_start")
    try:
        load_schools(db, schools)
        key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
        begin = time.perf_counter()
        result = instances.start_cohort(db, key, YEAR, actor=OPERATOR)
        elapsed = time.perf_counter() - begin
        if result.failed:
            example = next(iter(result.failed.items()))
            raise SystemExit(f"bulk start: {len(result.failed)} schools failed, e.g. {example}")
        return elapsed, len(result.started)
    finally:
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3_000)
    parser.add_argument("--large", type=int, default=10_000, help="40000 for the full country")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    parts = []
    for size, target in ((args.small, 10 * args.small / 3_000), (args.large, 120 * args.large / 40_000)):
        runs = [engine_start(size) for _ in range(args.repeat)]
        assert all(started == size for _, started in runs), runs
        ours = statistics.median(seconds for seconds, _ in runs)
        raw = statistics.median(raw_spiff(size) for _ in range(args.repeat))
        print(f"  {size:>6} schools: start_cohort {ours:.1f} s ({size / ours:.0f}/s), raw SpiffWorkflow in memory "
              f"{raw:.1f} s ({size / raw:.0f}/s)", file=sys.stderr)
        verdict = "ok" if ours <= target else "ABOVE TARGET"
        parts.append(f"{size} schools {ours:.1f} s (target <= {target:.0f} s: {verdict}; "
                     f"raw SpiffWorkflow {raw:.1f} s, ratio {raw / ours:.2f})")
    print("bulk start: " + ", ".join(parts))


if __name__ == "__main__":
    main()
