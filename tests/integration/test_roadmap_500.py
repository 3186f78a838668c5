"""The «500+» template end to end: one school through all six stages, every role acting through the
engine services, and at every step only the right people see the task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import curator_pool, instances, questionnaires, tasks, templates
from engine.bpmn.runtime import WorkflowRun
from engine.cohorts import ensure_cohort
from engine.db import Database
from engine.due import MOSCOW
from engine.errors import Conflict, EngineError, FormInvalid, NotAllowed
from engine.models import InstanceStatus, ProcessInstance, RoleGrant
from engine.org import GrantRow, OrgData, UserRow, apply_org
from engine.roles import Role
from engine.templates import compiled_version
from tests.conftest import Org, make_org, unique

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"
COHORT = 2027


class Clock:
    """Time moved by the test, never by sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


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


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2027, 1, 20, 9, 0, tzinfo=UTC))


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def school(timed: Database) -> School:
    return new_school(timed)


def new_school(timed: Database) -> School:
    org = make_org(timed)
    tag = unique()
    found = School(org, f"X{tag}", f"director-{tag}", f"new-curator-{tag}")
    apply_org(timed, OrgData(
        schools=[(found.code, "МБОУ «Кураловская СОШ»", org.municipality)],
        users=[UserRow(found.director, "Маслов Г. Г."), UserRow(found.curator, "Куратор Новый")],
        grants=[GrantRow(found.director, Role.SCHOOL, found.code)],
    ))
    curator_pool.add_to_pool(timed, org.region, found.curator, actor_login=org.regional)
    return found


@pytest.fixture
def roadmap_key(timed: Database) -> str:
    ensure_cohort(timed, COHORT)
    return templates.deploy_template(timed, templates.read_bundle(ROADMAP)).key


def open_tasks(db: Database, login: str, instance_id: int) -> list[tasks.TaskView]:
    return [t for t in tasks.list_tasks(db, login, limit=1000) if t.instance_id == instance_id]


def only_for(db: Database, school: School, instance_id: int, element: str, *who: str) -> list[int]:
    """The open ``element`` tasks of the instance, asserting that exactly ``who`` can see them."""
    seen = {login: [t for t in open_tasks(db, login, instance_id) if t.element_id == element]
            for login in school.everyone}
    assert {login for login, found in seen.items() if found} == set(who), element
    return sorted(t.id for t in seen[who[0]])


def act(db: Database, school: School, instance_id: int, element: str, login: str, data: dict[str, Any]) -> None:
    [task_id] = only_for(db, school, instance_id, element, login)
    tasks.complete_task(db, task_id, login, data)


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
    questionnaires.submit_response(db, school.code, "director", DIRECTOR, login=school.director)
    for i, answers in enumerate(TEACHERS):
        questionnaires.submit_response(db, school.code, "teacher", answers, token=f"{school.code}-t{i}")
    for i, answers in enumerate(STUDENTS):
        questionnaires.submit_response(db, school.code, "student", answers, token=f"{school.code}-s{i}")
    for i, events in enumerate([0, 2]):
        questionnaires.submit_response(db, school.code, "parent", {"events_attended": events, "homework_help": "never"},
                                       token=f"{school.code}-p{i}")


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
        questionnaires.submit_response(db, school.code, "teacher", TEACHERS[0], token=f"{school.code}-t0")
    with pytest.raises(Conflict):  # the director answers once
        questionnaires.submit_response(db, school.code, "director", DIRECTOR, login=school.director)
    with pytest.raises(NotAllowed):
        questionnaires.submit_response(db, school.code, "director", DIRECTOR, login=school.org.school_user)
    with pytest.raises(FormInvalid):
        questionnaires.submit_response(db, school.code, "parent", {"events_attended": -3}, token="bad")
    clock.advance(days=10)
    act(db, school, instance_id, "run_questionnaires", school.director, {"questionnaires_done": True})
    with pytest.raises(EngineError, match="не проводится"):  # the window closed with the task
        questionnaires.submit_response(db, school.code, "parent", {"events_attended": 4, "homework_help": "never"},
                                       token="late")
    # The curator asks for more parents: one return for rework.
    with pytest.raises(FormInvalid, match="coverage_comment"):
        act(db, school, instance_id, "confirm_coverage", school.curator, {"coverage_decision": "rework"})
    act(db, school, instance_id, "confirm_coverage", school.curator,
        {"coverage_decision": "rework", "coverage_comment": "Мало ответов родителей"})
    questionnaires.submit_response(db, school.code, "parent", {"events_attended": 1, "homework_help": "sometimes"},
                                   token=f"{school.code}-p9")
    act(db, school, instance_id, "run_questionnaires", school.director, {"questionnaires_done": True})
    act(db, school, instance_id, "confirm_coverage", school.curator, {"coverage_decision": "accepted"})


def run_risk_profile(db: Database, school: School, instance_id: int) -> list[str]:
    data = process_data(db, instance_id)
    assert data["responses"] == {"director": 1, "teacher": 4, "student": 6, "parent": 3}
    assert data["risk_profile"] == EXPECTED_PROFILE  # rated by the DMN table from the answers above
    [task_id] = only_for(db, school, instance_id, "choose_risk_directions", school.director)
    assert tasks.get_task(db, task_id, school.director).values["risk_directions"] == ["k1", "k3", "k4"]
    with pytest.raises(FormInvalid, match="risk_directions"):  # k6 is a low risk here
        tasks.complete_task(db, task_id, school.director, {"risk_directions": ["k1", "k6"]})
    chosen = ["k1", "k3", "k8"]
    tasks.complete_task(db, task_id, school.director, {"risk_directions": chosen, "justification": "По профилю"})
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
        tasks.complete_task(db, task_id, school.director, document("antirisk", "Антирисковая программа"))
    for task_id in only_for(db, school, instance_id, "review_antirisk", school.curator):
        tasks.complete_task(db, task_id, school.curator, {"antirisk_decision": "accepted"})


def run_monitoring(db: Database, school: School, instance_id: int) -> None:
    o = school.org
    with pytest.raises(FormInvalid, match="measures"):
        act(db, school, instance_id, "plan_measures", school.director, {"measures": []})
    act(db, school, instance_id, "plan_measures", school.director, {"measures": [
        {"title": "Курсы повышения квалификации", "due_date": "2027-10-01", "owner": "Завуч"}]})
    visit = {"visit_term": "h1", "visit_date": "2027-06-10", "visit_findings": "Проведены уроки, даны рекомендации"}
    with pytest.raises(FormInvalid, match="visits_complete"):  # no visit in the second half-year yet
        act(db, school, instance_id, "curator_visit", school.curator, {**visit, "visits_complete": True})
    act(db, school, instance_id, "curator_visit", school.curator, visit)
    act(db, school, instance_id, "curator_visit", school.curator,
        {**visit, "visit_term": "h2", "visit_date": "2027-10-20", "visits_complete": True})
    act(db, school, instance_id, "municipal_monitoring", o.municipal, {"monitoring_assessment": "on_track"})
    act(db, school, instance_id, "regional_monitoring_report", o.regional,
        {"regional_summary": "Мониторинг проведён во всех школах региона."})


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


def test_one_school_through_all_six_stages(timed: Database, school: School, roadmap_key: str, clock: Clock) -> None:
    instance_id = instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT).instance_id
    assert stage(timed, instance_id) == "selection"
    run_selection(timed, school, instance_id)
    with timed.reading() as session:  # the regional coordinator's choice became a grant
        assert session.scalar(select(RoleGrant.role).join(RoleGrant.user).where(
            RoleGrant.user.has(login=school.curator))) is Role.CURATOR
    assert stage(timed, instance_id) == "questionnaire"
    run_questionnaire_stage(timed, school, instance_id, clock)
    assert stage(timed, instance_id) == "risk_profile"
    chosen = run_risk_profile(timed, school, instance_id)
    assert stage(timed, instance_id) == "measures_program"
    run_measures_program(timed, school, instance_id, chosen)
    assert stage(timed, instance_id) == "monitoring"
    run_monitoring(timed, school, instance_id)
    assert stage(timed, instance_id) == "evaluation"
    run_evaluation(timed, school, instance_id)
    with timed.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None and row.status is InstanceStatus.COMPLETED
    assert all(open_tasks(timed, login, instance_id) == [] for login in school.everyone)


def test_a_declined_school_ends_at_selection(timed: Database, school: School, roadmap_key: str) -> None:
    instance_id = instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT).instance_id
    act(timed, school, instance_id, "confirm_participation", school.org.regional, {"participation": "declined"})
    with timed.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None and row.status is InstanceStatus.COMPLETED


def test_one_roadmap_per_school_per_cohort(timed: Database, school: School, roadmap_key: str) -> None:
    instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT)
    with pytest.raises(Conflict, match="уже есть маршрут"):
        instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT)


def _add_motivation_factor(bundle: Path, key: str) -> None:
    """A new catalogue year: «Низкая учебная мотивация обучающихся» joins as factor k11."""
    import json

    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["key"] = key
    manifest["indicators"]["low_interest_share"] = {
        "title": "Доля обучающихся, которым неинтересно учиться", "group": "student",
        "field": "learning_interest", "aggregate": "share", "values": ["low"]}
    manifest["risk_catalogue"]["version"] = "2023"
    manifest["risk_catalogue"]["factors"].append(
        {"key": "k11", "title": "Низкая учебная мотивация обучающихся", "indicator": "low_interest_share"})
    (bundle / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    dmn = bundle / "risk-factors.dmn"
    rows = "".join(
        f'<rule id="r_k11_{level}"><inputEntry id="r_k11_{level}_f"><text>"k11"</text></inputEntry>'
        f'<inputEntry id="r_k11_{level}_v"><text>{cell}</text></inputEntry>'
        f'<outputEntry id="r_k11_{level}_l"><text>"{level}"</text></outputEntry></rule>'
        for level, cell in (("high", "&gt;= 0.4"), ("medium", "0.2 &lt;= ? &lt; 0.4"), ("low", "&lt; 0.2")))
    dmn.write_text(dmn.read_text(encoding="utf-8").replace("    </decisionTable>", rows + "</decisionTable>"),
                   encoding="utf-8")
    form = bundle / "forms" / "choose_risk_directions.form"
    definition = json.loads(form.read_text(encoding="utf-8"))
    for component in definition["components"]:
        if component.get("key") == "risk_directions":
            component["values"].append({"label": "Низкая учебная мотивация обучающихся", "value": "k11"})
    form.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")


def _to_risk_profile(db: Database, school: School, instance_id: int, clock: Clock) -> dict[str, Any]:
    act(db, school, instance_id, "confirm_participation", school.org.regional,
        {"participation": "confirmed", "curator_login": school.curator})
    answer_questionnaires(db, school)
    act(db, school, instance_id, "run_questionnaires", school.director, {"questionnaires_done": True})
    act(db, school, instance_id, "confirm_coverage", school.curator, {"coverage_decision": "accepted"})
    return process_data(db, instance_id)


def test_catalogue_change_is_a_new_version_and_old_instances_keep_theirs(
        timed: Database, school: School, clock: Clock, tmp_path: Path) -> None:
    import shutil

    key = unique("roadmap-")
    bundle = tmp_path / "roadmap"
    shutil.copytree(ROADMAP, bundle)
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"key": "roadmap-500"', f'"key": "{key}"'),
                        encoding="utf-8")
    ensure_cohort(timed, COHORT)
    assert templates.deploy_template(timed, templates.read_bundle(bundle)).version == 1
    old = instances.start_instance(timed, key, school.code, cohort_year=COHORT).instance_id

    _add_motivation_factor(bundle, key)
    assert templates.deploy_template(timed, templates.read_bundle(bundle)).version == 2
    newer_school = new_school(timed)
    new = instances.start_instance(timed, key, newer_school.code, cohort_year=COHORT)
    assert new.template_version == 2

    old_data = _to_risk_profile(timed, school, old, clock)
    new_data = _to_risk_profile(timed, newer_school, new.instance_id, clock)
    assert old_data["risk_profile"] == EXPECTED_PROFILE and old_data["risk_catalogue_version"] == "2022"
    assert new_data["risk_profile"] == {**EXPECTED_PROFILE, "k11": "high"}  # 3 of 6 students: low interest
    assert new_data["risk_catalogue_version"] == "2023"
