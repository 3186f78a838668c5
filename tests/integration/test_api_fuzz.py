"""Schemathesis against the API's own OpenAPI document: generated requests for every operation, as a
real user with a real token on PostgreSQL; the one property checked is that the server never fails (no
5xx), whatever it is sent. Bounded, so `make test` stays quick."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import delete, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import User, Webhook
from engine.org.api_tokens import create_token
from engine.process import instances
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import make_org
from tests.helpers import ROADMAP
from web.app import create_app


@pytest.fixture(scope="module")
def api_state(pg_db: Database) -> Iterator[dict[str, Any]]:
    org = make_org(pg_db)
    ensure_cohort(pg_db, 2039)
    key = versions.deploy_template(pg_db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instances.start_instance(pg_db, key, org.school, cohort_year=2039, actor=OPERATOR)
    token = create_token(pg_db, "fuzz", actor=org.admin)[1]  # an admin reaches every operation's code paths
    app = create_app({"DATABASE": pg_db, "TESTING": True, "SECRET_KEY": "fuzz"})
    yield {"app": app, "token": token}
    # The webhooks it subscribed (generated URLs) would be sent the later tests' events of the shared database.
    with pg_db.transaction() as session:
        session.execute(delete(Webhook).where(Webhook.created_by_id.in_(
            select(User.id).where(User.login == org.admin))))


def test_no_server_errors(api_state: dict[str, Any]) -> None:
    # schemathesis's pytest plugin does not load under pytest 9 here, so its strategies are driven directly.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_state["app"])
    headers = {"Authorization": f"Bearer {api_state['token']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def no_server_error(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        no_server_error()
