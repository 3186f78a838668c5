"""Every in-process cache is bounded and listed (issue 21): a worker that lives for thousands of requests must
not keep something per instance, version, user or day without a limit."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from engine import caches
from engine.actors import OPERATOR
from engine.caches import Bounded
from engine.db import Database
from engine.process import instances, live_workflows, tasks
from engine.templates import versions
from tests.conftest import Org, make_org
from web.app import create_app


@pytest.fixture
def pg_org(pg_db: Database) -> Org:
    return make_org(pg_db)


def test_a_bounded_cache_keeps_its_newest_entries_up_to_its_limit() -> None:
    cache: Bounded[int, str] = Bounded(3)
    for key in range(5):
        cache.put(key, str(key))
    assert len(cache) == 3 and cache.get(0) is None and cache.get(1) is None
    assert cache.get(2) == "2"  # used: now the newest
    cache.put(5, "5")
    assert cache.get(3) is None and cache.get(2) == "2" and cache.get(5) == "5"
    assert cache.pop(5) == "5" and cache.pop(5) is None
    size = cache.size()
    assert (size.size, size.limit) == (2, 3) and size.hits == 4 and size.misses == 4
    nothing: Bounded[int, int] = Bounded(0)
    nothing.put(1, 1)
    assert len(nothing) == 0


def test_an_unbounded_lru_cache_is_refused() -> None:
    @functools.cache
    def unbounded(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="without maxsize"):
        caches.register_lru("unbounded", unbounded)


def test_every_registered_cache_has_a_limit_and_the_health_check_lists_them(db: Database) -> None:
    client = create_app({"DATABASE": db, "TESTING": True}).test_client()  # imports every module of the app
    names = set(caches.sizes())
    # The caches of issue 21's list: compiled templates, stage titles, and the memos of the hot paths.
    assert {"compiled_templates", "stage_titles", "actor_scopes", "actor_grant_texts", "russian_working_days", "zones",
            "checked_expressions", "together_statements", "translation_catalogs"} <= names
    for name, size in caches.sizes(db.caches).items():
        assert size.limit >= 0 and size.size <= size.limit, name  # 0: turned off (ROADMAP_LIVE_WORKFLOWS=0)
    response = client.get("/health")
    assert response.status_code == 200 and response.json is not None
    listed = response.json["caches"]
    assert names <= set(listed) and all(entry["size"] <= entry["limit"] for entry in listed.values())


def test_caches_stay_within_their_bounds_over_many_completions(pg_db: Database, pg_org: Org,
                                                               bundle_copy: Path) -> None:
    """More instances than the live-workflow cache holds: it stays at its limit, and so does every other."""
    db = pg_db
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    live = live_workflows.of(db)
    limit, live.size = live.size, 4
    try:
        live.clear()
        for _ in range(10):
            started = instances.start_instance(db, key, pg_org.school, actor=OPERATOR)
            [task_id] = started.ready_task_ids
            tasks.complete_task(db, task_id, {"coverage": 40}, actor=pg_org.school_user)
            assert live.stats().size <= 4
        assert live.stats().size == 4  # full, not past it: the oldest instances were let go
        for name, size in caches.sizes(db.caches).items():
            assert size.size <= size.limit, name
    finally:
        live.size = limit
