"""A user task's own escalation chain (roadmap:escalation): parsing, lint, and the stored spec."""

from __future__ import annotations

import json

import pytest

from engine.bpmn.bundle import Bundle
from engine.bpmn.compiler import check_bundle
from engine.bpmn.escalation import format_escalation, parse_escalation
from engine.bpmn.manifest import EscalationStep
from engine.bpmn.spec import TemplateSpec
from tests.conftest import MINI_BUNDLE

REVIEW_TAG = 'id="review" '


def mini_with(attribute: str) -> Bundle:
    """The mini bundle with an attribute added to its curator's task «review»."""
    files = {p.relative_to(MINI_BUNDLE).as_posix(): p.read_bytes() for p in MINI_BUNDLE.rglob("*") if p.is_file()}
    text = files["mini.bpmn"].decode("utf-8")
    assert REVIEW_TAG in text
    files["mini.bpmn"] = text.replace(REVIEW_TAG, f"{REVIEW_TAG}{attribute} ", 1).encode("utf-8")
    return Bundle("mini", files)


def test_steps_after_levels_and_the_federal_flag() -> None:
    assert parse_escalation("2WD:1, 5WD:2, 10WD:3:federal") == (
        EscalationStep("2WD", 1), EscalationStep("5WD", 2), EscalationStep("10WD", 3, federal_overdue=True))
    assert parse_escalation(" PT12H:1,P3D:3 ") == (EscalationStep("PT12H", 1), EscalationStep("P3D", 3))
    assert parse_escalation("none") == ()


def test_the_text_round_trips() -> None:
    for text in ("2WD:1, 5WD:2, 10WD:3:federal", "P1D:2", "none"):
        assert format_escalation(parse_escalation(text)) == text


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "пустое правило"),
    ("5WD", "через:уровней"),
    ("5WD:4", "от 1 до 3"),
    ("5WD:0", "от 1 до 3"),
    ("5WD:2:regional", "через:уровней"),
    ("5WD:2,", "шаг эскалации «»"),
    ("cohort:questionnaire_close:1", "через:уровней"),
    ("пять:1", "ожидается длительность (P3D) или рабочие дни (3WD)"),
    ("P14X:1", "ожидается длительность"),
    (", ".join(["1WD:1"] * 11), "не больше 10"),
])
def test_bad_rules_are_refused_with_a_russian_message(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_escalation(text)
    assert fragment in str(raised.value)


def test_compiled_task_carries_its_own_chain() -> None:
    compiled, problems = check_bundle(mini_with('roadmap:escalation="1WD:1, 3WD:2:federal"'))
    assert problems == [] and compiled is not None
    tasks = compiled.spec.user_tasks
    assert tasks["review"].escalation == (EscalationStep("1WD", 1), EscalationStep("3WD", 2, federal_overdue=True))
    assert tasks["fill_questionnaire"].escalation is None  # no attribute: the manifest's chain


def test_none_is_an_empty_chain_not_the_manifests() -> None:
    compiled, problems = check_bundle(mini_with('roadmap:escalation="none"'))
    assert problems == [] and compiled is not None
    assert compiled.spec.user_tasks["review"].escalation == ()


def test_lint_locates_a_bad_rule_on_its_task() -> None:
    _, problems = check_bundle(mini_with('roadmap:escalation="5WD:7"'))
    [problem] = problems
    assert (problem.path, problem.element_id) == ("mini/mini.bpmn", "review")
    assert problem.line is not None and problem.line > 1
    assert problem.message.startswith("эскалация (roadmap:escalation): шаг эскалации «5WD:7»")


def test_stored_spec_round_trips_and_old_specs_still_read() -> None:
    compiled, _ = check_bundle(mini_with('roadmap:escalation="2WD:1, 4WD:3:federal"'))
    assert compiled is not None
    stored = json.loads(json.dumps(compiled.spec.to_dict()))  # what the database keeps
    assert TemplateSpec.from_dict(stored) == compiled.spec
    for task in stored["user_tasks"].values():
        del task["escalation"]  # a version stored before the attribute existed
    assert all(t.escalation is None for t in TemplateSpec.from_dict(stored).user_tasks.values())
