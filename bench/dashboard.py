"""Dashboards: the stage-status matrix of a region of 3,000 schools and of the country (40,000), read
from instance and task rows — against the naive way of answering the same question with raw
SpiffWorkflow: restoring each instance's workflow to see what it waits on (the same run, a sample).

    python bench/dashboard.py [--schools 40000] [--region 3000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sweep_scaling import _copy, fresh_database
from engine.actors import OPERATOR
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.reports.status import area_counts, stage_status
from engine.templates import versions

ROADMAP = Path(__file__).resolve().parents[1] / "workflows" / "roadmap-500"
NOW = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)
STAGES = ["selection", "questionnaire", "risk_profile", "measures_program", "monitoring", "evaluation"]
ELEMENTS = ["confirm_participation", "run_questionnaires", "choose_risk_directions", "prepare_concept",
            "curator_visit", "school_report"]
ROLES = ["regional_coordinator", "school", "school", "school", "curator", "school"]


def load_country(db: Database, schools: int, region_size: int) -> tuple[int, str]:
    """84 regions, one of them with ``region_size`` schools; one running instance per school, one open
    task each at a stage spread over the six; a fifth of them overdue. Returns (version id, sample JSON)."""
    deployed = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR)
    with db.reading() as session:
        compiled = versions.compiled_version(session, deployed.template_version_id)
    state = WorkflowRun.start(compiled, {"school": {"code": "S", "name": "Школа"}}).dump()
    regions = 84
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        _copy(cursor, "region (id, code, name)", ((r, f"R{r}", f"Регион {r}") for r in range(1, regions + 1)))
        _copy(cursor, "municipality (id, code, name, region_id)",
              ((m, f"M{m}", f"Район {m}", _region_of_municipality(m)) for m in range(1, 2001)))
        _copy(cursor, "school (id, code, name, municipality_id, region_id)",
              ((s, f"S{s}", f"Школа {s}", _municipality(s, region_size), _region_of_municipality(
                  _municipality(s, region_size))) for s in range(1, schools + 1)))
        _copy(cursor, "process_instance (id, template_version_id, school_id, status, current_stage, workflow_json,"
                      " serializer_version, version, started_at)",
              ((s, deployed.template_version_id, s, "running", STAGES[s % 6], state, "bench", 1, NOW)
               for s in range(1, schools + 1)))
        _copy(cursor, "task (id, instance_id, spiff_task_id, element_id, name, stage, role, form_key, school_id,"
                      " municipality_id, region_id, status, due_at, escalation_level, federal_overdue, created_at)",
              ((s, s, f"00000000-0000-0000-0000-{s:012d}", ELEMENTS[s % 6], "Задача", STAGES[s % 6], ROLES[s % 6],
                ELEMENTS[s % 6], s, _municipality(s, region_size),
                _region_of_municipality(_municipality(s, region_size)), "ready",
                NOW - timedelta(days=3) if s % 5 == 0 else NOW + timedelta(days=10), 1 if s % 10 == 0 else 0,
                False, NOW - timedelta(days=20)) for s in range(1, schools + 1)))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return deployed.template_version_id, state


def _municipality(school: int, region_size: int) -> int:
    """Region 1 has municipalities 1–40 and the first ``region_size`` schools; the rest spread out."""
    if school <= region_size:
        return 1 + school % 40
    return 41 + school % 1960


def _region_of_municipality(municipality: int) -> int:
    return 1 if municipality <= 40 else 2 + (municipality - 41) % 83


def median_ms(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def naive_ms_per_instance(version_id: int, state: str, db: Database, sample: int = 200) -> float:
    """Raw SpiffWorkflow's way: restore each workflow to ask what it waits on (per instance, in ms)."""
    with db.reading() as session:
        compiled = versions.compiled_version(session, version_id)
    document = json.loads(state)
    start = time.perf_counter()
    for _ in range(sample):
        WorkflowRun.restore(compiled, json.dumps(document)).ready_user_tasks()
    return (time.perf_counter() - start) * 1000 / sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=40_000)
    parser.add_argument("--region", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    db = fresh_database("roadmap_bench_dashboard")
    db.clock = lambda: NOW
    version_id, state = load_country(db, args.schools, args.region)
    # What the pages ask: the country and a region get counts per area, a municipality its schools.
    region_ms = median_ms(lambda: area_counts(db, "roadmap-500", region_code="R1"), args.repeat)
    country_ms = median_ms(lambda: area_counts(db, "roadmap-500"), args.repeat)
    municipality_ms = median_ms(lambda: stage_status(db, "roadmap-500", municipality_code="M2"), args.repeat)
    full_region_ms = median_ms(lambda: stage_status(db, "roadmap-500", region_code="R1"), args.repeat)
    per_instance = naive_ms_per_instance(version_id, state, db)
    naive_region_ms = per_instance * args.region
    print(f"  counts: region of {args.region} {region_ms:.1f} ms, country of {args.schools} {country_ms:.1f} ms; "
          f"school matrix: a municipality (~75) {municipality_ms:.1f} ms, the whole region {full_region_ms:.0f} ms "
          f"(export); raw SpiffWorkflow restore {per_instance:.2f} ms/instance", file=sys.stderr)
    print(f"dashboard: region {args.region} p50 {region_ms:.1f} ms (target <= 30), country {args.schools} p50 "
          f"{country_ms:.1f} ms (target <= 100); raw SpiffWorkflow restoring the region's workflows: "
          f"{naive_region_ms:.0f} ms, ratio {naive_region_ms / region_ms:.0f}x")
    db.engine.dispose()


if __name__ == "__main__":
    main()
