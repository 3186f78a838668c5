"""Every in-process cache, bounded and observable.

A worker process lives for thousands of requests (gunicorn recycles it only every ~2,000; rq's
SimpleWorker and the inline queue never), so a cache that grows with instances, versions, users or
dates is a leak with a delay. Each cache of the engine is therefore either a ``Bounded`` LRU (size
limit, hit and miss counts) or a ``functools.lru_cache`` with a ``maxsize``, and each is registered
here by name, so that ``sizes()`` — shown by ``/health`` and asserted by the tests — lists every one
with its size and limit. A cache keyed by something that never repeats cannot hide: the test that
runs many completions checks that no registered cache is past its limit, and the memory benchmark
(``bench/memory.py --completions``) measures what the process as a whole keeps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class CacheSize:
    size: int
    limit: int
    hits: int
    misses: int


class Bounded(Generic[K, V]):
    """A thread-safe LRU of at most ``limit`` entries (0: keeps nothing)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return found

    def pop(self, key: K) -> V | None:
        """Take the entry out (counted as a hit or a miss): what the live-workflow cache does."""
        with self._lock:
            found = self._items.pop(key, None)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def size(self) -> CacheSize:
        return CacheSize(len(self._items), self.limit, self.hits, self.misses)


_REGISTRY: dict[str, Callable[[], CacheSize]] = {}


def register(name: str, cache: Bounded[Any, Any]) -> None:
    _REGISTRY[name] = cache.size


def register_lru(name: str, function: Any) -> None:
    """A ``functools.lru_cache``-wrapped function; it must have a ``maxsize`` (None would be unbounded)."""
    if function.cache_parameters()["maxsize"] is None:
        raise ValueError(f"{name}: an lru_cache without maxsize grows without bound")

    def size() -> CacheSize:
        info = function.cache_info()
        return CacheSize(info.currsize, info.maxsize, info.hits, info.misses)

    _REGISTRY[name] = size


def sizes(per_database: dict[str, Any] | None = None) -> dict[str, CacheSize]:
    """Every registered cache by name, and those of a database (``Database.caches``: the live workflows)."""
    found = {name: size() for name, size in sorted(_REGISTRY.items())}
    for name, cache in sorted((per_database or {}).items()):
        found[name] = cache.stats()
    return found
