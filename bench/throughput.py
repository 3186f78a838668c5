"""Engine throughput: whole lifecycles of a six-user-task template, completed through the engine services
on PostgreSQL, against the same BPMN run by raw SpiffWorkflow in memory — in the same run, as task
completions per second and their ratio (the benchmark issue's target: at least 0.5×).

    python bench/throughput.py [--lifecycles 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from bench.sweep_scaling import fresh_database  # noqa: E402
from engine import instances, tasks, templates  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.org import GrantRow, OrgData, UserRow, apply_org  # noqa: E402
from engine.roles import Role  # noqa: E402

BUNDLE = Path(__file__).resolve().parent / "bundles" / "six"
STEPS = 6
DATA = {"note": "готово"}


def raw_spiff(lifecycles: int) -> float:
    """Completions per second with SpiffWorkflow alone, in memory (no storage, no checks)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BUNDLE / "six.bpmn"))
    spec, subprocesses = parser.get_spec("six"), parser.get_subprocess_specs("six")
    start = time.perf_counter()
    for _ in range(lifecycles):
        workflow = BpmnWorkflow(spec, subprocesses)
        workflow.do_engine_steps()
        while not workflow.is_completed():
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(DATA)
            task.run()
            workflow.do_engine_steps()
    return lifecycles * STEPS / (time.perf_counter() - start)


def engine(db: Database, lifecycles: int, key: str) -> float:
    """Completions per second through the engine: authorization, form validation, row lock, workflow
    restore and store, task mirroring, deadline rows and audit — on PostgreSQL."""
    started = [instances.start_instance(db, key, f"B{i % 50}").instance_id for i in range(lifecycles)]
    by_instance = {instance_id: None for instance_id in started}
    begin = time.perf_counter()
    completions = 0
    for _ in range(STEPS):
        for login in ("bench-school", "bench-curator"):
            for task in tasks.list_tasks(db, login, limit=100_000):
                if task.instance_id in by_instance:
                    tasks.complete_task(db, task.id, login, DATA)
                    completions += 1
    return completions / (time.perf_counter() - begin)


def setup(db: Database) -> str:
    schools = [(f"B{i}", f"Школа {i}", "BM") for i in range(50)]
    grants = [GrantRow("bench-school", Role.SCHOOL, code) for code, _, _ in schools]
    grants += [GrantRow("bench-curator", Role.CURATOR, code) for code, _, _ in schools]
    apply_org(db, OrgData(regions=[("BR", "Регион")], municipalities=[("BM", "Район", "BR")], schools=schools,
                          users=[UserRow("bench-school", "Школа"), UserRow("bench-curator", "Куратор")],
                          grants=grants))
    return templates.deploy_template(db, templates.read_bundle(BUNDLE)).key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    db = fresh_database("roadmap_bench_throughput")
    key = setup(db)
    raw = statistics.median(raw_spiff(args.lifecycles) for _ in range(args.repeat))
    ours = statistics.median(engine(db, args.lifecycles, key) for _ in range(args.repeat))
    verdict = "ok" if ours / raw >= 0.5 else "BELOW TARGET"
    print(f"throughput: raw SpiffWorkflow in memory {raw:.0f} completions/s, engine on PostgreSQL {ours:.0f}/s, "
          f"ratio {ours / raw:.2f} (target >= 0.5: {verdict})")
    db.engine.dispose()


if __name__ == "__main__":
    main()
