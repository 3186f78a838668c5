"""One wrong thing in our own bundle is one line: the «500+» bundle broken in exactly one place gives exactly
that place — the file, the line, the JSON path or element id — and nothing that merely follows from it.

Before, one unknown role discarded the whole manifest and brought 105 false lines («пользовательской задачи
«confirm_participation» нет в BPMN» ×58, «форма … не найдена» ×7, «не задано правило срока» ×20), and bad
deadlines in manifest.json were reported on the BPMN file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.bpmn.bundle import Bundle, load_bundle
from engine.bpmn.compiler import validate_bundle
from engine.errors import Problem

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"
RUN_QUESTIONNAIRES = '"run_questionnaires": "cohort:questionnaire_close"'


def roadmap() -> Bundle:
    bundle, problems = load_bundle(ROADMAP)
    assert bundle is not None and not problems
    return bundle


def edited(path: str, old: str, new: str) -> tuple[list[Problem], str]:
    """The roadmap's problems with ``old`` replaced by ``new`` once in ``path``; and the edited text."""
    bundle = roadmap()
    text = bundle.files[path].decode("utf-8")
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1)
    return validate_bundle(Bundle("roadmap-500", {**bundle.files, path: text.encode("utf-8")})), text


def line_with(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def the_one(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(p.format() for p in problems)
    return problems[0]


def test_the_roadmap_itself_is_clean() -> None:
    assert validate_bundle(roadmap()) == []


# manifest.json: (what is broken, old, new, the element (JSON path), a fragment of the message); the line is
# the line of ``new`` in the edited file.
MANIFEST_CASES = [
    ("unknown role", '"school"]', '"school", "janitor"]', "roles[5]", "неизвестная роль «janitor»"),
    ("a misspelt role, its lanes not reported too", '"curator", "school"]', '"curatr", "school"]', "roles[3]",
     "неизвестная роль «curatr»"),
    ("an action that is not a name", '"action": "bind_curator"', '"action": {"name": "bind_curator"}',
     "actions.confirm_participation[0].action", "неизвестно"),
    ("bad key", '"key": "roadmap-500"', '"key": "Roadmap 500"', "key", "ключ шаблона «Roadmap 500»"),
    ("stage without a title", '{"key": "monitoring", "title": "Мониторинг"}', '{"key": "monitoring"}',
     "stages[4]", "у этапа «monitoring» не задано название"),
    ("stage without a key", '{"key": "monitoring", "title": "Мониторинг"}', '{"title": "Мониторинг"}',
     "stages[4]", "этап: объект с полями key"),
    ("negative working days", RUN_QUESTIONNAIRES, '"run_questionnaires": "-5WD"',
     "deadlines.run_questionnaires", "срок «-5WD» не распознан"),
    ("negative duration", RUN_QUESTIONNAIRES, '"run_questionnaires": "P-5D"',
     "deadlines.run_questionnaires", "срок «P-5D» не распознан"),
    ("years", RUN_QUESTIONNAIRES, '"run_questionnaires": "P999999999Y"',
     "deadlines.run_questionnaires", "срок «P999999999Y» не распознан"),
    ("huge duration", RUN_QUESTIONNAIRES, '"run_questionnaires": "P99999999999D"',
     "deadlines.run_questionnaires", "слишком большое число"),
    ("code", RUN_QUESTIONNAIRES, '"run_questionnaires": "__import__(\'os\')"',
     "deadlines.run_questionnaires", "срок «__import__('os')» не распознан"),
    ("not a string", RUN_QUESTIONNAIRES, '"run_questionnaires": 5',
     "deadlines.run_questionnaires", "правило срока — строка"),
    ("a task that is not there", RUN_QUESTIONNAIRES, f'{RUN_QUESTIONNAIRES}, "ghost": "5WD"',
     "deadlines.ghost", "пользовательской задачи «ghost» нет в BPMN"),
    ("an undeclared cohort date", RUN_QUESTIONNAIRES, '"run_questionnaires": "cohort:questionnaire_ends"',
     "deadlines.run_questionnaires", "даты «questionnaire_ends» нет в cohort_calendar"),
    ("a bad cohort date, used by a deadline", '"questionnaire_close": "03-01"', '"questionnaire_close": "13-01"',
     "cohort_calendar.questionnaire_close", "ожидается имя из латиницы и дата вида ММ-ДД"),
    ("an unknown action", '"action": "bind_curator"', '"action": "bind_curators"',
     "actions.confirm_participation[0].action", "действие «bind_curators» неизвестно"),
    ("a rule for a task that is not there", '"rules": {\n    "confirm_participation"',
     '"rules": {\n    "confirm_participations"', "rules.confirm_participations",
     "пользовательской задачи «confirm_participations» нет в BPMN"),
    ("a rule's check is code", "participation != 'confirmed' or bool(curator_login)", "__import__('os')",
     "rules.confirm_participation[0].check", "отклонено"),
    ("a group refused, its indicators and factors follow it silently", '"form": "questionnaire_director"',
     '"form": 5', "questionnaires.groups.director", "группа респондентов «director»"),
    ("a group's form missing", '"form": "questionnaire_director"', '"form": "questionnaire_directr"',
     "questionnaires.groups.director.form", "нет формы forms/questionnaire_directr.form"),
    ("an unknown process", '"process": "roadmap_500"', '"process": "roadmap_50"', "process",
     "процесс «roadmap_50» не найден в BPMN"),
    ("a misspelt section", '"key": "roadmap-500",', '"key": "roadmap-500", "dedlines": {},', "dedlines",
     "раздел «dedlines» движку неизвестен и ничего не задаёт; возможно, «deadlines»?"),
    ("a key given twice", RUN_QUESTIONNAIRES, f'"run_questionnaires": "5WD",\n    {RUN_QUESTIONNAIRES}',
     "deadlines.run_questionnaires", "ключ повторяется (строки 25 и 26): действует только последнее значение"),
    ("a 5000-digit number", '"version": "2022"', '"version": ' + "9" * 5000, "risk_catalogue.version",
     "слишком длинное число: 5000 цифр"),
    ("an unknown context panel", '"kind": "risk_profile", "chosen"', '"kind": "risk_chart", "chosen"',
     "context.choose_risk_directions[0].kind", "панель «risk_chart» неизвестна; доступны: responses"),
    ("context for a task that is not there", '"prepare_concept": [{"kind": "comments"',
     '"prepare_concep": [{"kind": "comments"', "context.prepare_concep",
     "пользовательской задачи «prepare_concep» нет в BPMN"),
    ("a context field no form has", '"fields": ["justification"]', '"fields": ["justificaton"]',
     "context.approve_risk_profile[1].fields[0]", "поля «justificaton» нет ни в одной форме"),
    ("a parameter a panel does not take", '[{"kind": "responses"}, {"kind": "values"',
     '[{"kind": "responses", "groups": ["teacher"]}, {"kind": "values"', "context.confirm_coverage[0].groups",
     "у панели «responses» нет параметра «groups»"),
    ("a panel missing its fields", '{"kind": "comments", "fields": ["risk_comment"]}', '{"kind": "comments"}',
     "context.choose_risk_directions[1]", "панели «comments» не хватает параметров: fields"),
    ("a reviewed task that is not there", '"task": "prepare_concept"', '"task": "prepare_concepts"',
     "context.review_concept[0].task", "пользовательской задачи «prepare_concepts» нет в BPMN"),
    ("a document field the reviewed form lacks", '"field": "concept_files"', '"field": "concept_file"',
     "context.review_concept[0].field", "в форме задачи «prepare_concept» (prepare_concept) нет поля «concept_file»"),
    ("a compared field the reviewed form lacks", '"compare": ["concept_title"', '"compare": ["concept_titel"',
     "context.review_concept[0].compare[0]", "нет поля «concept_titel»"),
    ("fields that are not a list", '"fields": ["justification"]', '"fields": "justification"',
     "context.approve_risk_profile[1].fields", "fields — непустой список имён полей"),
]


@pytest.mark.parametrize(("old", "new", "element", "fragment"), [case[1:] for case in MANIFEST_CASES],
                         ids=[case[0] for case in MANIFEST_CASES])
def test_one_thing_wrong_in_the_manifest_is_one_line_where_it_is(old: str, new: str, element: str,
                                                                 fragment: str) -> None:
    problems, text = edited("manifest.json", old, new)
    problem = the_one(problems)
    assert problem.path == "roadmap-500/manifest.json"
    assert problem.element_id == element and fragment in problem.message, problem.format()
    assert problem.line == line_with(text, new.split("\n")[-1]), problem.format()
    assert "sys." not in problem.message


def test_the_issue_example_reads_as_promised() -> None:
    problems, _ = edited("manifest.json", RUN_QUESTIONNAIRES, '"run_questionnaires": "-5WD"')
    assert [p.format() for p in problems] == [
        "roadmap-500/manifest.json:25: deadlines.run_questionnaires: срок «-5WD» не распознан: ожидается "
        "длительность ISO 8601 (P14D), число рабочих дней (5WD) или дата когорты (cohort:имя)"]


@pytest.mark.parametrize(("change", "element", "fragment"), [
    (lambda raw: {**raw, "stages": "all"}, "stages", "не задан список этапов"),
    (lambda raw: {**raw, "roles": "school"}, "roles", "роли (roles): непустой список"),
    (lambda raw: {**raw, "deadlines": ["5WD"]}, "deadlines", "сроки (deadlines): объект"),
    (lambda raw: {k: v for k, v in raw.items() if k != "title"}, "title", "не задано поле «title»"),
    (lambda raw: {**raw, "rules": []}, "rules", "раздел «rules» должен быть объектом JSON"),
    (lambda raw: {**raw, "questionnaires": []}, "questionnaires", "раздел «questionnaires» должен быть объектом"),
    (lambda raw: {**raw, "cohort_calendar": 1}, "cohort_calendar", "раздел «cohort_calendar» должен быть объектом"),
    (lambda raw: {**raw, "indicators": "x"}, "indicators", "раздел «indicators» должен быть объектом"),
    (lambda raw: {**raw, "actions": []}, "actions", "раздел «actions» должен быть объектом"),
    (lambda raw: {**raw, "indicators": None}, "indicators", "раздел «indicators» должен быть объектом"),
    (lambda raw: {**raw, "roles": []}, "roles", "роли (roles): непустой список"),
    (lambda raw: {**raw, "context": []}, "context", "раздел «context» должен быть объектом"),
    (lambda raw: {**raw, "context": {"confirm_coverage": {"kind": "responses"}}}, "context.confirm_coverage",
     "контекст задачи: список панелей"),
])
def test_a_whole_section_that_cannot_be_read_is_one_line(change: Callable[[dict[str, Any]], dict[str, Any]],
                                                          element: str, fragment: str) -> None:
    bundle = roadmap()
    raw = json.loads(bundle.files["manifest.json"])
    text = json.dumps(change(raw), ensure_ascii=False, indent=2)
    problem = the_one(validate_bundle(Bundle("roadmap-500", {**bundle.files, "manifest.json": text.encode()})))
    assert problem.element_id == element and fragment in problem.message, problem.format()
    assert problem.line is not None


def test_manifest_that_is_not_json_is_one_line_and_nothing_follows() -> None:
    problems, text = edited("manifest.json", '"key": "roadmap-500",', '"key": "roadmap-500"')
    problem = the_one(problems)
    assert problem.line == line_with(text, '"title"') and "ожидается «,» или «}»" in problem.message


def test_a_broken_form_is_reported_on_its_field_and_line_and_its_task_is_not_told_it_has_none() -> None:
    problems, text = edited("forms/confirm_participation.form", '"type": "radio"', '"type": "rocket"')
    problem = the_one(problems)
    assert problem.path == "roadmap-500/forms/confirm_participation.form"
    assert problem.element_id == "participation" and "неподдерживаемый тип «rocket»" in problem.message
    assert problem.line == line_with(text, '"id": "Field_participation"') - 1  # where the component opens


def test_a_form_that_is_not_json_is_one_located_line() -> None:
    problems, text = edited("forms/confirm_participation.form", '"type": "radio",', '"type": "radio"')
    problem = the_one(problems)
    assert problem.path.endswith("confirm_participation.form") and "не является корректным JSON" in problem.message
    assert problem.line == line_with(text, '"type": "radio"') + 1


def test_a_decision_table_that_does_not_read_is_one_line() -> None:
    problem = the_one(edited("risk-factors.dmn", "<decision id", "<decision <id")[0])
    assert problem.path.endswith("risk-factors.dmn") and "XML некорректен" in problem.message


# --- numbers too long for Python, wherever a template writes one --------------------------------------

DIGITS = "9" * 5000


@pytest.mark.parametrize(("path", "old", "new", "fragment"), [
    ("roadmap-500.bpmn", "participation == 'declined'", f"participation == {DIGITS}", "число из 5000 цифр"),
    ("roadmap-500.bpmn", "visited_terms = []", f"visited_terms = [{DIGITS}]", "число из 5000 цифр"),
    ("risk-factors.dmn", "<text>&lt;= 2</text>", f"<text>&lt;= {DIGITS}</text>", "число из 5000 цифр"),
    ("risk-factors.dmn", '<text>"high"</text>', f"<text>{DIGITS}</text>", "число из 5000 цифр"),
    ("forms/confirm_participation.form", '"type": "radio",', f'"type": "radio", "x": {DIGITS},',
     "слишком длинное число: 5000 цифр"),
    ("roadmap-500.bpmn", 'roadmap:form="school_report"', f'roadmap:form="school_report" roadmap:deadline="P{DIGITS}D"',
     "слишком большое число"),
    ("roadmap-500.bpmn", 'roadmap:form="school_report"',
     f'roadmap:form="school_report" roadmap:escalation="5WD:{DIGITS}"', "числом уровней от 1 до 3"),
    ("manifest.json", '"key": "roadmap-500",',
     f'"key": "roadmap-500", "escalation": {{"steps": [{{"after": "P{DIGITS}D", "levels_up": 1}}]}},',
     "эскалация: шаг «P9999"),
])
def test_a_5000_digit_number_is_one_russian_line(path: str, old: str, new: str, fragment: str) -> None:
    problems, _ = edited(path, old, new)
    problem = the_one(problems)
    assert fragment in problem.message and "set_int_max_str_digits" not in problem.message
    assert problem.line is not None
