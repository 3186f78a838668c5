"""The manifest's ``measures`` section: read into statuses and field names, every problem located where it is
written, and checked against the BPMN and the forms (the task exists, its form has the list, the action is there)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from engine.bpmn.bundle import load_bundle
from engine.bpmn.compiler import validate_bundle
from engine.bpmn.manifest import check_sections
from engine.json_document import parse_json
from tests.conftest import MINI_BUNDLE

STATUSES = [{"key": "planned", "title": "Запланировано"},
            {"key": "done", "title": "Выполнено", "outcome": "done", "evidence": True},
            {"key": "moved", "title": "Перенесено", "reason": True, "reschedules": True}]
GOOD = {"task": "plan", "list": "measures", "fields": {"title": "title", "due_date": "due", "responsible": "owner"},
        "statuses": STATUSES}


def _problems(section: Any) -> list[tuple[str | None, int | None, str]]:
    text = json.dumps({"measures": section}, ensure_ascii=False, indent=2)
    _, problems, _ = check_sections("manifest.json", json.loads(text), parse_json(text))
    return [(p.element_id, p.line, p.message) for p in problems]


def test_a_good_section_is_read_with_its_statuses() -> None:
    sections, problems, _ = check_sections("manifest.json", {"measures": GOOD})
    assert problems == []
    measures = sections.measures
    assert measures is not None and (measures.task, measures.list) == ("plan", "measures")
    assert measures.fields == {"title": "title", "due_date": "due", "responsible": "owner"}
    assert [s.key for s in measures.statuses] == ["planned", "done", "moved"]
    done, moved = measures.status("done"), measures.status("moved")
    assert done is not None and done.outcome == "done" and done.needs_evidence and not done.needs_reason
    assert moved is not None and moved.reschedules and moved.needs_reason and moved.outcome == ""
    assert measures.status("absent") is None


def test_no_section_no_measures() -> None:
    sections, problems, _ = check_sections("manifest.json", {})
    assert sections.measures is None and problems == []


def test_each_problem_is_located() -> None:
    bad = {"task": "Plan!", "list": "measures",
           "fields": {"title": "title", "due_date": 5, "colour": "c"},
           "statuses": [{"key": "planned", "title": "Запланировано"},
                        {"key": "done", "title": "Выполнено", "outcome": "finished"},
                        {"key": "x", "title": "X", "reason": "yes"},
                        {"key": "planned", "title": "Снова"},
                        "closed"]}
    found = _problems(bad)
    assert [(where, message.split(":")[0] if ":" in message else message) for where, _, message in found] == [
        ("measures.task", "мероприятия"),
        ("measures.fields.due_date", "мероприятия"),
        ("measures.fields.colour", "мероприятия"),
        ("measures.fields", "мероприятия"),
        ("measures.statuses[1].outcome", "статус мероприятия"),
        ("measures.statuses[2].reason", "статус мероприятия"),
        ("measures.statuses[3].key", "статус мероприятия «planned» объявлен дважды"),
        ("measures.statuses[4]", "статус мероприятия"),
    ]
    assert all(line is not None and line > 1 for _, line, _ in found)
    assert "responsible" in found[3][2]


def test_statuses_need_a_done_one_and_an_open_first_one() -> None:
    assert [w for w, _, _ in _problems({**GOOD, "statuses": []})] == ["measures.statuses"]
    assert [w for w, _, _ in _problems({k: v for k, v in GOOD.items() if k != "statuses"})] == ["measures"]
    no_done = _problems({**GOOD, "statuses": [{"key": "planned", "title": "План"}]})
    assert [w for w, _, _ in no_done] == ["measures.statuses"] and "done" in no_done[0][2]
    done_first = _problems({**GOOD, "statuses": [STATUSES[1], STATUSES[0]]})
    assert [w for w, _, _ in done_first] == ["measures.statuses[0]"]


def _mini(tmp_path: Path, **manifest: Any) -> list[tuple[str | None, str]]:
    target = tmp_path / "mini"
    shutil.copytree(MINI_BUNDLE, target)
    raw = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    raw.update(manifest)
    (target / "manifest.json").write_text(json.dumps(raw, ensure_ascii=False, indent=2), encoding="utf-8")
    bundle, _ = load_bundle(target)
    assert bundle is not None
    return [(p.element_id, p.message) for p in validate_bundle(bundle)]


def test_the_section_is_checked_against_the_bpmn_and_the_forms(tmp_path: Path) -> None:
    review = {**GOOD, "task": "review", "list": "review_comment"}
    assert _mini(tmp_path / "ok", measures=review, actions={"review": [{"action": "track_measures"}]}) == []
    problems = _mini(tmp_path / "a", measures={**GOOD, "task": "nowhere"},
                     actions={"review": [{"action": "track_measures"}]})
    assert [where for where, _ in problems] == ["actions.review[0].action", "measures.task", "measures.task"]
    assert "nowhere" in problems[1][1] and "track_measures" in problems[2][1]
    problems = _mini(tmp_path / "b", measures={**review, "list": "plans"},
                     actions={"review": [{"action": "track_measures"}]})
    assert problems == [("measures.list", "в форме задачи «review» (review) нет списка «plans»")]


def test_the_action_needs_the_section(tmp_path: Path) -> None:
    problems = _mini(tmp_path, actions={"review": [{"action": "track_measures"}]})
    assert problems == [("actions.review[0].action", "действие «track_measures»: в манифесте нет раздела measures")]


def test_counting_and_the_panel_need_the_section(tmp_path: Path) -> None:
    problems = _mini(tmp_path, actions={"review": [{"action": "count_measures"}]},
                     context={"review": [{"kind": "measures"}]})
    assert sorted(problems) == [
        ("actions.review[0].action", "действие «count_measures»: в манифесте нет раздела measures"),
        ("context.review[0].kind", "панель «measures»: в манифесте нет раздела measures")]


def test_directions_come_from_a_data_field_and_need_the_direction_field(tmp_path: Path) -> None:
    with_direction = {**GOOD, "fields": {**GOOD["fields"], "direction": "direction"}}
    sections, problems, _ = check_sections("manifest.json", {"measures": {**with_direction,
                                                                          "directions_from": "risk_directions"}})
    assert problems == [] and sections.measures is not None
    assert sections.measures.directions_from == "risk_directions"
    found = _problems({**GOOD, "directions_from": "risk_directions"})
    assert [(where, message) for where, _, message in found] == [
        ("measures.directions_from", "мероприятия: directions_from без поля fields.direction — некуда выбирать "
                                     "направление")]
    assert found[0][1] is not None and found[0][1] > 1
    assert [where for where, _, _ in _problems({**with_direction, "directions_from": "Risk!"})] == [
        "measures.directions_from"]
    review = {**with_direction, "task": "review", "list": "review_comment"}
    assert _mini(tmp_path / "ok", measures={**review, "directions_from": "decision"},
                 actions={"review": [{"action": "track_measures"}]}) == []
    assert _mini(tmp_path / "bad", measures={**review, "directions_from": "chosen_risks"},
                 actions={"review": [{"action": "track_measures"}]}) == [
        ("measures.directions_from", "мероприятия: поля «chosen_risks» нет ни в одной форме пользовательских задач")]
