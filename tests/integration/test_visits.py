"""The curator visit schedule through the real «500+» template: the municipal coordinator plans a curator's
visits to a school, the regional coordinator moves one with a reason, people outside are refused; the sweep
reminds the curator two working days before and escalates a visit not done +3 and +7 working days up the chain,
each exactly once, in the school's local working days; the curator's visit report links to the nearest open
planned visit of its half-year, and the half-year counts (planned vs done) reach `roadmap status`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.cli import cli
from engine.db import Database
from engine.deadlines.sweep import SweepReport, sweep
from engine.errors import FormInvalid, NotAllowed, NotFound
from engine.models import Deadline, Notification, PlannedVisit, User
from engine.org.api_tokens import create_token
from engine.org.regions import set_region_zone
from engine.process import instances, management, visits
from engine.process.cohorts import ensure_cohort
from engine.process.visits import VisitTally
from engine.reports.status import stage_status
from engine.templates import versions
from tests.conftest import Clock
from tests.helpers import ROADMAP, set_password, signed_in
from tests.roadmap_steps import (
    COHORT,
    MEASURES,
    START,
    School,
    act,
    new_school,
    plan_measures,
    process_data,
    run_measures_program,
    run_questionnaire_stage,
    run_risk_profile,
    run_selection,
)
from web.app import create_app

HALF = "2026/27-2"  # January to August 2027


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def monitored(timed: Database, clock: Clock) -> tuple[School, int]:
    """A school of the «500+» roadmap in its monitoring stage: the curator's visit report is open."""
    school = new_school(timed)
    ensure_cohort(timed, COHORT)
    key = versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(timed, key, school.code, cohort_year=COHORT, actor=OPERATOR).instance_id
    run_selection(timed, school, instance_id)
    run_questionnaire_stage(timed, school, instance_id, clock)
    chosen = run_risk_profile(timed, school, instance_id)
    run_measures_program(timed, school, instance_id, chosen)
    plan_measures(timed, school, instance_id, MEASURES)
    return school, instance_id


def _visit_actions(timed: Database, school: School) -> list[tuple[str, int, list[str]]]:
    """What a sweep now does about the school's visits, after checking its dry run foresaw exactly that."""
    def of_visits(report: SweepReport) -> list[tuple[str, int, list[str]]]:
        return [(a.kind, a.step, sorted(a.recipients)) for a in report.actions
                if a.task_id is None and a.school == school.code and a.task.startswith("Посещение")]
    foreseen = of_visits(sweep(timed, dry_run=True))
    acted = of_visits(sweep(timed, base_url="https://roadmap.example"))
    assert foreseen == acted
    return acted


def test_coordinators_plan_and_move_visits_and_others_are_refused(timed: Database, clock: Clock,
                                                                  monitored: tuple[School, int]) -> None:
    school, _ = monitored
    o = school.org
    clock.now = datetime(2027, 2, 1, 9, tzinfo=UTC)
    for outsider in (school.curator, school.director, o.federal):
        with pytest.raises(NotAllowed):
            visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 10), actor=outsider)
    with pytest.raises(NotFound):  # another municipality's coordinator does not see the school at all
        visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 10), actor=o.other_municipal)
    with pytest.raises(FormInvalid) as past:
        visits.plan_visit(timed, school.code, planned_on=date(2027, 1, 29), actor=o.municipal)
    assert list(past.value.errors) == ["planned_on"]
    first = visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 10), note="Уроки математики",
                              actor=o.municipal)
    second = visits.plan_visit(timed, school.code, planned_on=date(2027, 4, 14), actor=o.regional)
    third = visits.plan_visit(timed, school.code, planned_on=date(2027, 10, 6), actor=o.admin)
    assert (first.status, first.half_year, first.half_year_title) == ("planned", HALF, "II полугодие 2026/27")
    assert third.half_year == "2027/28-1"

    with pytest.raises(FormInvalid) as no_reason:
        visits.move_visit(timed, second.id, planned_on=date(2027, 4, 21), reason=" ", actor=o.municipal)
    assert list(no_reason.value.errors) == ["reason"]
    with pytest.raises(NotAllowed):
        visits.move_visit(timed, second.id, planned_on=date(2027, 4, 21), reason="Болезнь", actor=school.curator)
    moved = visits.move_visit(timed, second.id, planned_on=date(2027, 4, 21), reason="Куратор на курсах",
                              actor=o.municipal)
    assert moved.planned_on == date(2027, 4, 21)
    assert [(m.moved_from, m.moved_to, m.reason, m.by) for m in moved.moves] == [
        (date(2027, 4, 14), date(2027, 4, 21), "Куратор на курсах", o.municipal)]
    cancelled = visits.cancel_visit(timed, third.id, reason="Школа на карантине", actor=o.regional)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Школа на карантине")
    with pytest.raises(FormInvalid, match="visit"):
        visits.cancel_visit(timed, third.id, reason="Ещё раз", actor=o.regional)

    seen = visits.list_visits(timed, school.code, actor=school.curator)  # the curator reads, does not plan
    assert seen.can_plan is False and seen.schedules and [v.id for v in seen.visits] == [first.id, second.id, third.id]
    assert seen.curators == ("Куратор Новый",)
    assert visits.list_visits(timed, school.code, actor=o.municipal).can_plan
    assert seen.tallies == {HALF: VisitTally(planned=2, done=0)}  # a cancelled visit is not counted
    with pytest.raises(NotFound):
        visits.list_visits(timed, school.code, actor=o.foreign_school_user)
    with timed.reading() as session:
        plain = visits.visits_of_school(session, session.scalar(select(PlannedVisit.school_id)
                                                                 .where(PlannedVisit.id == first.id)) or 0)
    assert [(v["planned_on"], v["status"], v["half_year"]) for v in plain] == [
        (date(2027, 2, 10), "planned", HALF), (date(2027, 4, 21), "planned", HALF),
        (date(2027, 10, 6), "cancelled", "2027/28-1")]
    assert plain[1]["moves"][0]["reason"] == "Куратор на курсах" and plain[0]["note"] == "Уроки математики"


def test_a_visit_is_reminded_and_escalated_exactly_once_and_the_report_links_to_it(
        timed: Database, clock: Clock, monitored: tuple[School, int]) -> None:
    school, instance_id = monitored
    o = school.org
    clock.now = datetime(2027, 2, 1, 9, tzinfo=UTC)
    missed = visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 10), actor=o.municipal)  # a Wednesday
    kept = visits.plan_visit(timed, school.code, planned_on=date(2027, 3, 10), actor=o.municipal)
    other = visits.plan_visit(timed, school.code, planned_on=date(2027, 5, 19), actor=o.municipal)
    with timed.reading() as session:
        rows = sorted((d.kind.value, d.step, d.fire_at) for d in session.scalars(
            select(Deadline).where(Deadline.visit_id == missed.id)))
    # The end of 10.02 in Moscow is 20:59:59 UTC; two working days before, +3 and +7 working days after.
    assert rows == [("escalation", 1, datetime(2027, 2, 15, 20, 59, 59, tzinfo=UTC)),
                    ("escalation", 2, datetime(2027, 2, 19, 20, 59, 59, tzinfo=UTC)),
                    ("reminder", 1, datetime(2027, 2, 8, 20, 59, 59, tzinfo=UTC))]
    seen = []
    for moment in (datetime(2027, 2, 8, 21, tzinfo=UTC), datetime(2027, 2, 15, 21, tzinfo=UTC),
                   datetime(2027, 2, 19, 21, tzinfo=UTC), datetime(2027, 3, 1, 6, tzinfo=UTC)):
        clock.now = moment
        seen.append(_visit_actions(timed, school))
        assert _visit_actions(timed, school) == []  # a second sweep at the same moment: nothing twice
    assert seen == [[("reminder", 1, [school.curator])], [("escalation", 1, [o.municipal])],
                    [("escalation", 2, [o.regional])], []]
    with timed.reading() as session:
        [note] = session.scalars(select(Notification).join(User, User.id == Notification.user_id)
                                 .where(User.login == o.regional, Notification.kind == "escalation",
                                        Notification.body.contains("10.02.2027")))
        assert note.link == f"https://roadmap.example/schools/{school.code}/visits"

    # The curator visits on 09.03 and reports: the open planned visit of that half-year nearest to it is done.
    clock.now = datetime(2027, 3, 9, 12, tzinfo=UTC)
    act(timed, school, instance_id, "curator_visit", school.curator,
        {"visit_term": "h2", "visit_date": "2027-03-09", "visit_findings": "Посещены уроки, даны рекомендации"})
    assert process_data(timed, instance_id)["planned_visit"] == kept.id
    found = {v.id: v for v in visits.list_visits(timed, school.code, actor=o.municipal).visits}
    assert (found[kept.id].status, found[kept.id].visited_on) == ("done", date(2027, 3, 9))
    assert found[kept.id].report_task_id is not None
    assert found[missed.id].status == "planned" and found[missed.id].overdue
    with timed.reading() as session:  # the done visit's rows are closed: nothing is said of it any more
        assert not list(session.scalars(select(Deadline).where(Deadline.visit_id == kept.id,
                                                               Deadline.cancelled.is_(False),
                                                               Deadline.fired_at.is_(None))))
    clock.now = datetime(2027, 3, 25, 9, tzinfo=UTC)
    assert _visit_actions(timed, school) == []

    with pytest.raises(FormInvalid):  # done: it can no longer be moved
        visits.move_visit(timed, kept.id, planned_on=date(2027, 4, 1), reason="Позже", actor=o.municipal)
    assert visits.list_visits(timed, school.code, actor=o.regional).tallies == {HALF: VisitTally(planned=3, done=1)}
    report = stage_status(timed, "roadmap-500", municipality_code=o.municipality)
    [row] = [r for r in report.schools if r.school_code == school.code]
    assert row.visits == {HALF: VisitTally(planned=3, done=1)}
    assert report.visits[HALF].planned >= 3 and report.visits[HALF].done >= 1
    assert other.id not in (missed.id, kept.id)


def test_the_api_plans_moves_and_cancels_with_the_same_rules(timed: Database, clock: Clock,
                                                             monitored: tuple[School, int]) -> None:
    school, _ = monitored
    o = school.org
    clock.now = datetime(2027, 2, 1, 9, tzinfo=UTC)
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "visits"})
    client = app.test_client()
    tokens = {login: create_token(timed, "тест", actor=login)[1]
              for login in (school.curator, o.municipal, o.other_municipal, o.regional)}

    def call(login: str, method: str, url: str, **kwargs: Any) -> Any:
        return client.open(f"/api/v1{url}", method=method, headers={"Authorization": f"Bearer {tokens[login]}"},
                           **kwargs)

    refused = call(school.curator, "POST", f"/schools/{school.code}/visits", json={"planned_on": "2027-02-10"})
    assert refused.status_code == 403
    assert call(o.other_municipal, "POST", f"/schools/{school.code}/visits",
                json={"planned_on": "2027-02-10"}).status_code == 404
    past = call(o.municipal, "POST", f"/schools/{school.code}/visits", json={"planned_on": "2027-01-10"})
    assert past.status_code == 422 and "planned_on" in past.json["errors"]
    planned = call(o.municipal, "POST", f"/schools/{school.code}/visits",
                   json={"planned_on": "2027-02-10", "note": "Уроки"})
    assert planned.status_code == 201, planned.get_data(as_text=True)
    assert (planned.json["status"], planned.json["half_year"], planned.json["note"]) == ("planned", HALF, "Уроки")
    visit_id = planned.json["id"]
    assert call(o.regional, "POST", f"/visits/{visit_id}/move", json={"planned_on": "2027-02-17"}).status_code == 422
    moved = call(o.regional, "POST", f"/visits/{visit_id}/move",
                 json={"planned_on": "2027-02-17", "reason": "Каникулы"})
    assert moved.status_code == 200 and moved.json["moves"][0]["moved_from"] == "2027-02-10"
    assert call(school.curator, "POST", f"/visits/{visit_id}/cancel", json={"reason": "Нет"}).status_code == 403
    listed = call(school.curator, "GET", f"/schools/{school.code}/visits")
    assert listed.status_code == 200 and listed.json["can_plan"] is False
    assert listed.json["tallies"] == {HALF: {"planned": 1, "done": 0}}
    cancelled = call(o.municipal, "POST", f"/visits/{visit_id}/cancel", json={"reason": "Карантин"})
    assert cancelled.status_code == 200 and cancelled.json["cancel_reason"] == "Карантин"
    spec = client.get("/api/v1/openapi.json").json
    operations = {op["operationId"] for path, ops in spec["paths"].items() if "visits" in path
                  for method, op in ops.items() if method != "parameters"}
    assert operations == {"list_visits", "plan_visit", "move_visit", "cancel_visit"}


def test_the_visits_page(timed: Database, clock: Clock, monitored: tuple[School, int]) -> None:
    """The municipal coordinator plans, moves and cancels on the page; the curator reads it without the forms."""
    school, _ = monitored
    o = school.org
    clock.now = datetime(2027, 2, 1, 9, tzinfo=UTC)
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "visits", "WTF_CSRF_ENABLED": False})
    set_password(timed, o.municipal, school.curator)
    municipal = signed_in(app, o.municipal)
    page = municipal.get(f"/schools/{school.code}/visits").get_data(as_text=True)
    assert 'data-testid="visit-plan"' in page and "Посещений пока не запланировано" in page
    bad = municipal.post(f"/schools/{school.code}/visits", data={"planned_on": "2027-01-02"}, follow_redirects=True)
    assert "сегодня или позже" in bad.get_data(as_text=True)
    municipal.post(f"/schools/{school.code}/visits", data={"planned_on": "2027-02-10", "note": "Уроки физики"})
    [visit] = visits.list_visits(timed, school.code, actor=o.municipal).visits
    shown = municipal.post(f"/schools/{school.code}/visits/{visit.id}/move",
                           data={"planned_on": "2027-02-12", "reason": "Совещание в управлении"},
                           follow_redirects=True).get_data(as_text=True)
    assert "12.02.2027" in shown and "перенесено с 10.02.2027: Совещание в управлении" in shown and "II полугодие 2026/27" in shown
    curator = signed_in(app, school.curator).get(f"/schools/{school.code}/visits").get_data(as_text=True)
    assert "12.02.2027" in curator and "Уроки физики" in curator and 'data-testid="visit-plan"' not in curator
    assert 'data-testid="visit-move"' not in curator
    dashboard = municipal.get(f"/dashboard?municipality={o.municipality}").get_data(as_text=True)
    row = dashboard.split(f'data-school="{school.code}"')[1].split("</tr>")[0]
    assert f'href="/schools/{school.code}/visits"' in row and "0 / 1" in row  # done / planned this half-year
    assert "II полугодие 2026/27 — <strong>0</strong> из 1" in dashboard
    set_password(timed, o.regional)
    areas = signed_in(app, o.regional).get(f"/dashboard?region={o.region}").get_data(as_text=True)
    unit = areas.split(f'data-area="{o.municipality}"')[1].split("</tr>")[0]
    assert "II полугодие 2026/27: 0 / 1" in unit and "II полугодие 2026/27 — <strong>0</strong> из 1" in areas
    municipal.post(f"/schools/{school.code}/visits/{visit.id}/cancel", data={"reason": "Карантин"})
    assert visits.list_visits(timed, school.code, actor=o.municipal).visits[0].status == "cancelled"


def test_the_cli_plans_lists_moves_and_cancels(timed: Database, clock: Clock, monitored: tuple[School, int]) -> None:
    school, _ = monitored
    o = school.org
    clock.now = datetime(2027, 2, 1, 9, tzinfo=UTC)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=timed)

    refused = run("visits", "plan", school.code, "2027-02-10", "--user", school.curator)
    assert refused.exit_code != 0 and "координатор" in refused.output
    planned = run("visits", "plan", school.code, "2027-02-10", "--user", o.municipal, "--note", "Уроки")
    assert planned.exit_code == 0, planned.output
    visit_id = planned.output.split("\t")[0]
    assert "10.02.2027\tII полугодие 2026/27\tЗапланировано" in planned.output
    moved = run("visits", "move", visit_id, "2027-02-12", "--user", o.regional, "--reason", "Совещание")
    assert moved.exit_code == 0 and "12.02.2027" in moved.output
    run("visits", "plan", school.code, "2027-03-03", "--user", o.municipal)
    listed = run("visits", "list", school.code, "--user", school.curator)
    assert listed.exit_code == 0 and "Итого: II полугодие 2026/27: 0 из 2" in listed.output
    as_json = run("visits", "list", school.code, "--user", school.curator, "--json")
    assert '"tallies"' in as_json.output and '"planned": 2' in as_json.output
    cancelled = run("visits", "cancel", visit_id, "--user", o.municipal, "--reason", "Карантин")
    assert cancelled.exit_code == 0 and "Отменено (Карантин)" in cancelled.output
    status = run("status", "--municipality", o.municipality)
    assert status.exit_code == 0, status.output
    assert "Посещения кураторов (проведено из запланированных): II полугодие 2026/27: 0 из 1." in status.output
    assert f"  {school.code:<14} II полугодие 2026/27: 0 из 1" in status.output


def test_a_kamchatka_school_s_visit_is_counted_in_its_own_days(timed: Database, clock: Clock,
                                                              monitored: tuple[School, int]) -> None:
    """Kamchatka (UTC+12): the visit's day ends at its own midnight, 11:59:59 UTC; the reminder is two of its working
    days before, the escalations +3 and +7 after; and «today» for planning is Kamchatka's date."""
    school, _ = monitored
    o = school.org
    set_region_zone(timed, o.region, "Asia/Kamchatka", actor=o.admin)
    clock.now = datetime(2027, 2, 1, 13, tzinfo=UTC)  # already 02.02 01:00 in Kamchatka
    with pytest.raises(FormInvalid, match="planned_on"):  # 01.02 has passed there
        visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 1), actor=o.municipal)
    visit = visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 10), actor=o.municipal)
    with timed.reading() as session:
        rows = sorted((d.kind.value, d.step, d.fire_at) for d in session.scalars(
            select(Deadline).where(Deadline.visit_id == visit.id)))
    assert rows == [("escalation", 1, datetime(2027, 2, 15, 11, 59, 59, tzinfo=UTC)),
                    ("escalation", 2, datetime(2027, 2, 19, 11, 59, 59, tzinfo=UTC)),
                    ("reminder", 1, datetime(2027, 2, 8, 11, 59, 59, tzinfo=UTC))]
    clock.now = datetime(2027, 2, 8, 12, tzinfo=UTC)
    assert _visit_actions(timed, school) == [("reminder", 1, [school.curator])]
    assert _visit_actions(timed, school) == []
    # Planned so close that the reminder's moment has passed: the curator is reminded at once, once.
    visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 10), note="Ещё одно", actor=o.regional)
    assert _visit_actions(timed, school) == [("reminder", 1, [school.curator])]
    assert _visit_actions(timed, school) == []


def test_a_withdrawn_roadmap_s_planned_visits_are_cancelled_and_no_longer_counted(
        timed: Database, clock: Clock, monitored: tuple[School, int]) -> None:
    school, instance_id = monitored
    o = school.org
    clock.now = datetime(2027, 2, 1, 9, tzinfo=UTC)
    visits.plan_visit(timed, school.code, planned_on=date(2027, 2, 10), actor=o.municipal)
    visits.plan_visit(timed, school.code, planned_on=date(2027, 3, 10), actor=o.municipal)
    clock.now = datetime(2027, 2, 11, 9, tzinfo=UTC)
    act(timed, school, instance_id, "curator_visit", school.curator,
        {"visit_term": "h2", "visit_date": "2027-02-10", "visit_findings": "Посещены уроки"})
    assert visits.list_visits(timed, school.code, actor=o.regional).tallies == {HALF: VisitTally(planned=2, done=1)}
    management.withdraw_roadmap(timed, school.code, reason="left_project", actor=OPERATOR)
    found = visits.list_visits(timed, school.code, actor=o.regional)
    assert sorted((v.planned_on, v.status, v.cancel_reason) for v in found.visits) == [
        (date(2027, 2, 10), "done", None),  # made: stays in the school's report
        (date(2027, 3, 10), "cancelled", "Дорожная карта снята с проекта: школа вышла из проекта")]
    assert found.tallies == {HALF: VisitTally(planned=1, done=1)}
    report = stage_status(timed, "roadmap-500", municipality_code=o.municipality)
    [row] = [r for r in report.schools if r.school_code == school.code]
    assert row.visits == {HALF: VisitTally(planned=1, done=1)}
    clock.now = datetime(2027, 3, 20, 9, tzinfo=UTC)
    assert _visit_actions(timed, school) == []  # nothing reminds of a visit to a school that left
