"""Who acts (engine/actors.py, docs/architecture.md «Who acts»): every engine service that acts for someone
takes one required keyword-only ``actor: Who`` — checked on the signatures themselves, so a new service with
``login`` second or ``actor_login=None`` fails here the day it is written."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import engine
from engine.actors import OPERATOR, Operator, Who, is_operator, login_of
from engine.errors import NotAllowed

#: Services (a ``db`` first) that act for nobody, and why. A new service without ``actor`` must be added here.
ACTS_FOR_NOBODY = {
    "org.accounts.sign_in": "the login is the credential being checked, not someone acting",
    "org.accounts.sign_out": "ends the session whose token is given",
    "org.accounts.session_user": "reads who holds a session",
    "org.api_tokens.authenticate": "turns a bearer token into the login that acts",
    "process.cohorts.ensure_cohort": "setup, called by start_cohort after it authorized",
    "reports.dashboards.template_process": "the id of a template's process, nothing about schools",
    "db.upgrade_schema": "the schema, `roadmap init`",
    "deadlines.sweep.sweep": "the clock acting, from cron",
    "demo.set_missing_passwords": "the demo loader, `roadmap demo`",
    "demo.load_demo": "the demo loader, `roadmap demo`",
    "demo_story.tell": "the demo loader's story: each step acts as the demo user whose step it is",
    "deadlines.digests.queue_digests": "the clock acting, from cron",
    "process.migration.run_migration": "the job of a run start_migration authorized (its actor is on the run)",
    "process.batches.run_batch": "the job of a run start_batch authorized (it acts as the run's creator)",
    "process.live_workflows.of": "the in-process cache",
    "process.mailer.deliver": "the outbox, from a job",
    "process.mailer.due_messages": "the outbox, from a job",
    "process.mailer.deliver_due": "the outbox, `roadmap deliver`",
    "process.webhooks.dispatch_events": "the event outbox's fan-out, from a cron job",
    "process.webhooks.due_deliveries": "webhook deliveries due again, from a cron job",
    "process.webhooks.deliver": "one webhook delivery, from a job",
    "process.webhooks.prune": "the daily prune of old events, from a cron job",
    "org.core.apply_org": "writes checked org data: import_org authorizes before calling it; the demo loader",
    "process.questionnaires.link_page": "an anonymous respondent, who holds the link's token",
    "process.questionnaires.submit_by_link": "an anonymous respondent, who holds the link's token",
    "reports.status.stage_status": "the report itself: dashboards.matrix checks the area and calls it; the CLI",
    "reports.status.area_counts": "the report itself: dashboards.area_summary checks the area and calls it",
    "templates.versions.deploy_bundled_templates": "`roadmap init` deploying workflows/ (deploy_template as the operator)",
    "templates.versions.stage_titles": "template titles, the same for every user",
    "templates.versions.all_stage_titles": "template titles, the same for every user",
    "templates.versions.template_keys": "template keys, the same for every user",
    "templates.versions.list_versions": "template versions, the same for every signed-in user",
}

#: The old ways of saying who acts; none may come back.
OLD_NAMES = {"login", "actor_login", "admin_login", "actor_id"}


def _modules() -> Iterator[str]:
    """The engine's root modules and those of its feature packages (not bpmn, which has no services)."""
    for found in pkgutil.iter_modules(engine.__path__):
        if not found.ispkg:
            yield f"engine.{found.name}"
        elif found.name != "bpmn":
            package = importlib.import_module(f"engine.{found.name}")
            yield from (f"engine.{found.name}.{inner.name}" for inner in pkgutil.iter_modules(package.__path__))


def _services() -> Iterator[tuple[str, Callable[..., Any]]]:
    """Public functions of the engine's modules that take the database first: its use cases."""
    for dotted in _modules():
        if dotted == "engine.cli":  # click commands, which call the services
            continue
        module = importlib.import_module(dotted)
        for name, value in vars(module).items():
            if (not name.startswith("_") and inspect.isfunction(value) and value.__module__ == module.__name__
                    and next(iter(inspect.signature(value).parameters), None) == "db"):
                yield f"{dotted.removeprefix('engine.')}.{name}", value


SERVICES = dict(_services())


def test_the_services_are_found() -> None:
    assert {"process.tasks.complete_task", "process.instances.start_cohort", "org.importing.import_org",
            "templates.diff.diff_versions", "org.accounts.change_password"} <= set(SERVICES)
    assert len(SERVICES) > 80


@pytest.mark.parametrize("name", sorted(set(SERVICES) - set(ACTS_FOR_NOBODY)))
def test_a_service_takes_actor_as_a_required_keyword(name: str) -> None:
    parameters = inspect.signature(SERVICES[name]).parameters
    actor = parameters.get("actor")
    assert actor is not None, f"{name}: no actor= (or add it to ACTS_FOR_NOBODY with the reason)"
    assert actor.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}: actor must come after *"
    assert actor.default is inspect.Parameter.empty, f"{name}: actor must have no default"
    assert actor.annotation == "Who", f"{name}: actor is a Who (a login or OPERATOR)"
    old = OLD_NAMES & set(parameters)
    assert not old, f"{name}: who acts is said by actor= only, not {sorted(old)}"


@pytest.mark.parametrize("name", sorted(ACTS_FOR_NOBODY))
def test_a_service_that_acts_for_nobody_says_so_and_takes_no_actor(name: str) -> None:
    assert name in SERVICES, f"{name} is no longer a service: remove it from ACTS_FOR_NOBODY"
    parameters = set(inspect.signature(SERVICES[name]).parameters)
    assert "actor" not in parameters
    assert not (OLD_NAMES & parameters) or name == "org.accounts.sign_in"


def test_forgetting_the_actor_is_a_type_error() -> None:
    from engine.process.tasks import claim_task

    with pytest.raises(TypeError, match="actor"):
        claim_task(None, 1)  # type: ignore[arg-type, call-arg]


def test_the_operator_is_one_explicit_frozen_value() -> None:
    assert isinstance(OPERATOR, Operator) and OPERATOR.reason
    with pytest.raises(dataclasses.FrozenInstanceError):
        OPERATOR.reason = "кто-то ещё"  # type: ignore[misc]
    who: Who = OPERATOR
    assert is_operator(who) and not is_operator("admin")


def test_only_a_user_has_a_login() -> None:
    assert login_of("school-1") == "school-1"
    with pytest.raises(NotAllowed, match="пользователь"):
        login_of(OPERATOR)
