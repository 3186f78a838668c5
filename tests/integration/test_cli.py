"""The `roadmap` command line, through click's CliRunner, against a real database."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.db import Database
from tests.conftest import FIXTURES, MINI_BUNDLE, Org
from web.cli import cli

BROKEN = FIXTURES / "broken"
MODELERS = FIXTURES / "modelers"
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
    assert lines == [  # the task in that lane is not also reported: the lane is the problem
        f"{BROKEN / 'unknown_lane.bpmn'}:7: Lane_0x1: дорожка «Директор» не соответствует известной роли "
        "(roadmap:role или id дорожки: federal, regional_coordinator, municipal_coordinator, curator, school)",
        f"{BROKEN / 'xxe.bpmn'}:2: -: объявления DOCTYPE и ENTITY запрещены",
    ]


def test_validate_a_folder_of_modeler_files_prints_only_true_problems_one_per_line() -> None:
    """A folder without manifest.json is a folder of files: each checked on its own. The modelers' metadata
    says nothing; every line is one true problem with its file, line and nearest element id."""
    code, out, err = run(None, "validate", str(MODELERS))
    assert code == 1
    problems = [PROBLEM_LINE.match(line) for line in out.splitlines()]
    assert all(problems), out
    by_file: dict[str, list[tuple[str, str]]] = {}
    for match in problems:
        assert match is not None and match["line"] != "-" and match["element"] != "-", match.string
        by_file.setdefault(Path(match["path"]).name, []).append((match["line"], match["element"]))
    assert by_file == {
        "bpmn_io_duplicate_id.bpmn": [("20", "Activity_1")],
        "bpmn_io_two_outgoing.bpmn": [("14", "Activity_fill")],
        "camunda_modeler_7_unsupported.bpmn": [("17", "review"), ("23", "notify"), ("27", "f_yes")],
        "camunda_modeler_8_feel.bpmn": [("28", "f_yes")],
        "signavio_documentation_only.bpmn": [("5", "sid-DOC-PROC"), ("8", "sid-DOC-LANE"), ("18", "sid-DOC-TASK"),
                                             ("18", "sid-DOC-TASK"), ("18", "sid-DOC-TASK")],
    }
    assert f"{MODELERS}: нет manifest.json — каждый BPMN-файл проверен отдельно" in err
    assert f"Проверено: {len(list(MODELERS.glob('*.bpmn')))}, с ошибками: 5" in err


def test_validate_a_folder_checks_templates_inside_it_as_templates(tmp_path: Path) -> None:
    shutil.copytree(MINI_BUNDLE, tmp_path / "templates" / "mini")
    shutil.copy(MODELERS / "signavio.bpmn", tmp_path / "templates" / "signavio.bpmn")
    (tmp_path / "templates" / "notes.txt").write_text("не BPMN", encoding="utf-8")
    code, out, err = run(None, "validate", str(tmp_path / "templates"))
    assert (code, out) == (0, "")
    assert "Проверено: 2, с ошибками: 0" in err
    code, out, _ = run(None, "validate", str(tmp_path / "templates" / "mini" / "forms"))
    assert code == 1 and "в шаблоне нет manifest.json" in out  # nothing to check one by one: still one bundle


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
