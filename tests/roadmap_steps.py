"""The «500+» roadmap driven through the engine services, stage by stage, with the data each stage needs:
the steps of the end-to-end test (tests/integration/test_roadmap_500.py), shared with the tests that need a
roadmap halfway through (instance migration inside the multi-instance call activity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.actors import OPERATOR
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.errors import Conflict, EngineError, FormInvalid, NotAllowed
from engine.models import ProcessInstance
from engine.org import curator_pool
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process import questionnaires, tasks
from engine.roles import Role
from engine.templates.versions import compiled_version
from engine.timing.due import MOSCOW
from tests.conftest import Clock, Org, make_org, unique

COHORT = 2027
START = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)  # the cohort's questionnaire stage lies ahead


@dataclass
class School:
    """The school under test: its own code, director login and a curator not yet bound to it (nor to any
    school: the region's curator pool makes them a candidate)."""

    org: Org
    code: str
    director: str
    curator: str

    @property
    def everyone(self) -> list[str]:
        o = self.org
        return [self.director, self.curator, o.curator, o.school_user, o.foreign_school_user, o.municipal,
                o.other_municipal, o.regional, o.federal, o.admin]


def new_school(timed: Database) -> School:
    org = make_org(timed)
    tag = unique()
    found = School(org, f"X{tag}", f"director-{tag}", f"new-curator-{tag}")
    apply_org(timed, OrgData(
        schools=[(found.code, "МБОУ «Кураловская СОШ»", org.municipality)],
        users=[UserRow(found.director, "Маслов Г. Г."), UserRow(found.curator, "Куратор Новый")],
        grants=[GrantRow(found.director, Role.SCHOOL, found.code)],
    ))
    curator_pool.add_to_pool(timed, org.region, found.curator, actor=org.regional)
    return found


def open_tasks(db: Database, login: str, instance_id: int) -> list[tasks.TaskView]:
    return [t for t in tasks.list_tasks(db, limit=1000, actor=login) if t.instance_id == instance_id]


def only_for(db: Database, school: School, instance_id: int, element: str, *who: str) -> list[int]:
    """The open ``element`` tasks of the instance, asserting that exactly ``who`` can see them."""
    seen = {login: [t for t in open_tasks(db, login, instance_id) if t.element_id == element]
            for login in school.everyone}
    assert {login for login, found in seen.items() if found} == set(who), element
    return sorted(t.id for t in seen[who[0]])


def act(db: Database, school: School, instance_id: int, element: str, login: str, data: dict[str, Any]) -> None:
    [task_id] = only_for(db, school, instance_id, element, login)
    tasks.complete_task(db, task_id, data, actor=login)


def stage(db: Database, instance_id: int) -> str | None:
    with db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row.current_stage


def process_data(db: Database, instance_id: int) -> dict[str, Any]:
    with db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return WorkflowRun.restore(compiled_version(session, row.template_version_id), row.workflow_json).data


TEACHERS = [  # methodical confidence mean 2.25 -> k3 high; "never" 2 of 4 -> k4 high; no training 1 of 4 -> k5 medium
    {"methodical_confidence": 2, "differentiated_tasks": "never", "pd_last_3y": True, "discipline_problems": "often"},
    {"methodical_confidence": 3, "differentiated_tasks": "never", "pd_last_3y": True, "discipline_problems": "rarely"},
    {"methodical_confidence": 2, "differentiated_tasks": "sometimes", "pd_last_3y": False,
     "discipline_problems": "sometimes"},
    {"methodical_confidence": 2, "differentiated_tasks": "often", "pd_last_3y": True, "discipline_problems": "rarely"},
]
STUDENTS = [  # unsafe 1 of 6 -> k7 medium; often disrupted 1 of 6 -> k9 low
    {"grade": g, "feel_safe": safe, "lessons_disrupted": noise, "learning_interest": interest}
    for g, safe, noise, interest in [("5", "yes", "often", "low"), ("6", "mostly", "rarely", "low"),
                                     ("7", "no", "sometimes", "medium"), ("8", "yes", "rarely", "high"),
                                     ("9", "yes", "sometimes", "low"), ("9", "mostly", "rarely", "medium")]
]
DIRECTOR = {"equipment_level": 2, "teacher_vacancies": 1, "students_at_risk_share": 35, "non_native_share": 5}
EXPECTED_PROFILE = {"k1": "high", "k2": "medium", "k3": "high", "k4": "high", "k5": "medium", "k6": "low",
                    "k7": "medium", "k8": "high", "k9": "low", "k10": "medium"}


def answer_questionnaires(db: Database, school: School) -> None:
    questionnaires.submit_response(db, school.code, "director", DIRECTOR, actor=school.director)
    for i, answers in enumerate(TEACHERS):
        questionnaires.submit_response(db, school.code, "teacher", answers, token=f"{school.code}-t{i}", actor=OPERATOR)
    for i, answers in enumerate(STUDENTS):
        questionnaires.submit_response(db, school.code, "student", answers, token=f"{school.code}-s{i}", actor=OPERATOR)
    for i, events in enumerate([0, 2]):
        questionnaires.submit_response(db, school.code, "parent", {"events_attended": events, "homework_help": "never"},
                                       token=f"{school.code}-p{i}", actor=OPERATOR)


def run_selection(db: Database, school: School, instance_id: int) -> None:
    o = school.org
    only_for(db, school, instance_id, "confirm_participation", o.regional)
    with pytest.raises(FormInvalid) as no_curator:
        act(db, school, instance_id, "confirm_participation", o.regional, {"participation": "confirmed"})
    assert "curator_login" in no_curator.value.errors
    with pytest.raises(FormInvalid, match="curator_login"):
        act(db, school, instance_id, "confirm_participation", o.regional,
            {"participation": "confirmed", "curator_login": "nobody-like-this"})
    act(db, school, instance_id, "confirm_participation", o.regional,
        {"participation": "confirmed", "curator_login": school.curator, "order_number": "106",
         "order_date": "2027-01-29"})


def run_questionnaire_stage(db: Database, school: School, instance_id: int, clock: Clock) -> None:
    [task_id] = only_for(db, school, instance_id, "run_questionnaires", school.director)
    [view] = [t for t in open_tasks(db, school.director, instance_id) if t.id == task_id]
    assert view.due_at == datetime(2027, 3, 1, 23, 59, 59, tzinfo=MOSCOW)  # the cohort's calendar date
    answer_questionnaires(db, school)
    with pytest.raises(Conflict):  # one response per link
        questionnaires.submit_response(db, school.code, "teacher", TEACHERS[0], token=f"{school.code}-t0",
                                       actor=OPERATOR)
    with pytest.raises(Conflict):  # the director answers once
        questionnaires.submit_response(db, school.code, "director", DIRECTOR, actor=school.director)
    with pytest.raises(NotAllowed):
        questionnaires.submit_response(db, school.code, "director", DIRECTOR, actor=school.org.school_user)
    with pytest.raises(FormInvalid):
        questionnaires.submit_response(db, school.code, "parent", {"events_attended": -3}, token="bad", actor=OPERATOR)
    clock.advance(days=10)
    act(db, school, instance_id, "run_questionnaires", school.director, {"questionnaires_done": True})
    with pytest.raises(EngineError, match="не проводится"):  # the window closed with the task
        questionnaires.submit_response(db, school.code, "parent", {"events_attended": 4, "homework_help": "never"},
                                       token="late", actor=OPERATOR)
    # The curator asks for more parents: one return for rework.
    with pytest.raises(FormInvalid, match="coverage_comment"):
        act(db, school, instance_id, "confirm_coverage", school.curator, {"coverage_decision": "rework"})
    act(db, school, instance_id, "confirm_coverage", school.curator,
        {"coverage_decision": "rework", "coverage_comment": "Мало ответов родителей"})
    questionnaires.submit_response(db, school.code, "parent", {"events_attended": 1, "homework_help": "sometimes"},
                                   token=f"{school.code}-p9", actor=OPERATOR)
    act(db, school, instance_id, "run_questionnaires", school.director, {"questionnaires_done": True})
    act(db, school, instance_id, "confirm_coverage", school.curator, {"coverage_decision": "accepted"})


def run_risk_profile(db: Database, school: School, instance_id: int) -> list[str]:
    data = process_data(db, instance_id)
    assert data["responses"] == {"director": 1, "teacher": 4, "student": 6, "parent": 3}
    assert data["risk_profile"] == EXPECTED_PROFILE  # rated by the DMN table from the answers above
    [task_id] = only_for(db, school, instance_id, "choose_risk_directions", school.director)
    assert tasks.get_task(db, task_id, actor=school.director).values["risk_directions"] == ["k1", "k3", "k4"]
    with pytest.raises(FormInvalid, match="risk_directions"):  # k6 is a low risk here
        tasks.complete_task(db, task_id, {"risk_directions": ["k1", "k6"]}, actor=school.director)
    chosen = ["k1", "k3", "k8"]
    tasks.complete_task(db, task_id, {"risk_directions": chosen, "justification": "По профилю"}, actor=school.director)
    act(db, school, instance_id, "approve_risk_profile", school.curator, {"risk_decision": "accepted"})
    return chosen


def document(prefix: str, title: str) -> dict[str, Any]:
    return {f"{prefix}_title": title, f"{prefix}_summary" if prefix != "antirisk" else "antirisk_goals":
            "Цели, задачи и мероприятия на три года с показателями результативности."}


def run_measures_program(db: Database, school: School, instance_id: int, chosen: list[str]) -> None:
    act(db, school, instance_id, "prepare_concept", school.director, document("concept", "Концепция развития"))
    act(db, school, instance_id, "review_concept", school.curator, {"concept_decision": "accepted"})
    assert process_data(db, instance_id)["concept_status"] == "Принято"
    only_for(db, school, instance_id, "prepare_programme", school.director)
    antirisk = only_for(db, school, instance_id, "prepare_antirisk", school.director)
    names = sorted(t.name for t in open_tasks(db, school.director, instance_id) if t.element_id == "prepare_antirisk")
    assert len(antirisk) == len(chosen)
    assert names[0].startswith("Разработать антирисковую программу: ")
    assert any("Низкий уровень оснащения школы" in n for n in names)
    act(db, school, instance_id, "prepare_programme", school.director, document("programme", "Программа 2027–2029"))
    act(db, school, instance_id, "review_programme", school.curator, {"programme_decision": "accepted"})
    for task_id in antirisk:
        tasks.complete_task(db, task_id, document("antirisk", "Антирисковая программа"), actor=school.director)
    for task_id in only_for(db, school, instance_id, "review_antirisk", school.curator):
        tasks.complete_task(db, task_id, {"antirisk_decision": "accepted"}, actor=school.curator)


#: A school's roadmap of measures as the plan_measures form takes it (title, risk direction — one of those the
#: school chose in run_risk_profile: k1, k3, k8 —, due date, owner).
MEASURES = [
    {"title": "Курсы повышения квалификации", "direction": "k3", "due_date": "2027-04-01",
     "owner": "Завуч Петрова А. А."},
    {"title": "Оснащение кабинетов физики и химии", "direction": "k1", "due_date": "2027-05-01",
     "owner": "Директор Маслов Г. Г."},
    {"title": "Родительские собрания по профилактике рисков", "direction": "k8", "due_date": "2027-03-15",
     "owner": "Соцпедагог"},
    {"title": "Методический семинар для учителей", "direction": "k3", "due_date": "2027-06-01",
     "owner": "Руководитель МО"},
]


def plan_measures(db: Database, school: School, instance_id: int, measures: list[dict[str, Any]]) -> None:
    """The school submits its roadmap of measures: the template's track_measures action keeps them as rows."""
    with pytest.raises(FormInvalid, match="measures"):
        act(db, school, instance_id, "plan_measures", school.director, {"measures": []})
    [task_id] = only_for(db, school, instance_id, "plan_measures", school.director)
    offered = tasks.get_task(db, task_id, actor=school.director).choices["direction_choices"]
    assert [c["value"] for c in offered] == ["k1", "k3", "k8"]  # the school's chosen risk directions
    assert offered[0]["label"] == "Низкий уровень оснащения школы"
    with pytest.raises(FormInvalid) as unchosen:  # a direction the school did not choose is refused, by item
        act(db, school, instance_id, "plan_measures", school.director,
            {"measures": [{**measures[0], "direction": "k6"}, *measures[1:]]})
    assert list(unchosen.value.errors) == ["measures[0].direction"]
    with pytest.raises(FormInvalid, match="direction"):  # and a measure without one
        act(db, school, instance_id, "plan_measures", school.director,
            {"measures": [{k: v for k, v in m.items() if k != "direction"} for m in measures]})
    act(db, school, instance_id, "plan_measures", school.director, {"measures": measures})


def run_monitoring(db: Database, school: School, instance_id: int) -> None:
    o = school.org
    with pytest.raises(FormInvalid, match="measures"):
        act(db, school, instance_id, "plan_measures", school.director, {"measures": []})
    act(db, school, instance_id, "plan_measures", school.director, {"measures": [
        {"title": "Курсы повышения квалификации", "direction": "k3", "due_date": "2027-10-01", "owner": "Завуч"}]})
    visit = {"visit_term": "h1", "visit_date": "2027-06-10", "visit_findings": "Проведены уроки, даны рекомендации"}
    with pytest.raises(FormInvalid, match="visits_complete"):  # no visit in the second half-year yet
        act(db, school, instance_id, "curator_visit", school.curator, {**visit, "visits_complete": True})
    act(db, school, instance_id, "curator_visit", school.curator, visit)
    act(db, school, instance_id, "curator_visit", school.curator,
        {**visit, "visit_term": "h2", "visit_date": "2027-10-20", "visits_complete": True})
    act(db, school, instance_id, "municipal_monitoring", o.municipal, {"monitoring_assessment": "on_track"})
    act(db, school, instance_id, "regional_monitoring_report", o.regional,
        {"regional_summary": "Мониторинг проведён во всех школах региона."})
    data = process_data(db, instance_id)  # the evaluation stage reads the execution of the measures
    assert sum(data["measures_counts"].values()) == 1 and "measures_execution" in data


def run_evaluation(db: Database, school: School, instance_id: int) -> None:
    o = school.org
    act(db, school, instance_id, "school_report", school.director,
        {"roadmap_completion": 92, "vpr_dynamics": "improved", "report_summary": "Дорожная карта выполнена на 92%."})
    act(db, school, instance_id, "curator_conclusion", school.curator,
        {"curator_recommendation": "escalate", "conclusion_text": "Нужна поддержка на федеральном уровне."})
    act(db, school, instance_id, "municipal_decision", o.municipal, {"municipal_proposal": "escalate"})
    act(db, school, instance_id, "regional_decision", o.regional, {"final_decision": "escalate"})
    act(db, school, instance_id, "federal_review", o.federal,
        {"federal_resolution": "Назначить дополнительную поддержку.", "federal_measure": "support"})
