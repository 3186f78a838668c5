"""A draft's trial run (engine/process/simulation.py) on PostgreSQL and SQLite: the made-up school's tasks, who they
go to, their due times in working days and in the school's zone, forms validated as on the task page, errors in the
draft named — and not one row of real data written."""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine import models
from engine.actors import OPERATOR
from engine.cli import cli
from engine.db import Database
from engine.errors import FormInvalid, NotAllowed
from engine.org.regions import set_region_zone
from engine.process import simulation as sim
from engine.templates import versions, workspace
from tests.conftest import Org, unique
from tests.helpers import post, signed_in, with_passwords
from web.app import create_app

#: Every table a real roadmap writes to (and the org tables the made-up school is added to): a simulation must
#: leave each exactly as it found it.
REAL_TABLES = ("region", "municipality", "school", "app_user", "role_grant", "curator_pool", "template_version",
               "template_file", "cohort", "process_instance", "task", "deadline", "incident", "audit_log",
               "notification", "outbox", "event", "webhook_delivery", "measure", "attachment",
               "questionnaire_response")


def _counts(db: Database) -> dict[str, int]:
    tables = models.Base.metadata.tables
    with db.reading() as session:
        return {name: session.scalar(select(func.count()).select_from(tables[name])) or 0 for name in REAL_TABLES}


@pytest.fixture
def key(db: Database, org: Org, bundle_copy: Path) -> str:
    found = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    workspace.open_draft(db, found, actor=org.admin)
    set_region_zone(db, org.region, "Asia/Vladivostok", actor=OPERATOR)  # МСК+7
    return found


def _setup(org: Org) -> sim.SimulationSetup:
    # Friday 5 March 2027, 9:00 in Vladivostok; Monday 8 March is a public holiday.
    return sim.SimulationSetup(org.region, date(2027, 3, 5), 2027)


def test_the_first_task_goes_to_the_made_up_school_with_its_due_time_in_the_school_zone(
        db: Database, org: Org, key: str) -> None:
    view = sim.simulate(db, key, _setup(org), [], actor=org.admin)
    assert view.problems == []
    assert view.school is not None and view.school.name == sim.SCHOOL_NAME
    assert view.school.region == "Тестовая область" and view.school.time_zone == "Asia/Vladivostok"
    [task] = view.ready
    assert (task.ref, task.role, task.people) == ("fill_questionnaire.1", "school",
                                                  ["Тестова Анна Сергеевна"])
    # P14D from 9:00 local on 5 March: 9:00 on 19 March, Vladivostok time, the zone named.
    assert task.due_at == datetime(2027, 3, 18, 23, 0, tzinfo=UTC)
    assert task.due_shown == "19.03.2027 09:00 (МСК+7)"
    assert view.clock_shown == "05.03.2027 09:00 (МСК+7)"
    # The default chain: the school's curator, then the municipality, then the region.
    chain = [d.to for d in task.deadlines if d.kind == "escalation"]
    assert chain == ["Куратор", "Муниципальный координатор", "Региональный координатор"]
    assert view.current is not None and view.current.ref == "fill_questionnaire.1"
    assert [c["key"] for c in view.current.form["components"]] == ["coverage", "comment"]


def test_filled_forms_move_the_run_and_working_days_skip_the_weekend_and_the_holiday(
        db: Database, org: Org, key: str) -> None:
    setup = _setup(org)
    view = sim.simulate(db, key, setup, [sim.Fill("fill_questionnaire", 1, {"coverage": 80})], actor=org.admin)
    [review] = view.ready
    assert (review.role, review.people) == ("curator", ["Пробный Иван Петрович"])
    # 5 working days from Friday 5 March: the weekend and 8 March are skipped — Friday 12 March would be
    # 5 calendar-week days, the production calendar makes it Monday 15 March.
    assert review.due_shown == "15.03.2027 09:00 (МСК+7)"
    assert [(s.what, s.person) for s in view.done] == [("Заполнить анкету", "Тестова Анна Сергеевна")]
    view = sim.simulate(db, key, setup, [sim.Fill("fill_questionnaire", 1, {"coverage": 80}),
                                         sim.Fill("review", 1, {"decision": "rework"})], actor=org.admin)
    assert [t.ref for t in view.ready] == ["fill_questionnaire.2"]  # the gateway sent it back, a second time
    view = sim.simulate(db, key, setup, [sim.Fill("fill_questionnaire", 1, {"coverage": 80}),
                                         sim.Fill("review", 1, {"decision": "accepted"})], actor=org.admin)
    assert view.finished and view.ready == []


def test_a_simulation_writes_nothing_real(db: Database, org: Org, key: str) -> None:
    before = _counts(db)
    sim.start_simulation(db, key, _setup(org), actor=org.admin)
    sim.fill_form(db, key, "fill_questionnaire.1", {"coverage": 80}, actor=org.admin)
    sim.move_clock(db, key, actor=org.admin)
    view = sim.fill_form(db, key, "review.1", {"decision": "accepted"}, actor=org.admin)
    assert view.finished and view.problems == []
    assert _counts(db) == before
    # What is kept is the admin's inputs, replayed at every request.
    saved = sim.saved_simulation(db, key, actor=org.admin)
    assert saved is not None and len(saved.events) == 3


def test_a_form_with_errors_is_refused_field_by_field_and_not_kept(db: Database, org: Org, key: str) -> None:
    sim.start_simulation(db, key, _setup(org), actor=org.admin)
    with pytest.raises(FormInvalid) as refused:
        sim.fill_form(db, key, "fill_questionnaire.1", {"coverage": 150}, actor=org.admin)
    assert list(refused.value.errors) == ["coverage"]
    saved = sim.saved_simulation(db, key, actor=org.admin)
    assert saved is not None and saved.events == []


def test_moving_the_clock_makes_the_task_overdue_and_fires_its_steps_in_order(
        db: Database, org: Org, key: str) -> None:
    sim.start_simulation(db, key, _setup(org), actor=org.admin)
    view = sim.move_clock(db, key, actor=org.admin)
    [task] = view.ready
    assert task.overdue and view.clock_shown == "19.03.2027 09:01 (МСК+7)"
    assert [(d.kind, d.fired) for d in task.deadlines][-4:] == [
        ("due", True), ("escalation", False), ("escalation", False), ("escalation", False)]
    view = sim.move_clock(db, key, actor=org.admin)
    assert [d.fired for d in view.ready[0].deadlines if d.kind == "escalation"] == [True, False, False]


def test_errors_in_the_draft_are_named_not_raised(db: Database, org: Org, key: str) -> None:
    bpmn_path = next(f.path for f in workspace.draft_view(db, key, actor=org.admin).files if f.path.endswith(".bpmn"))
    bpmn = workspace.read_draft_file(db, key, bpmn_path, actor=org.admin)
    # Passes every check before deploy, fails when the gateway evaluates it: the step after the review.
    failing = bpmn.replace("decision == 'accepted'", "decision == 'accepted' and coverage / (coverage - coverage) > 0")
    workspace.save_draft_file(db, key, bpmn_path, failing, actor=org.admin)
    view = sim.simulate(db, key, _setup(org), [sim.Fill("fill_questionnaire", 1, {"coverage": 80}),
                                                sim.Fill("review", 1, {"decision": "accepted"})], actor=org.admin)
    # The gateway's element and the cause, in words — as an incident on a real roadmap would say.
    assert view.incidents == ["после «Проверить анкету»: процесс не может продолжиться: шаг «Принято?» (decision): "
                              "деление на ноль в «coverage / (coverage - coverage)»"]
    workspace.save_draft_file(db, key, bpmn_path, bpmn.replace('roadmap:form="review"', ""), actor=org.admin)
    view = sim.simulate(db, key, _setup(org), [], actor=org.admin)
    assert view.ready == [] and any("review" in problem for problem in view.problems)


def test_only_admins_run_a_draft(db: Database, org: Org, key: str) -> None:
    for login in (org.curator, org.regional, org.federal):
        with pytest.raises(NotAllowed):
            sim.simulate(db, key, _setup(org), [], actor=login)
        with pytest.raises(NotAllowed):
            sim.start_simulation(db, key, _setup(org), actor=login)


def test_the_page_starts_fills_with_the_task_page_field_errors_and_moves_on(db: Database, org: Org, key: str) -> None:
    with_passwords(db, org)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    admin = signed_in(app, org.admin)
    url = f"/admin/templates/{key}/draft/simulation"
    assert f'href="{url}"' in admin.get(f"/admin/templates/{key}/draft").get_data(as_text=True)  # «Пробный запуск»
    first = admin.get(url).get_data(as_text=True)
    assert 'data-testid="simulation-setup"' in first and 'data-testid="simulation-tasks"' not in first
    status, _ = post(admin, url, {"region": org.region, "start": "2027-03-05", "cohort": "2027"}, url)
    assert status == 302
    page = admin.get(url).get_data(as_text=True)
    assert "Заполнить анкету" in page and "19.03.2027 09:00 (МСК+7)" in page and "Тестова Анна Сергеевна" in page
    # The server's own validation, shown as on the task page: the field's message in data-errors, status 422.
    status, refused = post(admin, f"{url}/fill", {"task": "fill_questionnaire.1", "data": json.dumps({"coverage": 150})},
                           url)
    assert status == 422
    errors = json.loads(html.unescape(re.search(r"data-errors='([^']*)'", refused).group(1)))  # type: ignore[union-attr]
    assert list(errors) == ["coverage"]
    status, _ = post(admin, f"{url}/fill", {"task": "fill_questionnaire.1", "data": json.dumps({"coverage": 80})}, url)
    assert status == 302
    page = admin.get(url).get_data(as_text=True)
    assert "Проверить анкету" in page and "Пробный Иван Петрович" in page and "15.03.2027 09:00 (МСК+7)" in page
    assert admin.get(url.replace(key, "no-such-template")).status_code == 404
    curator = signed_in(app, org.curator)
    assert curator.get(url).status_code == 403
    # The draft broken meanwhile: the page names the problem and the element instead of failing.
    bpmn_path = next(f.path for f in workspace.draft_view(db, key, actor=org.admin).files if f.path.endswith(".bpmn"))
    bpmn = workspace.read_draft_file(db, key, bpmn_path, actor=org.admin)
    workspace.save_draft_file(db, key, bpmn_path, bpmn.replace('roadmap:form="review"', ""), actor=org.admin)
    broken = admin.get(url)
    problems = re.search(r'data-testid="simulation-problems".*?</div>', broken.get_data(as_text=True), re.S)
    assert broken.status_code == 200 and problems and "review" in problems.group(0)


def test_the_console_runs_a_file_of_steps_and_prints_the_timeline(db: Database, org: Org, key: str,
                                                                  tmp_path: Path) -> None:
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"task": "fill_questionnaire.1", "data": {"coverage": 80}}, {"clock": "next"}]),
                     encoding="utf-8")
    before = _counts(db)
    args = ["templates", "simulate", key, "--school-region", org.region, "--start", "2027-03-05", "--fill", str(steps)]
    shown = CliRunner().invoke(cli, [*args, "--json"], obj=db)
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.output)
    [review] = view["ready"]
    assert (review["ref"], review["people"], review["due_shown"]) == (
        "review.1", ["Пробный Иван Петрович"], "15.03.2027 09:00 (МСК+7)")
    assert review["overdue"] and view["clock_shown"] == "15.03.2027 09:01 (МСК+7)"
    text = CliRunner().invoke(cli, args, obj=db)
    assert "review.1\tПроверить анкету\tКуратор: Пробный Иван Петрович\tсрок 15.03.2027 09:00 (МСК+7) (просрочено)" \
        in text.output
    steps.write_text(json.dumps([{"task": "fill_questionnaire.1", "data": {"coverage": 150}}]), encoding="utf-8")
    refused = CliRunner().invoke(cli, args, obj=db)
    assert refused.exit_code == 1 and "coverage:" in refused.output
    assert _counts(db) == before


def test_moving_the_clock_fires_a_bpmn_timer_as_the_sweep_would(db: Database, org: Org, tmp_path: Path) -> None:
    bundle = tmp_path / "timer"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "timer", bundle)
    timer_key = f"timer-{unique()}".lower()
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"key": "timer"', f'"key": "{timer_key}"'),
                        encoding="utf-8")
    versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR)
    workspace.open_draft(db, timer_key, actor=org.admin)
    set_region_zone(db, org.region, "Asia/Vladivostok", actor=OPERATOR)
    sim.start_simulation(db, timer_key, _setup(org), actor=org.admin)
    view = sim.move_clock(db, timer_key, actor=org.admin)  # the boundary timer (P7D) comes before the due (P14D)
    assert view.clock_shown == "12.03.2027 09:01 (МСК+7)"
    assert [(t.element, t.people) for t in view.ready] == [("help_school", ["Пробный Иван Петрович"])]
