"""The «500+» commands: demo, status, cohort start, questionnaire submit, import-org."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.demo import DEMO_PASSWORD, SCHOOLS, school_login
from engine.errors import FormInvalid
from engine.models import Cohort, ProcessInstance, School, User
from engine.org.passwords import verify_password
from engine.process import tasks
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import make_org, unique
from tests.helpers import ROADMAP
from web.cli import cli


def run(db: Database, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=db)
    return result.exit_code, result.stdout, result.stderr


def test_demo_is_idempotent_and_prints_logins(db: Database) -> None:
    versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR)
    code, out, _ = run(db, "demo", "--year", "2031", "--no-story")
    assert code == 0 and "Когорта 2031: запущено 8" in out and f"пароль «{DEMO_PASSWORD}»" in out
    assert "region-42" in out and school_login("42-PROM-01") in out and "шагов" not in out
    code, out, _ = run(db, "demo", "--year", "2031")  # an existing cohort gets no story
    assert code == 0 and "запущено 0, уже шло 8" in out
    with db.reading() as session:
        director = session.scalar(select(User).where(User.login == school_login("42-TAI-03")))
        assert director is not None and verify_password(director.password_hash, DEMO_PASSWORD)
    # The regional coordinator has the selection task of every demo school on their desk.
    desk = [t for t in tasks.list_tasks(db, limit=1000, actor="region-42") if t.element_id == "confirm_participation"]
    assert {t.school_code for t in desk} >= {code for code, _, _ in SCHOOLS}
    # Its form offers the demo's four curators as candidates, and binding one works (the school's own does not).
    [tai] = [t for t in desk if t.school_code == "42-TAI-01"]
    offered = tasks.get_task(db, tai.id, actor="region-42").choices["curator_candidates"]
    # Nearby first (curator-4 curates in Tayga), then the least loaded (open roadmaps), then by name.
    assert [o["value"] for o in offered] == ["curator-4", "curator-3", "curator-1", "curator-2"]
    assert offered[0]["label"] == "Морозов Д. С. — Тайгинский городской округ, 3 школы"
    with pytest.raises(FormInvalid):
        tasks.complete_task(db, tai.id, {"participation": "confirmed", "curator_login": school_login("42-TAI-01")},
                            actor="region-42")
    tasks.complete_task(db, tai.id, {"participation": "confirmed", "curator_login": "curator-1"}, actor="region-42")


def test_status_text_and_json(db: Database) -> None:
    org = make_org(db)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    ensure_cohort(db, 2032)
    assert run(db, "start", "--template", key, "--school", org.school, "--cohort", "2032")[0] == 0
    code, out, _ = run(db, "status", "--municipality", org.municipality, "--cohort", "2032", "--json")
    report = json.loads(out)
    by_school = {row["school_code"]: row for row in report["schools"]}
    assert code == 0 and set(by_school) == {org.school, org.sibling_school}
    assert by_school[org.school]["stages"]["selection"] == "current"
    assert by_school[org.school]["stages"]["evaluation"] == "pending"
    assert by_school[org.sibling_school]["status"] == "not_started"
    assert report["at_stage"]["selection"] == 1 and report["not_started"] == 1
    code, out, _ = run(db, "status", "--region", org.region, "--cohort", "2032")
    assert code == 0 and org.foreign_school in out and "Отбор: 1" in out
    code, _, err = run(db, "status", "--region", org.region, "--municipality", org.municipality)
    assert code == 2 and "либо --region, либо --municipality" in err


def test_cohort_start_starts_only_missing_schools(db: Database) -> None:
    org = make_org(db)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    code, out, _ = run(db, "cohort", "start", "--template", key, "--year", "2033", "--region", org.region)
    assert code == 0 and "запущено 3" in out
    code, out, _ = run(db, "cohort", "start", "--template", key, "--year", "2033", "--region", org.region)
    assert code == 0 and "запущено 0, уже шло" in out
    with db.reading() as session:
        started = session.scalar(select(func.count()).select_from(ProcessInstance)
                                 .join(School, School.id == ProcessInstance.school_id)
                                 .join(Cohort, Cohort.id == ProcessInstance.cohort_id)
                                 .where(Cohort.year == 2033, School.code.in_(
                                     [org.school, org.sibling_school, org.foreign_school])))
    assert started == 3


def test_questionnaire_submit_issues_a_token_for_anonymous_respondents(db: Database) -> None:
    org = make_org(db)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    run(db, "start", "--template", key, "--school", org.school)
    [task] = [t for t in tasks.list_tasks(db, actor=org.regional) if t.school_code == org.school]
    tasks.complete_task(db, task.id, {"participation": "confirmed", "curator_login": org.curator}, actor=org.regional)
    answers = json.dumps({"events_attended": 2, "homework_help": "sometimes"})
    code, out, _ = run(db, "questionnaire", "submit", "--school", org.school, "--group", "parent", "--answers", answers)
    assert code == 0 and "токен респондента:" in out
    token = unique()
    assert run(db, "questionnaire", "submit", "--school", org.school, "--group", "parent", "--answers", answers,
               "--token", token)[0] == 0
    code, _, err = run(db, "questionnaire", "submit", "--school", org.school, "--group", "parent",
                       "--answers", answers, "--token", token)
    assert code == 1 and "уже получен" in err
    code, _, err = run(db, "questionnaire", "submit", "--school", org.school, "--group", "parent",
                       "--answers", '{"events_attended": "много"}')
    assert code == 1 and "events_attended" in err


def test_import_org_reports_rows_and_imports_nothing_on_errors(db: Database, tmp_path: Path) -> None:
    tag = unique()
    good = tmp_path / "org.csv"
    good.write_text(f"тип;код;название;родитель\nрегион;R{tag};Область\nмуниципалитет;M{tag};Район;R{tag}\n"
                    f"школа;S{tag};МБОУ «СОШ № 1»;M{tag}\n", encoding="utf-8")
    code, out, _ = run(db, "import-org", str(good))
    assert code == 0 and "Импортировано из 3 строк" in out
    bad = tmp_path / "bad.csv"
    bad.write_text(f"тип;код;название;родитель\nшкола;B{tag};МБОУ «СОШ № 2»;NOWHERE\n", encoding="utf-8")
    code, _, err = run(db, "import-org", str(bad))
    assert code == 1 and "строка 2:" in err and "Ничего не импортировано" in err
