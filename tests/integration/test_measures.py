"""A school's roadmap of measures through the real «500+» template: planned in plan_measures, moved through the
template's statuses by the school (evidence, a reschedule with its reason), accepted or returned by the curator,
counted into the execution percentage on the school's local date, and kept by key when the plan is reworked."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.deadlines.sweep import SweepReport, sweep
from engine.errors import FormInvalid, NotAllowed, NotFound
from engine.models import Deadline, DeadlineKind, InstanceStatus, Measure, Notification, ProcessInstance, User
from engine.org.api_tokens import create_token
from engine.process import instances, measures, tasks
from engine.process.cohorts import ensure_cohort
from engine.process.task_context import MeasuresPanel, panel_data
from engine.reports.status import stage_status
from engine.templates import versions
from engine.templates.versions import compiled_version
from tests.conftest import Clock
from tests.helpers import ROADMAP, set_password, signed_in
from tests.roadmap_steps import (
    COHORT,
    MEASURES,
    START,
    School,
    new_school,
    only_for,
    plan_measures,
    process_data,
    run_measures_program,
    run_questionnaire_stage,
    run_risk_profile,
    run_selection,
)
from web.app import create_app

LINK = "https://school.example/docs/kpk-2027.pdf"


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def planned(timed: Database, clock: Clock) -> tuple[School, int]:
    """A school of the «500+» roadmap that has just planned its measures."""
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


def _by_title(found: measures.SchoolMeasures) -> dict[str, measures.MeasureView]:
    return {m.title.split()[0]: m for m in found.measures}


def test_a_school_tracks_its_measures_and_the_curator_accepts(timed: Database, clock: Clock,
                                                              planned: tuple[School, int]) -> None:
    school, instance_id = planned
    o = school.org
    assert process_data(timed, instance_id)["measures_planned"] == 4
    mine = measures.list_measures(timed, school.code, actor=school.director)
    assert [m.title for m in mine.measures] == [m["title"] for m in MEASURES]
    assert {m.status for m in mine.measures} == {"planned"} and mine.measures[0].status_title == "Запланировано"
    assert mine.measures[0].due_date == date(2027, 4, 1) and mine.measures[0].responsible == "Завуч Петрова А. А."
    assert [m.direction for m in mine.measures] == ["k3", "k1", "k8", "k3"]  # the risk direction each serves
    assert mine.measures[1].direction_title == "Низкий уровень оснащения школы"
    assert (mine.can_update, mine.can_review) == (True, False)
    assert mine.execution == measures.Execution(planned=4) and mine.execution.percent is None
    assert [s.key for s in mine.statuses] == ["planned", "in_progress", "done", "failed", "rescheduled"]
    theirs = measures.list_measures(timed, school.code, actor=school.curator)
    assert (theirs.can_update, theirs.can_review) == (False, True)
    seen = measures.list_measures(timed, school.code, actor=o.municipal)
    assert (seen.can_update, seen.can_review, len(seen.measures)) == (False, False, 4)
    [visit] = only_for(timed, school, instance_id, "curator_visit", school.curator)
    [panel] = tasks.get_task(timed, visit, actor=school.curator).context.panels
    assert isinstance(panel, MeasuresPanel) and [m.title for m in panel.measures] == [m["title"] for m in MEASURES]
    assert panel.execution == measures.Execution(planned=4) and panel.school_code == school.code
    assert panel_data(panel)["measures"][0]["due_date"] == "2027-04-01"
    with pytest.raises(NotFound):  # another municipality's school sees nothing of it
        measures.list_measures(timed, school.code, actor=o.foreign_school_user)
    m = _by_title(mine)
    courses, equipment, meetings, seminar = m["Курсы"].id, m["Оснащение"].id, m["Родительские"].id, m["Методический"].id

    # The school moves its measures; each status asks for what the template says it needs.
    measures.update_measure(timed, courses, status="in_progress", actor=school.director)
    with pytest.raises(FormInvalid) as no_evidence:
        measures.update_measure(timed, courses, status="done", actor=school.director)
    assert list(no_evidence.value.errors) == ["evidence_link"]
    with pytest.raises(FormInvalid) as bad_link:
        measures.update_measure(timed, courses, evidence_link="javascript:alert(1)", actor=school.director)
    assert list(bad_link.value.errors) == ["evidence_link"]
    done = measures.update_measure(timed, courses, status="done", evidence_link=LINK, evidence_note="Удостоверения",
                                   actor=school.director)
    assert done.outcome == "done" and done.done_on == date(2027, 1, 30) and done.timing == measures.ON_TIME
    assert [(e["link"], e["note"], e["by"]) for e in done.evidence] == [(LINK, "Удостоверения", school.director)]
    with pytest.raises(FormInvalid) as no_reason:
        measures.update_measure(timed, meetings, status="failed", actor=school.director)
    assert list(no_reason.value.errors) == ["reason"]
    with pytest.raises(FormInvalid) as not_later:
        measures.update_measure(timed, equipment, status="rescheduled", due_date=date(2027, 4, 1),
                                reason="Поставка оборудования задерживается", actor=school.director)
    assert list(not_later.value.errors) == ["due_date"]
    with pytest.raises(FormInvalid, match="due_date"):  # a due date moves only with a reschedule
        measures.update_measure(timed, equipment, status="in_progress", due_date=date(2027, 7, 1),
                                actor=school.director)
    moved = measures.update_measure(timed, equipment, status="rescheduled", due_date=date(2027, 7, 1),
                                    reason="Поставка оборудования задерживается", actor=school.director)
    assert moved.due_date == date(2027, 7, 1) and moved.status_title == "Перенесено с обоснованием"
    with pytest.raises(NotAllowed):  # the curator does not fill in the school's roadmap
        measures.update_measure(timed, seminar, status="in_progress", actor=school.curator)
    with pytest.raises(NotAllowed):
        measures.update_measure(timed, seminar, status="in_progress", actor=o.municipal)

    # The curator reviews the evidence: returns it once, then accepts it.
    with pytest.raises(NotAllowed):
        measures.review_measure(timed, courses, accept=True, actor=school.director)
    with pytest.raises(FormInvalid, match="evidence_link"):
        measures.review_measure(timed, seminar, accept=True, actor=school.curator)
    with pytest.raises(FormInvalid, match="comment"):
        measures.review_measure(timed, courses, accept=False, actor=school.curator)
    returned = measures.review_measure(timed, courses, accept=False, comment="Приложите приказ о направлении",
                                       actor=school.curator)
    assert (returned.status, returned.done_on, returned.accepted_by) == ("in_progress", None, None)
    clock.advance(days=1)
    again = measures.update_measure(timed, courses, status="done", evidence_link=LINK + "?order",
                                    actor=school.director)
    assert again.done_on == date(2027, 1, 31) and len(again.evidence) == 2
    accepted = measures.review_measure(timed, courses, accept=True, actor=school.curator)
    assert accepted.accepted_by == school.curator and accepted.accepted_at == clock.now

    history = measures.history(timed, courses, actor=o.regional)
    assert [h.what for h in history] == ["planned", "status", "evidence", "status", "status", "returned",
                                         "evidence", "status", "accepted"]
    assert history[5].who == school.curator and history[5].reason == "Приложите приказ о направлении"
    moves = measures.history(timed, equipment, actor=school.director)
    assert [(h.what, h.details, h.reason) for h in moves[1:]] == [
        ("rescheduled", {"due_date": ["2027-05-01", "2027-07-01"]}, "Поставка оборудования задерживается"),
        ("status", {"status": ["planned", "rescheduled"]}, "Поставка оборудования задерживается")]

    # Execution on the school's local date: the meetings are late, then done late; the seminar overdue.
    clock.now = datetime(2027, 3, 20, 8, 0, tzinfo=UTC)
    count = measures.list_measures(timed, school.code, actor=school.director).execution
    assert count == measures.Execution(on_time=1, overdue=1, planned=2) and count.percent == 50
    measures.update_measure(timed, meetings, status="done", evidence_link=LINK, actor=school.director)
    clock.now = datetime(2027, 6, 1, 20, 30, tzinfo=UTC)  # 23:30 in Moscow: the seminar is due today, not overdue
    assert measures.list_measures(timed, school.code, actor=o.regional).execution == measures.Execution(
        on_time=1, late=1, planned=2)
    clock.now = datetime(2027, 6, 1, 21, 30, tzinfo=UTC)  # 00:30 on 2 June in Moscow
    count = measures.list_measures(timed, school.code, actor=o.regional).execution
    assert count == measures.Execution(on_time=1, late=1, overdue=1, planned=1) and count.percent == 67
    with timed.reading() as session:  # the count status and dashboards read, for many schools at once
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        assert measures.execution_of_schools(session, [row.school_id], clock.now) == {row.school_id: count}
    report = stage_status(timed, "roadmap-500", municipality_code=o.municipality)
    [row_of_school] = [r for r in report.schools if r.school_code == school.code]
    assert row_of_school.measures == count and row_of_school.measures.percent == 67
    assert report.measures.percent is not None and report.measures.due >= count.due  # the area's sum


def test_a_reworked_plan_updates_its_measures_by_key(timed: Database, planned: tuple[School, int]) -> None:
    """Submitted again (after a rework), the plan keeps each measure by its title: changes are recorded, a
    measure no longer planned is withdrawn with its history, a new one is added; statuses stay."""
    school, instance_id = planned
    first = _by_title(measures.list_measures(timed, school.code, actor=school.director))
    measures.update_measure(timed, first["Курсы"].id, status="in_progress", actor=school.director)
    reworked = [{**MEASURES[0], "title": "  курсы повышения  квалификации", "due_date": "2027-04-15"},
                MEASURES[1], MEASURES[2],
                {"title": "Открытые уроки", "direction": "k1", "due_date": "2027-05-20", "owner": "Завуч"}]
    with timed.transaction() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        section = compiled_version(session, instance.template_version_id).spec.sections.measures
        assert section is not None
        assert measures.track_planned(session, timed.now(), None, instance, section, {"measures": reworked}) == 4
    found = measures.list_measures(timed, school.code, actor=school.director)
    now = _by_title(found)
    assert set(now) == {"курсы", "Оснащение", "Родительские", "Открытые"}
    assert now["курсы"].id == first["Курсы"].id and now["курсы"].status == "in_progress"
    assert now["курсы"].due_date == date(2027, 4, 15)
    assert [(h.what, h.details) for h in measures.history(timed, now["курсы"].id, actor=school.director)][-1] == (
        "changed", {"title": ["Курсы повышения квалификации", "курсы повышения  квалификации"],
                    "due_date": ["2027-04-01", "2027-04-15"]})
    dropped = measures.history(timed, first["Методический"].id, actor=school.director)
    assert dropped[-1].what == "withdrawn"
    with pytest.raises(NotFound):
        measures.update_measure(timed, first["Методический"].id, status="in_progress", actor=school.director)
    with timed.reading() as session:  # nothing doubled: five rows, one withdrawn
        rows = session.scalars(select(Measure).where(Measure.instance_id == instance_id)).all()
        assert len(rows) == 5 and sum(r.withdrawn_at is not None for r in rows) == 1


def test_the_api_reads_and_moves_measures_with_the_same_rules(timed: Database, planned: tuple[School, int]) -> None:
    school, _ = planned
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "measures"})
    client = app.test_client()
    tokens = {login: create_token(timed, "тест", actor=login)[1]
              for login in (school.director, school.curator, school.org.foreign_school_user, school.org.municipal)}

    def call(login: str, method: str, url: str, **kwargs: Any) -> Any:
        return client.open(f"/api/v1{url}", method=method, headers={"Authorization": f"Bearer {tokens[login]}"},
                           **kwargs)

    listed = call(school.director, "GET", f"/schools/{school.code}/measures")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    body = listed.json
    assert [m["title"] for m in body["measures"]] == [m["title"] for m in MEASURES]
    assert (body["measures"][1]["direction"], body["measures"][1]["direction_title"]) == (
        "k1", "Низкий уровень оснащения школы")
    assert body["execution"] == {"on_time": 0, "late": 0, "overdue": 0, "planned": 4, "percent": None}
    assert body["statuses"][0] == {"key": "planned", "title": "Запланировано", "outcome": "", "needs_reason": False,
                                   "needs_evidence": False, "reschedules": False}
    assert call(school.org.foreign_school_user, "GET", f"/schools/{school.code}/measures").status_code == 404
    first = body["measures"][0]["id"]
    refused = call(school.director, "PATCH", f"/measures/{first}", json={"status": "done"})
    assert refused.status_code == 422 and "evidence_link" in refused.json["errors"]
    done = call(school.director, "PATCH", f"/measures/{first}", json={"status": "done", "evidence_link": LINK})
    assert done.status_code == 200 and done.json["status"] == "done" and done.json["timing"] == "on_time"
    assert call(school.curator, "PATCH", f"/measures/{first}", json={"status": "planned"}).status_code == 403
    moved = call(school.director, "PATCH", f"/measures/{body['measures'][1]['id']}",
                 json={"status": "rescheduled", "due_date": "2027-09-01", "reason": "Поставка перенесена"})
    assert moved.status_code == 200 and moved.json["due_date"] == "2027-09-01"
    accepted = call(school.curator, "POST", f"/measures/{first}/review", json={"accept": True})
    assert accepted.status_code == 200 and accepted.json["accepted_by"] == school.curator
    status = call(school.org.municipal, "GET", "/status/schools").json
    [mine] = [row for row in status if row["school_code"] == school.code]
    assert mine["measures"] == {"on_time": 1, "late": 0, "overdue": 0, "planned": 3, "percent": 100}
    proposed = call(school.director, "POST", f"/schools/{school.code}/measures",
                    json={"title": "Открытые уроки", "due_date": "2027-05-20", "responsible": "Завуч",
                          "reason": "Рекомендация куратора", "direction": "k3"})
    assert proposed.status_code == 201 and proposed.json["proposed"] is True
    agreed = call(school.curator, "POST", f"/measures/{proposed.json['id']}/agreement", json={"agree": True})
    assert agreed.status_code == 200 and agreed.json["proposed"] is False
    spec = client.get("/api/v1/openapi.json").json
    assert {"/api/v1/schools/{code}/measures", "/api/v1/measures/{measure_id}",
            "/api/v1/measures/{measure_id}/agreement"} <= set(spec["paths"])


def test_the_measures_page(timed: Database, planned: tuple[School, int]) -> None:
    """The school changes a measure on its page; the curator accepts on the same page; errors come back."""
    school, _ = planned
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "measures", "WTF_CSRF_ENABLED": False})
    first = measures.list_measures(timed, school.code, actor=school.director).measures[0]
    set_password(timed, school.director, school.curator)
    director = signed_in(app, school.director)
    page = director.get(f"/schools/{school.code}/measures")
    assert page.status_code == 200 and "Курсы повышения квалификации" in page.get_data(as_text=True)
    assert 'data-testid="measure-direction">Низкий уровень оснащения школы<' in page.get_data(as_text=True)
    assert '<option value="k8">Высокая доля обучающихся с рисками учебной неуспешности</option>' in page.get_data(
        as_text=True)  # a measure added later serves one of the chosen directions too
    director.post(f"/schools/{school.code}/measures/new", data={
        "title": "Открытые уроки", "direction": "k8", "due_date": "2027-05-20", "responsible": "Завуч",
        "reason": "Рекомендация куратора"})
    [added] = [m for m in measures.list_measures(timed, school.code, actor=school.director).measures if m.proposed]
    assert added.direction == "k8"
    failed = director.post(f"/schools/{school.code}/measures/{first.id}", data={"status": "done"},
                           follow_redirects=True)
    assert "нужно подтверждение" in failed.get_data(as_text=True)
    director.post(f"/schools/{school.code}/measures/{first.id}", data={"status": "done", "evidence_link": LINK})
    assert measures.list_measures(timed, school.code, actor=school.director).measures[0].status == "done"
    curator = signed_in(app, school.curator)
    assert 'data-testid="measure-accept"' in curator.get(f"/schools/{school.code}/measures").get_data(as_text=True)
    curator.post(f"/schools/{school.code}/measures/{first.id}/review", data={"decision": "accept"})
    assert measures.list_measures(timed, school.code, actor=school.curator).measures[0].accepted_by == school.curator
    set_password(timed, school.org.municipal)
    dashboard = signed_in(app, school.org.municipal).get(f"/dashboard?municipality={school.org.municipality}")
    shown = dashboard.get_data(as_text=True)  # the execution per school, drilling down to its measures page
    assert dashboard.status_code == 200 and f'href="/schools/{school.code}/measures"' in shown
    assert "исполнение 100%" in shown


def _measure_actions(timed: Database, school: School, title: str) -> list[tuple[str, int, list[str]]]:
    """What a sweep now does about the measure, after checking its dry run foresaw exactly that."""
    def of_measure(report: SweepReport) -> list[tuple[str, int, list[str]]]:
        return [(a.kind, a.step, sorted(a.recipients)) for a in report.actions
                if a.task_id is None and a.school == school.code and a.task == title]
    foreseen = of_measure(sweep(timed, dry_run=True))
    acted = of_measure(sweep(timed, base_url="https://roadmap.example"))
    assert foreseen == acted
    return acted


def test_a_missed_measure_is_reminded_due_and_escalated_up_the_chain_exactly_once(
        timed: Database, clock: Clock, planned: tuple[School, int]) -> None:
    """Measure deadlines on the tasks' machinery: a reminder two working days before the end of the due date
    in the school's zone, the due notice, then +3, +7 and +14 working days to curator, municipal and regional
    coordinators, each once; a measure done closes its rows, a rescheduled one gets new ones."""
    school, _ = planned
    o = school.org
    m = _by_title(measures.list_measures(timed, school.code, actor=school.director))
    meetings = MEASURES[2]["title"]  # due 15.03.2027
    measures.update_measure(timed, m["Курсы"].id, status="done", evidence_link=LINK, actor=school.director)
    measures.update_measure(timed, m["Оснащение"].id, status="rescheduled", due_date=date(2027, 9, 1),
                            reason="Поставка оборудования перенесена", actor=school.director)
    with timed.reading() as session:
        def open_rows(measure_id: int) -> list[tuple[str, int]]:
            return sorted((d.kind.value, d.step) for d in session.scalars(
                select(Deadline).where(Deadline.measure_id == measure_id, Deadline.fired_at.is_(None))))
        assert open_rows(m["Курсы"].id) == []  # done: nothing more to remind of
        moved = session.scalars(select(Deadline).where(Deadline.measure_id == m["Оснащение"].id,
                                                       Deadline.fired_at.is_(None), Deadline.kind == DeadlineKind.DUE))
        assert [d.fire_at for d in moved] == [datetime(2027, 9, 1, 20, 59, 59, tzinfo=UTC)]  # 23:59:59 in Moscow
        assert open_rows(m["Родительские"].id) == [("due", 0), ("escalation", 1), ("escalation", 2),
                                                    ("escalation", 3), ("reminder", 1)]
    assert _measure_actions(timed, school, meetings) == []
    seen = []
    for moment in (datetime(2027, 3, 12, 9, tzinfo=UTC), datetime(2027, 3, 16, 6, tzinfo=UTC),
                   datetime(2027, 3, 19, 6, tzinfo=UTC), datetime(2027, 3, 25, 6, tzinfo=UTC),
                   datetime(2027, 4, 5, 6, tzinfo=UTC)):
        clock.now = moment
        seen.append(_measure_actions(timed, school, meetings))
        assert _measure_actions(timed, school, meetings) == []  # again at the same moment: nothing twice
    assert seen == [[("reminder", 1, [school.director])], [("due", 0, [school.director])],
                    [("escalation", 1, [school.curator])], [("escalation", 2, [o.municipal])],
                    [("escalation", 3, [o.regional])]]
    assert _measure_actions(timed, school, MEASURES[0]["title"]) == []  # done in time: never reminded
    with timed.reading() as session:
        [note] = session.scalars(select(Notification).join(User, User.id == Notification.user_id)
                                 .where(User.login == o.municipal, Notification.kind == "escalation",
                                        Notification.title.contains(meetings)))
        assert note.link == f"https://roadmap.example/schools/{school.code}/measures"
        assert "15.03.2027" in note.body and "Соцпедагог" in note.body


def test_a_measure_added_later_counts_once_the_curator_agrees(timed: Database, planned: tuple[School, int]) -> None:
    school, instance_id = planned
    with pytest.raises(FormInvalid) as bad:
        measures.add_measure(timed, school.code, title=MEASURES[0]["title"], due_date=date(2020, 1, 1),
                             responsible="", reason="", actor=school.director)
    assert set(bad.value.errors) == {"title", "due_date", "responsible", "reason", "direction"}
    with pytest.raises(FormInvalid) as unchosen:  # a direction the school did not choose
        measures.add_measure(timed, school.code, title="Открытые уроки для родителей", due_date=date(2027, 5, 1),
                             responsible="Завуч", reason="Рекомендация куратора", direction="k6",
                             actor=school.director)
    assert list(unchosen.value.errors) == ["direction"]
    mine = measures.list_measures(timed, school.code, actor=school.director)
    assert [key for key, _ in mine.directions] == ["k1", "k3", "k8"]
    assert measures.list_measures(timed, school.code, actor=school.curator).directions == ()
    with pytest.raises(NotAllowed):
        measures.add_measure(timed, school.code, title="Лишнее", due_date=date(2027, 5, 1), responsible="Завуч",
                             reason="Просит куратор", actor=school.curator)
    added = measures.add_measure(timed, school.code, title="Открытые уроки для родителей", due_date=date(2027, 5, 1),
                                 responsible="Завуч", reason="Рекомендация куратора после посещения",
                                 direction="k8", actor=school.director)
    assert added.proposed and added.status == "planned" and added.direction_title == "Высокая доля обучающихся " \
        "с рисками учебной неуспешности"
    assert measures.list_measures(timed, school.code, actor=school.director).execution.planned == 4  # not yet
    with pytest.raises(FormInvalid, match="status"):
        measures.update_measure(timed, added.id, status="in_progress", actor=school.director)
    with pytest.raises(NotAllowed):
        measures.agree_addition(timed, added.id, agree=True, actor=school.director)
    with pytest.raises(FormInvalid, match="comment"):
        measures.agree_addition(timed, added.id, agree=False, actor=school.curator)
    agreed = measures.agree_addition(timed, added.id, agree=True, actor=school.curator)
    assert not agreed.proposed
    assert measures.list_measures(timed, school.code, actor=school.director).execution.planned == 5
    with timed.reading() as session:
        assert session.scalar(select(Deadline.id).where(Deadline.measure_id == added.id,
                                                        Deadline.kind == DeadlineKind.DUE)) is not None
    declined = measures.add_measure(timed, school.code, title="Экскурсия", due_date=date(2027, 5, 2),
                                    responsible="Классный руководитель", reason="По желанию родителей",
                                    direction="k1", actor=school.director)
    measures.agree_addition(timed, declined.id, agree=False, comment="Не относится к рисковым направлениям",
                            actor=school.curator)
    assert [h.what for h in measures.history(timed, declined.id, actor=school.director)] == ["proposed", "declined"]
    with timed.transaction() as session:  # a rework of the plan keeps what was added later
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        section = compiled_version(session, instance.template_version_id).spec.sections.measures
        assert section is not None
        measures.track_planned(session, timed.now(), None, instance, section, {"measures": MEASURES})
    titles = [m.title for m in measures.list_measures(timed, school.code, actor=school.director).measures]
    assert titles == [*(m["title"] for m in MEASURES), "Открытые уроки для родителей"]


def test_a_roadmap_no_longer_running_reminds_of_no_measure(timed: Database, clock: Clock,
                                                            planned: tuple[School, int]) -> None:
    school, instance_id = planned
    with timed.transaction() as session:  # as a withdrawal would leave it (the service is issue 22's)
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        instance.status = InstanceStatus.CANCELLED
    clock.now = datetime(2027, 3, 16, 6, tzinfo=UTC)  # past the reminder and due of the meetings
    assert _measure_actions(timed, school, MEASURES[2]["title"]) == []


def test_the_api_form_offers_the_school_s_chosen_directions(timed: Database, clock: Clock) -> None:
    """The plan's direction select carries the directions the school chose (x-allowed-values, and the titles in
    ``choices``); only those pass the submission."""
    school = new_school(timed)
    ensure_cohort(timed, COHORT)
    key = versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(timed, key, school.code, cohort_year=COHORT, actor=OPERATOR).instance_id
    run_selection(timed, school, instance_id)
    run_questionnaire_stage(timed, school, instance_id, clock)
    run_measures_program(timed, school, instance_id, run_risk_profile(timed, school, instance_id))
    [task_id] = only_for(timed, school, instance_id, "plan_measures", school.director)
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "measures"})
    token = create_token(timed, "тест", actor=school.director)[1]
    detail = app.test_client().get(f"/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {token}"}).json
    assert detail is not None
    [items] = [c for c in detail["form"]["components"] if c.get("path") == "measures"]
    [direction] = [c for c in items["components"] if c.get("key") == "direction"]
    assert direction["x-allowed-values"] == ["k1", "k3", "k8"] and direction["valuesKey"] == "direction_choices"
    assert detail["choices"]["direction_choices"][2] == {"label": "Высокая доля обучающихся с рисками учебной "
                                                                  "неуспешности", "value": "k8"}
    with pytest.raises(FormInvalid) as refused:
        tasks.complete_task(timed, task_id, {"measures": [{**MEASURES[0], "direction": "k2"}]}, actor=school.director)
    assert refused.value.errors == {"measures[0].direction": ["Выберите одно из направлений рисков, выбранных школой."]}
