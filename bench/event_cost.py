"""What the event outbox costs a completion, and what the fan-out costs per event.

A completion queues its events (``task.completed``, the next ``task.ready``, a ``stage.changed``) with its
other write-only rows, so they go in with the step's one ``insert_pending``: one more INSERT statement (the
``event`` table's) per step, not one per event. This measures it as ``bench/arrival_cost.py`` measures the
arrival row: blocks of whole lifecycles (``bench/throughput.py``'s six-task template, every completion
through ``complete_task``), events written in one block and left out in the next (the same wrapper in both),
alternating, as CPU and wall time per completion (medians over the blocks). Then one subscriber is added and
the fan-out turns the events of ``--lifecycles`` more lifecycles into deliveries: milliseconds per event.

    python bench/event_cost.py [--lifecycles 20] [--rounds 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sweep_scaling import fresh_database
from bench.throughput import STEPS, engine, setup
from engine.actors import OPERATOR
from engine.process import events, webhooks

_queue_row = events.queue_row
_events = {"on": True}  # switched per block


def _queue_row_maybe(session: Any, model: Any, values: dict[str, Any]) -> None:
    if _events["on"]:
        _queue_row(session, model, values)


_statements = {"count": 0}


def _count(*_: Any) -> None:
    _statements["count"] += 1


def block(db: Any, key: str, lifecycles: int, on: bool) -> tuple[float, float, float]:
    """(CPU ms, wall ms, SQL statements) per completion over ``lifecycles`` whole lifecycles."""
    _events["on"] = on
    _statements["count"] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    engine(db, lifecycles, key)
    completions = lifecycles * STEPS
    return ((time.process_time() - cpu) * 1000 / completions, (time.perf_counter() - wall) * 1000 / completions,
            _statements["count"] / completions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    db = fresh_database("roadmap_bench_events")
    key = setup(db)
    event.listen(db.engine, "before_cursor_execute", _count)
    events.queue_row = _queue_row_maybe  # type: ignore[assignment]
    block(db, key, args.lifecycles, True)  # warm-up: caches, compiled template, connections
    runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for on in ((False, True) if round_ % 2 else (True, False)):
            runs[on].append(block(db, key, args.lifecycles, on))
    cpu = {mode: statistics.median(c for c, _, _ in values) for mode, values in runs.items()}
    wall = {mode: statistics.median(w for _, w, _ in values) for mode, values in runs.items()}
    sql = {mode: statistics.median(n for _, _, n in values) for mode, values in runs.items()}
    for mode, name in ((False, "without event rows"), (True, "with event rows")):
        print(f"  {name:<20} CPU {cpu[mode]:.2f} ms, wall {wall[mode]:.2f} ms, {sql[mode]:.2f} statements per "
              f"completion; blocks: CPU {', '.join(f'{c:.2f}' for c, _, _ in runs[mode])}; wall "
              f"{', '.join(f'{w:.1f}' for _, w, _ in runs[mode])}", file=sys.stderr)
    paired = [on[0] - off[0] for on, off in zip(runs[True], runs[False], strict=True)]
    print(f"  CPU difference per round (with − without): {', '.join(f'{d:+.2f}' for d in paired)} ms; "
          f"median {statistics.median(paired):+.2f} ms", file=sys.stderr)
    _events["on"] = True
    while webhooks.dispatch_events(db).events:  # what is there so far goes to nobody
        pass
    webhooks.create_webhook(db, "https://receiver.example/hook", list(events.TYPES), actor=OPERATOR)
    engine(db, args.lifecycles, key)
    begin, deliveries, batches = time.perf_counter(), 0, 0
    while (batch := webhooks.dispatch_events(db)).events:
        deliveries, batches = deliveries + len(batch.delivery_ids), batches + 1
    seconds = time.perf_counter() - begin
    print(f"events: {cpu[True] - cpu[False]:+.2f} ms CPU, {wall[True] - wall[False]:+.2f} ms wall, "
          f"{sql[True] - sql[False]:+.2f} statements per completion "
          f"(medians of {args.rounds} blocks of {args.lifecycles * STEPS} completions each); the fan-out made "
          f"{deliveries} deliveries in {seconds * 1000:.0f} ms ({seconds * 1000 / max(deliveries, 1):.3f} ms each, "
          f"{batches} batches)")


if __name__ == "__main__":
    main()
