"""The `roadmap` command line, through click's CliRunner, against a real database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.db import Database
from tests.conftest import FIXTURES, MINI_BUNDLE, Org
from web.cli import cli

BROKEN = FIXTURES / "broken"
PROBLEM_LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+|-): (?P<element>\S+): (?P<message>.+)$")


def run(db: Database | None, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=db)
    return result.exit_code, result.stdout, result.stderr


def test_validate_valid_files_exit_zero() -> None:
    code, out, err = run(None, "validate", str(MINI_BUNDLE), str(BROKEN / "valid.bpmn"))
    assert (code, out) == (0, "")
    assert "с ошибками: 0" in err


def test_validate_prints_one_line_per_problem_and_exits_one() -> None:
    code, out, _ = run(None, "validate", str(BROKEN / "unknown_lane.bpmn"), str(BROKEN / "xxe.bpmn"))
    lines = out.splitlines()
    assert code == 1
    assert lines == [
        f"{BROKEN / 'unknown_lane.bpmn'}:7: Lane_0x1: дорожка «Директор» не соответствует известной роли "
        "(roadmap:role или id дорожки: federal, regional_coordinator, municipal_coordinator, curator, school)",
        f"{BROKEN / 'unknown_lane.bpmn'}:16: task: пользовательская задача вне дорожки: "
        "не определена роль исполнителя",
        f"{BROKEN / 'xxe.bpmn'}:2: -: объявления DOCTYPE и ENTITY запрещены",
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.bpmn")))
def test_validate_never_prints_a_traceback(name: str) -> None:
    code, out, err = run(None, "validate", str(BROKEN / name))
    assert code in (0, 1)
    assert "Traceback" not in out + err
    for line in out.splitlines():
        match = PROBLEM_LINE.match(line)
        assert match and match["path"] == str(BROKEN / name), line


def test_validate_usage_errors_exit_two(tmp_path: Path) -> None:
    assert run(None, "validate")[0] == 2
    assert run(None, "validate", str(tmp_path / "missing.bpmn"))[0] == 2


def test_deploy_start_tasks_complete(db: Database, org: Org, bundle_copy: Path) -> None:
    code, out, _ = run(db, "deploy", str(bundle_copy))
    assert code == 0 and out.strip().endswith("@1")
    key = out.strip().split("@")[0]
    code, out, _ = run(db, "deploy", str(bundle_copy))
    assert code == 0 and "без изменений" in out

    code, out, _ = run(db, "start", "--template", key, "--school", org.school)
    assert code == 0 and out.strip().isdigit()
    instance_id = int(out)
    code, out, _ = run(db, "start", "--template", key, "--school", org.sibling_school, "--json")
    assert json.loads(out)["school_code"] == org.sibling_school

    code, out, _ = run(db, "tasks", "--user", org.school_user, "--json")
    [task] = [t for t in json.loads(out) if t["instance_id"] == instance_id]
    assert (task["element_id"], task["stage"], task["role"]) == ("fill_questionnaire", "questionnaire", "school")
    code, out, _ = run(db, "tasks", "--user", org.school_user)
    assert f"{task['id']}\t{org.school}\tquestionnaire\tЗаполнить анкету" in out

    code, out, err = run(db, "complete", str(task["id"]), "--user", org.school_user, "--data", '{"coverage": 101}')
    assert code == 1 and "coverage:" in err and "Traceback" not in err
    code, out, _ = run(db, "complete", str(task["id"]), "--user", org.school_user,
                       "--data", '{"coverage": 55}', "--json")
    done = json.loads(out)
    assert code == 0 and done["instance_completed"] is False and len(done["next_task_ids"]) == 1
    code, _, err = run(db, "complete", str(task["id"]), "--user", org.school_user, "--data", '{"coverage": 55}')
    assert code == 1 and "уже выполнена" in err


def test_claim_and_reassign_commands(db: Database, org: Org, bundle_copy: Path) -> None:
    key = run(db, "deploy", str(bundle_copy))[1].strip().split("@")[0]
    instance_id = int(run(db, "start", "--template", key, "--school", org.school)[1])
    [task] = [t for t in json.loads(run(db, "tasks", "--user", org.school_user, "--json")[1])
              if t["instance_id"] == instance_id]
    assert run(db, "claim", str(task["id"]), "--user", org.school_user)[0] == 0
    code, _, err = run(db, "claim", str(task["id"]), "--user", org.curator)
    assert code == 1 and "вне вашей зоны" in err
    assert run(db, "reassign", str(task["id"]), "--user", org.municipal)[0] == 0


def test_bad_json_data_is_a_usage_error(db: Database, org: Org) -> None:
    code, _, err = run(db, "complete", "1", "--user", org.school_user, "--data", "{nope")
    assert code == 2 and "не JSON" in err


def test_unknown_user_is_one_line(db: Database) -> None:
    code, _, err = run(db, "tasks", "--user", "nobody-at-all")
    assert code == 1 and err.strip() == "Ошибка: пользователь «nobody-at-all» не найден"


def test_init_creates_schema_and_deploys_bundled_templates(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    templates_dir = tmp_path / "workflows"
    templates_dir.mkdir()
    (templates_dir / "mini").symlink_to(MINI_BUNDLE, target_is_directory=True)
    monkeypatch.setenv("TEMPLATES_DIR", str(templates_dir))
    database = Database.from_url(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        code, out, _ = run(database, "init")
        assert code == 0 and "mini@1: развёрнут" in out
        code, out, _ = run(database, "init")
        assert code == 0 and "mini@1: без изменений" in out
    finally:
        database.engine.dispose()


def test_token_commands(db: Database, org: Org) -> None:
    code, out, _ = run(db, "token", "create", "--user", org.regional, "--name", "скрипт")
    assert code == 0 and "r500_" in out
    token_id = out.split()[1]
    code, out, _ = run(db, "token", "revoke", token_id, "--user", org.regional)
    assert code == 0 and "отозван" in out
