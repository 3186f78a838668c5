"""The «500+» template end to end: one school through all six stages, every role acting through the
engine services, and at every step only the right people see the task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import Conflict
from engine.models import InstanceStatus, ProcessInstance, RoleGrant
from engine.process import instances
from engine.process.cohorts import ensure_cohort
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Clock, unique
from tests.helpers import ROADMAP
from tests.roadmap_steps import (
    COHORT,
    EXPECTED_PROFILE,
    START,
    School,
    act,
    answer_questionnaires,
    new_school,
    open_tasks,
    process_data,
    run_evaluation,
    run_measures_program,
    run_monitoring,
    run_questionnaire_stage,
    run_risk_profile,
    run_selection,
    stage,
)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def school(timed: Database) -> School:
    return new_school(timed)


@pytest.fixture
def roadmap_key(timed: Database) -> str:
    ensure_cohort(timed, COHORT)
    return versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key


def test_one_school_through_all_six_stages(timed: Database, school: School, roadmap_key: str, clock: Clock) -> None:
    instance_id = instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT,
                                           actor=OPERATOR).instance_id
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
    instance_id = instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT,
                                           actor=OPERATOR).instance_id
    act(timed, school, instance_id, "confirm_participation", school.org.regional, {"participation": "declined"})
    with timed.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None and row.status is InstanceStatus.COMPLETED


def test_one_roadmap_per_school_per_cohort(timed: Database, school: School, roadmap_key: str) -> None:
    instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT, actor=OPERATOR)
    with pytest.raises(Conflict, match="уже есть маршрут"):
        instances.start_instance(timed, roadmap_key, school.code, cohort_year=COHORT, actor=OPERATOR)


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
    assert versions.deploy_template(timed, versions.read_bundle(bundle), actor=OPERATOR).version == 1
    old = instances.start_instance(timed, key, school.code, cohort_year=COHORT, actor=OPERATOR).instance_id

    _add_motivation_factor(bundle, key)
    assert versions.deploy_template(timed, versions.read_bundle(bundle), actor=OPERATOR).version == 2
    newer_school = new_school(timed)
    new = instances.start_instance(timed, key, newer_school.code, cohort_year=COHORT, actor=OPERATOR)
    assert new.template_version == 2

    old_data = _to_risk_profile(timed, school, old, clock)
    new_data = _to_risk_profile(timed, newer_school, new.instance_id, clock)
    assert old_data["risk_profile"] == EXPECTED_PROFILE and old_data["risk_catalogue_version"] == "2022"
    assert new_data["risk_profile"] == {**EXPECTED_PROFILE, "k11": "high"}  # 3 of 6 students: low interest
    assert new_data["risk_catalogue_version"] == "2023"
