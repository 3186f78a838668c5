"""The engine's view of background work: a queue it can hand a job to, by name and ids.

Two implementations live in ``workers/``: rq on Redis in production, and an inline one that runs the
job at once in-process (the embedded default, no Redis needed). Jobs are module-level functions in
``workers.jobs`` that take plain ids, so either queue can run them.
"""

from __future__ import annotations

from typing import Any, Protocol


class JobQueue(Protocol):
    def enqueue(self, job: str, *args: Any) -> str:
        """Schedule ``workers.jobs.<job>(*args)``; return an id to look the job up by."""
        ...
