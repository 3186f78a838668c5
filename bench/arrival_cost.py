"""What telling people about new tasks costs: a completion with and without its arrival row, and the sweep's
cost per arrival.

A completion's arrival row is one more parameter set in the INSERT of deadline rows the completion makes
anyway. A whole-throughput run cannot see a difference that small on a shared machine, so this measures it
directly: blocks of whole lifecycles (``bench/throughput.py``'s six-task template, every completion through
``complete_task``), the arrival row written in one block and left out in the next (the same wrapper in
both, so only the row differs), alternating, as CPU time and wall time per completion (medians over the
blocks). Then ``--starts`` instances are started (an arrival each, all for the one school user of the bench
org — a cohort start's shape) and one sweep announces them: milliseconds per arrival.

    python bench/arrival_cost.py [--lifecycles 20] [--rounds 6] [--starts 500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sweep_scaling import NOW, fresh_database
from bench.throughput import STEPS, engine, setup
from engine.actors import OPERATOR
from engine.deadlines.sweep import sweep
from engine.models import DeadlineKind
from engine.process import instances

_queue_row = instances.queue_row
_arrivals = {"on": True}  # switched per block


def _queue_row_maybe(session: Any, model: Any, values: dict[str, Any]) -> None:
    if _arrivals["on"] or values.get("kind") is not DeadlineKind.ARRIVAL:
        _queue_row(session, model, values)


def block(db: Any, key: str, lifecycles: int, arrivals: bool) -> tuple[float, float]:
    """(CPU ms, wall ms) per completion over ``lifecycles`` whole lifecycles."""
    _arrivals["on"] = arrivals
    cpu, wall = time.process_time(), time.perf_counter()
    engine(db, lifecycles, key)
    completions = lifecycles * STEPS
    return ((time.process_time() - cpu) * 1000 / completions, (time.perf_counter() - wall) * 1000 / completions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--starts", type=int, default=500)
    args = parser.parse_args()
    db = fresh_database("roadmap_bench_arrivals")
    key = setup(db)
    instances.queue_row = _queue_row_maybe  # type: ignore[assignment]
    block(db, key, args.lifecycles, True)  # warm-up: caches, compiled template, connections
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for arrivals in ((False, True) if round_ % 2 else (True, False)):
            runs[arrivals].append(block(db, key, args.lifecycles, arrivals))
    cpu = {mode: statistics.median(c for c, _ in values) for mode, values in runs.items()}
    wall = {mode: statistics.median(w for _, w in values) for mode, values in runs.items()}
    for mode, name in ((False, "without arrival rows"), (True, "with arrival rows")):
        print(f"  {name:<22} CPU {cpu[mode]:.2f} ms, wall {wall[mode]:.2f} ms per completion; blocks: CPU "
              f"{', '.join(f'{c:.2f}' for c, _ in runs[mode])}; wall {', '.join(f'{w:.1f}' for _, w in runs[mode])}",
              file=sys.stderr)
    paired = [on[0] - off[0] for on, off in zip(runs[True], runs[False], strict=True)]
    print(f"  CPU difference per round (with − without): {', '.join(f'{d:+.2f}' for d in paired)} ms; "
          f"median {statistics.median(paired):+.2f} ms", file=sys.stderr)
    _arrivals["on"] = True
    for i in range(args.starts):
        instances.start_instance(db, key, f"B{i % 50}", actor=OPERATOR)
    begin = time.perf_counter()
    report = sweep(db, now=NOW)
    seconds = time.perf_counter() - begin
    per_arrival = seconds * 1000 / max(report.announced, 1)
    print(f"arrivals: +{cpu[True] - cpu[False]:.2f} ms CPU, +{wall[True] - wall[False]:.2f} ms wall per completion "
          f"(medians of {args.rounds} blocks of {args.lifecycles * STEPS} completions each); sweep announced "
          f"{report.announced} arrivals in {seconds * 1000:.0f} ms ({per_arrival:.2f} ms each, "
          f"{report.batches} batches)")


if __name__ == "__main__":
    main()
