"""The manifest's ``visits`` section: the visit report task and its date field, the reminders before a planned
visit and the escalation steps after it; every problem located at its line, and checked against the BPMN and
the forms (the task exists, its form has the date field, the ``link_visit`` action is declared on it)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from engine.bpmn.bundle import load_bundle
from engine.bpmn.compiler import validate_bundle
from engine.bpmn.manifest import DEFAULT_VISIT_ESCALATION, EscalationStep, check_sections
from engine.json_document import parse_json
from engine.process.visits import VisitTally, add_tallies, half_year, half_year_title
from tests.conftest import MINI_BUNDLE

GOOD = {"report_task": "review", "date_field": "review_comment", "reminders_before": ["2WD"],
        "escalation": [{"after": "3WD", "levels_up": 1}, {"after": "P10D", "levels_up": 2}]}


def _problems(section: Any) -> list[tuple[str | None, int | None, str]]:
    text = json.dumps({"visits": section}, ensure_ascii=False, indent=2)
    _, problems, _ = check_sections("manifest.json", json.loads(text), parse_json(text))
    return [(p.element_id, p.line, p.message) for p in problems]


def test_a_good_section_is_read() -> None:
    sections, problems, _ = check_sections("manifest.json", {"visits": GOOD})
    assert problems == []
    visits = sections.visits
    assert visits is not None and (visits.report_task, visits.date_field) == ("review", "review_comment")
    assert visits.reminders_before == ("2WD",)
    assert visits.escalation_steps == (EscalationStep("3WD", 1), EscalationStep("P10D", 2))


def test_defaults_and_no_section() -> None:
    sections, problems, _ = check_sections("manifest.json", {"visits": {"report_task": "r", "date_field": "d"}})
    assert problems == [] and sections.visits is not None
    assert sections.visits.reminders_before == ("2WD",) and sections.visits.escalation_steps == DEFAULT_VISIT_ESCALATION
    assert check_sections("manifest.json", {})[0].visits is None


def test_each_problem_is_located_at_its_line() -> None:
    found = _problems({"report_task": "Visit!", "date_field": "visit_date", "reminders_before": ["soon", "2WD"],
                       "escalation": [{"after": "3WD", "levels_up": 3}, {"after": "cohort:x", "levels_up": 1}],
                       "colour": "red"})
    assert [where for where, _, _ in found] == ["visits.report_task", "visits.colour", "visits.reminders_before[0]",
                                                "visits.escalation[0].levels_up", "visits.escalation[1].after"]
    assert all(line is not None and line > 1 for _, line, _ in found)
    assert found[0][2] == "посещения: report_task — имя из латиницы"
    assert "soon" in found[2][2] and "2 (региональный)" in found[3][2]
    assert [w for w, _, _ in _problems({"date_field": "d"})] == ["visits"]
    assert [w for w, _, _ in _problems({**GOOD, "escalation": {"after": "3WD"}})] == ["visits.escalation"]


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
    action = {"review": [{"action": "link_visit"}]}
    assert _mini(tmp_path / "ok", visits=GOOD, actions=action) == []
    problems = _mini(tmp_path / "a", visits={**GOOD, "report_task": "nowhere"}, actions=action)
    assert problems == [
        ("actions.review[0].action", "действие «link_visit» — у задачи «nowhere», которую называет раздел visits"),
        ("visits.report_task", "пользовательской задачи «nowhere» нет в BPMN"),
        ("visits.report_task", "у задачи «nowhere» не объявлено действие link_visit: отчёты о посещении не будут "
                               "связаны с планом посещений")]
    problems = _mini(tmp_path / "b", visits={**GOOD, "date_field": "visit_date"}, actions=action)
    assert problems == [("visits.date_field", "в форме задачи «review» (review) нет поля «visit_date»")]


def test_the_action_needs_the_section(tmp_path: Path) -> None:
    problems = _mini(tmp_path, actions={"review": [{"action": "link_visit"}]})
    assert problems == [("actions.review[0].action", "действие «link_visit»: в манифесте нет раздела visits")]


def test_half_years_are_the_school_years() -> None:
    assert half_year(date(2026, 9, 1)) == "2026/27-1" and half_year(date(2026, 12, 31)) == "2026/27-1"
    assert half_year(date(2027, 1, 1)) == "2026/27-2" and half_year(date(2027, 8, 31)) == "2026/27-2"
    assert half_year(date(2099, 10, 1)) == "2099/00-1"
    assert half_year_title("2026/27-1") == "I полугодие 2026/27"
    assert half_year_title("2026/27-2") == "II полугодие 2026/27"
    assert add_tallies({"2026/27-1": VisitTally(2, 1)}, {"2026/27-1": VisitTally(1, 0), "2026/27-2": VisitTally(1, 1)}) \
        == {"2026/27-1": VisitTally(3, 1), "2026/27-2": VisitTally(1, 1)}
