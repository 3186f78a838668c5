"""Restored workflows kept in the process between two steps of the same instance.

Restoring a workflow from its JSON is the most expensive thing a completion does in Python. When the
next step of an instance comes to the same process (a school filling in one form after another), the
workflow left in memory by the previous step can be used instead — but only if it is exactly what the
database holds now:

- an entry is stored only after the transaction that wrote it committed (the caller keeps it then), or
  after a read of the committed row it was restored from, which left it unchanged (the task page);
- it is valid only for the stored ``version`` *and* the very JSON it was dumped to: any other writer
  (another process, a timer, an instance migration, a rolled-back attempt that never stored) leaves a
  different version or JSON in the row, and the entry is ignored;
- taking an entry removes it, so a workflow that a failed attempt changed in memory is never seen
  again, and two threads cannot share one live workflow.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.runtime import WorkflowRun
from engine.caches import CacheSize
from engine.db import Database

#: An instance id: each database has its own cache (``of``), so ids never meet another database's.
Key = int
#: How many workflows a process keeps per database; ``ROADMAP_LIVE_WORKFLOWS=0`` turns the cache off.
DEFAULT_SIZE = 256


@dataclass(frozen=True)
class _Entry:
    version: int
    state: str
    run: WorkflowRun


class LiveWorkflows:
    """A small LRU of workflows by instance, each valid for one stored (version, JSON) only."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size  # 0 turns the cache off
        self._items: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, key: Key, version: int, state: str) -> WorkflowRun | None:
        with self._lock:
            entry = self._items.pop(key, None)
            # Compare the JSON too: ids and versions can repeat (SQLite reuses ids after a rollback).
            if entry is None or entry.version != version or entry.state != state:
                self.misses += 1
                return None
            self.hits += 1
            return entry.run

    def keep(self, key: Key, version: int, state: str, run: WorkflowRun) -> None:
        """Call only after the commit that stored ``state`` as ``version`` (or after reading them from the
        committed row) with ``run`` exactly that state: restored from it or left by the step that dumped it."""
        with self._lock:
            self._items[key] = _Entry(version, state, run)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def stats(self) -> CacheSize:
        """Entries, limit and counts, for ``engine.caches.sizes`` (``/health``)."""
        return CacheSize(len(self._items), self.size, self.hits, self.misses)


def of(db: Database) -> LiveWorkflows:
    """The live workflows of this database in this process (created on first use)."""
    live = db.caches.get(_CACHE)
    if live is None:
        live = db.caches.setdefault(_CACHE, LiveWorkflows(int(os.environ.get("ROADMAP_LIVE_WORKFLOWS", DEFAULT_SIZE))))
    assert isinstance(live, LiveWorkflows)
    return live


_CACHE = "live_workflows"


def restore(live: LiveWorkflows, key: Key, version: int, template: CompiledTemplate, state: str) -> WorkflowRun:
    """The workflow as stored: from memory when the entry matches exactly, else from the JSON."""
    run = live.take(key, version, state)
    if run is not None and run.template is template:
        return run
    return WorkflowRun.restore(template, state)
