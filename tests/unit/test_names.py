"""Names read by expressions are checked at validation against what the process data can hold, and a name that
mixes Latin and Cyrillic letters is pointed out: «pаrticipation» (a Cyrillic «а») used to deploy and stop
every instance at its gateway with «неизвестная переменная «pаrticipation»»."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.bpmn.bundle import Bundle, load_bundle
from engine.bpmn.compiler import validate_bundle
from engine.bpmn.manifest import ACTION_OUTPUTS, ManifestSections
from engine.errors import Problem
from engine.process.actions import ACTIONS, prepare_risk_inputs
from tests.conftest import FIXTURES

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"
DECLINED = "participation == 'declined'"
MIXED = "pаrticipation"  # the second letter is Cyrillic


def roadmap_with(*edits: tuple[str, str, str]) -> list[Problem]:
    bundle, _ = load_bundle(ROADMAP)
    assert bundle is not None
    files = dict(bundle.files)
    for path, old, new in edits:
        text = files[path].decode("utf-8")
        assert old in text, old
        files[path] = text.replace(old, new, 1).encode("utf-8")
    return validate_bundle(Bundle("roadmap-500", files))


def the_one(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(p.format() for p in problems)
    return problems[0]


def test_a_cyrillic_letter_in_a_condition_is_named_with_the_name_meant() -> None:
    problem = the_one(roadmap_with(("roadmap-500.bpmn", DECLINED, f"{MIXED} == 'declined'")))
    assert problem.format() == (
        "roadmap-500/roadmap-500.bpmn:263: f_declined: условие: в имени «pаrticipation» смешаны латиница и "
        "кириллица: «а» — кириллическая; видимо, имелось в виду «participation»")


def test_a_misspelt_name_is_unknown_with_the_closest_known_one() -> None:
    problem = the_one(roadmap_with(("roadmap-500.bpmn", DECLINED, "particpation == 'declined'")))
    assert (problem.line, problem.element_id) == (263, "f_declined")
    assert "имени «particpation» нет в данных процесса" in problem.message
    assert "похожее имя — «participation»" in problem.message


@pytest.mark.parametrize(("path", "old", "new", "element", "what"), [
    ("roadmap-500.bpmn", "visited_terms + [visit_term]", "visited_terms + [visit_terms]", "curator_visit",
     "скрипт: имени «visit_terms»"),
    ("roadmap-500.bpmn", 'roadmap:subject="risk_titles[risk_direction]"', 'roadmap:subject="risk_title[risk_direction]"',
     "prepare_antirisk", "тема задачи (roadmap:subject): имени «risk_title»"),
    ("roadmap-500.bpmn", "<bpmn:loopDataInputRef>risk_inputs</bpmn:loopDataInputRef>",
     "<bpmn:loopDataInputRef>risk_input_list</bpmn:loopDataInputRef>", "rate_risk_factors",
     "коллекция цикла (loopDataInputRef): имени «risk_input_list»"),
    ("risk-factors.dmn", "<text>risk_input.factor</text>", "<text>risk_іnput.factor</text>",
     "input_factor_expression", "таблица решений: в имени «risk_іnput» смешаны латиница и кириллица: «і»"),
    ("manifest.json", "participation != 'confirmed'", f"{MIXED} != 'confirmed'",
     "rules.confirm_participation[0].check", "проверка правила: в имени «pаrticipation»"),
])
def test_every_kind_of_expression_is_read(path: str, old: str, new: str, element: str, what: str) -> None:
    problem = the_one(roadmap_with((path, old, new)))
    assert problem.path == f"roadmap-500/{path}" and problem.element_id == element, problem.format()
    assert what in problem.message and problem.line is not None


def test_what_the_engine_and_the_template_write_is_known() -> None:
    # school and cohort come with every start; curator is what bind_curator writes; risk_catalogue_version is
    # prepare_risk_inputs'; risk_level a decision table's output; risk_input a multi-instance item.
    condition = ("school['code'] != '' and cohort != 0 and curator is not None and risk_catalogue_version != '' "
                 "and risk_level != 'x' and risk_input is not None and [d for d in risk_directions] != [] "
                 "and len(risk_ratings) >= 0 and " + DECLINED)
    assert roadmap_with(("roadmap-500.bpmn", DECLINED, condition)) == []


def test_an_action_s_names_count_only_when_the_manifest_names_the_action() -> None:
    problems = roadmap_with(("manifest.json", '{"action": "bind_curator", "field": "curator_login"}', ""),
                            ("roadmap-500.bpmn", DECLINED, f"curator is None and {DECLINED}"))
    assert [p.element_id for p in problems] == ["f_declined"] and "имени «curator»" in problems[0].message
    assert set(ACTION_OUTPUTS) == {"bind_curator", "aggregate_questionnaires", "prepare_risk_inputs", "track_measures",
                                   "count_measures", "link_visit", "attach_school_report"}


def test_when_a_form_does_not_read_only_mixed_names_are_reported() -> None:
    problems = roadmap_with(("forms/review_concept.form", '"type": "radio"', '"type": "rocket"'),
                            ("roadmap-500.bpmn", DECLINED, f"nobody_writes_this and {MIXED} == 'declined'"))
    assert [p.path.rsplit("/", 1)[-1] for p in problems] == ["review_concept.form", "roadmap-500.bpmn"]
    assert "смешаны латиница и кириллица" in problems[1].message


@pytest.mark.parametrize(("name", "reported"), [("x", False), ("some_field_of_an_unseen_form", False),
                                              (MIXED, True)])
def test_a_lone_file_without_its_forms_reports_only_mixed_names(tmp_path: Path, name: str, reported: bool) -> None:
    source = (FIXTURES / "broken" / "valid.bpmn").read_text(encoding="utf-8")
    lone = tmp_path / "lone.bpmn"
    lone.write_text(source.replace("x &gt; 1", f"{name} &gt; 1"), encoding="utf-8")
    bundle, _ = load_bundle(lone)
    assert bundle is not None
    problems = validate_bundle(bundle)
    assert len(problems) == reported, [p.format() for p in problems]
    if reported:
        assert problems[0].element_id == "f_cond" and "«а» — кириллическая" in problems[0].message


def test_the_declared_outputs_are_what_the_action_returns() -> None:
    assert set(ACTION_OUTPUTS) == set(ACTIONS)
    ctx = SimpleNamespace(spec=SimpleNamespace(sections=ManifestSections()))
    assert set(prepare_risk_inputs(ctx, {}, {})) == set(ACTION_OUTPUTS["prepare_risk_inputs"])  # type: ignore[arg-type]


def test_a_rule_whose_field_left_the_form_is_told_once() -> None:
    """Once per place that names it: the rule, and the two context panels that show the remark."""
    problems = roadmap_with(("forms/review_concept.form", '"key": "concept_review_comment"',
                             '"key": "concept_comment"'))
    assert [p.element_id for p in problems] == [
        "context.prepare_concept[0].fields[0]", "context.review_concept[1].fields[0]", "rules.review_concept[0].field"]
    assert "нет в форме задачи" in problems[2].message
    assert all("«concept_review_comment»" in p.message for p in problems)
