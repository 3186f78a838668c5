"""The form-js forms of the «500+» roadmap template (``workflows/roadmap-500/forms``).

The BPMN gateways and the engine read these keys and option values, so the tables below pin them:
renaming a key or an option value in a ``.form`` file must fail here.  Every form also gets a realistic
valid sample (checked for what the validator cleans) and invalid samples (checked for the error keys).
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import pytest

from engine.errors import FormInvalid
from engine.forms import INPUT_TYPES, FormDefinition

FORMS_DIR = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500" / "forms"

REQ, OPT = True, False

# --------------------------------------------------------------------------------------- tables

#: form -> {data key: (component type, required)}; items of a dynamic list appear as ``list[].key``.
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "confirm_participation": {
        "participation": ("radio", REQ),
        "curator_login": ("select", OPT),
        "order_number": ("textfield", OPT),
        "order_date": ("datetime", OPT),
        "comment": ("textarea", OPT),
    },
    "run_questionnaires": {"questionnaires_done": ("checkbox", REQ), "comment": ("textarea", OPT)},
    "confirm_coverage": {"coverage_decision": ("radio", REQ), "coverage_comment": ("textarea", OPT)},
    "choose_risk_directions": {"risk_directions": ("checklist", REQ), "justification": ("textarea", OPT)},
    "approve_risk_profile": {"risk_decision": ("radio", REQ), "risk_comment": ("textarea", OPT)},
    "prepare_concept": {
        "concept_title": ("textfield", REQ),
        "concept_summary": ("textarea", REQ),
        "concept_files": ("filepicker", OPT),
        "concept_link": ("textfield", OPT),
    },
    "review_concept": {"concept_decision": ("radio", REQ), "concept_review_comment": ("textarea", OPT)},
    "prepare_programme": {
        "programme_title": ("textfield", REQ),
        "programme_summary": ("textarea", REQ),
        "programme_files": ("filepicker", OPT),
        "programme_link": ("textfield", OPT),
    },
    "review_programme": {"programme_decision": ("radio", REQ), "programme_review_comment": ("textarea", OPT)},
    "prepare_antirisk": {
        "antirisk_title": ("textfield", REQ),
        "antirisk_goals": ("textarea", REQ),
        "antirisk_files": ("filepicker", OPT),
        "antirisk_link": ("textfield", OPT),
    },
    "review_antirisk": {"antirisk_decision": ("radio", REQ), "antirisk_review_comment": ("textarea", OPT)},
    "plan_measures": {
        "measures": ("dynamiclist", OPT),
        "measures[].title": ("textfield", REQ),
        "measures[].direction": ("select", REQ),
        "measures[].due_date": ("datetime", REQ),
        "measures[].owner": ("textfield", REQ),
        "plan_comment": ("textarea", OPT),
    },
    "curator_visit": {
        "visit_term": ("select", REQ),
        "visit_date": ("datetime", REQ),
        "visit_findings": ("textarea", REQ),
        "visit_recommendations": ("textarea", OPT),
        "visit_files": ("filepicker", OPT),
        "visits_complete": ("checkbox", OPT),
    },
    "municipal_monitoring": {
        "monitoring_assessment": ("radio", REQ),
        "protocol_number": ("textfield", OPT),
        "protocol_date": ("datetime", OPT),
        "monitoring_comment": ("textarea", OPT),
    },
    "regional_monitoring_report": {
        "regional_summary": ("textarea", REQ),
        "regional_report_files": ("filepicker", OPT),
    },
    "school_report": {
        "roadmap_completion": ("number", REQ),
        "vpr_dynamics": ("select", REQ),
        "report_summary": ("textarea", REQ),
        "report_files": ("filepicker", OPT),
    },
    "curator_conclusion": {"curator_recommendation": ("radio", REQ), "conclusion_text": ("textarea", REQ)},
    "municipal_decision": {"municipal_proposal": ("radio", REQ), "municipal_comment": ("textarea", OPT)},
    "regional_decision": {
        "final_decision": ("radio", REQ),
        "decision_comment": ("textarea", OPT),
        "decision_order": ("textfield", OPT),
    },
    "federal_review": {"federal_resolution": ("textarea", REQ), "federal_measure": ("select", REQ)},
    "questionnaire_director": {
        "equipment_level": ("radio", REQ),
        "teacher_vacancies": ("number", REQ),
        "students_at_risk_share": ("number", REQ),
        "non_native_share": ("number", REQ),
        "comment": ("textarea", OPT),
    },
    "questionnaire_teacher": {
        "methodical_confidence": ("radio", REQ),
        "differentiated_tasks": ("radio", REQ),
        "pd_last_3y": ("checkbox", OPT),
        "discipline_problems": ("radio", REQ),
    },
    "questionnaire_student": {
        "grade": ("select", REQ),
        "feel_safe": ("radio", REQ),
        "lessons_disrupted": ("radio", REQ),
        "learning_interest": ("radio", REQ),
    },
    "questionnaire_parent": {
        "events_attended": ("number", REQ),
        "homework_help": ("radio", REQ),
        "comment": ("textarea", OPT),
    },
}

REVIEW = [("accepted", "Принять"), ("rework", "Вернуть на доработку")]
OUTCOME = [
    ("exit", "Выход из проекта"),
    ("continue", "Продолжить участие"),
    ("escalate", "Эскалировать на федеральный уровень"),
]
FREQUENCY = [("often", "Часто"), ("sometimes", "Иногда"), ("rarely", "Редко")]

#: (form, key, [(value, label), ...]) for every radio, select and checklist, in display order.
OPTIONS: list[tuple[str, str, list[tuple[Any, str]]]] = [
    ("confirm_participation", "participation",
     [("confirmed", "Подтвердить участие школы в проекте"), ("declined", "Школа не участвует")]),
    ("confirm_coverage", "coverage_decision",
     [("accepted", "Охват достаточный"), ("rework", "Недостаточный охват — продолжить анкетирование")]),
    ("choose_risk_directions", "risk_directions", [
        ("k1", "Низкий уровень оснащения школы"),
        ("k2", "Дефицит педагогических кадров"),
        ("k3", "Недостаточная предметная и методическая компетентность педагогических работников"),
        ("k4", "Риски низкой адаптивности учебного процесса"),
        ("k5", "Несформированность внутришкольной системы повышения квалификации"),
        ("k6", "Низкое качество преодоления языковых и культурных барьеров"),
        ("k7", "Пониженный уровень качества школьной образовательной и воспитательной среды"),
        ("k8", "Высокая доля обучающихся с рисками учебной неуспешности"),
        ("k9", "Низкий уровень дисциплины в классе"),
        ("k10", "Низкий уровень вовлеченности родителей"),
    ]),
    ("approve_risk_profile", "risk_decision", [("accepted", "Утвердить"), ("rework", "Вернуть на доработку")]),
    ("review_concept", "concept_decision", REVIEW),
    ("review_programme", "programme_decision", REVIEW),
    ("review_antirisk", "antirisk_decision", REVIEW),
    ("curator_visit", "visit_term", [("h1", "I полугодие"), ("h2", "II полугодие")]),
    ("municipal_monitoring", "monitoring_assessment",
     [("on_track", "Дорожная карта выполняется"), ("at_risk", "Есть риск невыполнения")]),
    ("school_report", "vpr_dynamics",
     [("improved", "Результаты ВПР улучшились"), ("same", "Без изменений"), ("worse", "Результаты ухудшились")]),
    ("curator_conclusion", "curator_recommendation", OUTCOME),
    ("municipal_decision", "municipal_proposal", OUTCOME),
    ("regional_decision", "final_decision", OUTCOME),
    ("federal_review", "federal_measure", [
        ("monitoring", "Усиленный мониторинг"),
        ("support", "Дополнительная методическая поддержка"),
        ("exit", "Завершить участие"),
    ]),
    # 1–5 scales: numbers, so the template's indicators can average them (the ends say what they mean).
    ("questionnaire_director", "equipment_level",
     [(1, "1 — очень низкая"), (2, "2"), (3, "3"), (4, "4"), (5, "5 — высокая")]),
    ("questionnaire_teacher", "methodical_confidence",
     [(1, "1 — совсем неуверенно"), (2, "2"), (3, "3"), (4, "4"), (5, "5 — полностью уверенно")]),
    ("questionnaire_teacher", "differentiated_tasks",
     [("often", "Часто"), ("sometimes", "Иногда"), ("never", "Никогда")]),
    ("questionnaire_teacher", "discipline_problems", FREQUENCY),
    ("questionnaire_student", "grade", [(str(grade), f"{grade} класс") for grade in range(5, 12)]),
    ("questionnaire_student", "feel_safe", [("yes", "Да"), ("mostly", "Скорее да"), ("no", "Нет")]),
    ("questionnaire_student", "lessons_disrupted", FREQUENCY),
    ("questionnaire_student", "learning_interest",
     [("high", "Интересно"), ("medium", "Иногда интересно"), ("low", "Неинтересно")]),
    ("questionnaire_parent", "homework_help",
     [("regularly", "Регулярно"), ("sometimes", "Иногда"), ("never", "Никогда")]),
]

SUMMARY = "Школа выбрала три направления рисков и описала меры по каждому из них."

#: form -> a realistic complete submission, as a browser would send it.
VALID: dict[str, dict[str, Any]] = {
    "confirm_participation": {
        "participation": "confirmed", "curator_login": "  petrova.ea ", "order_number": "№ 01-12/345",
        "order_date": "2024-09-02", "comment": "Куратор — методист регионального ИРО.",
    },
    "run_questionnaires": {"questionnaires_done": "true", "comment": "Анкеты заполнили 92% родителей."},
    "confirm_coverage": {"coverage_decision": " accepted ", "coverage_comment": "Охват всех групп выше 80%.\n"},
    "choose_risk_directions": {
        "risk_directions": ["k2", "k8", "k2", "k10"],
        "justification": "Три вакансии учителей, 18% обучающихся с рисками неуспешности, родители пассивны.",
    },
    "approve_risk_profile": {"risk_decision": "accepted", "risk_comment": "   "},
    "prepare_concept": {
        "concept_title": "  Концепция развития МБОУ «СОШ № 7» на 2025–2027 годы ",
        "concept_summary": SUMMARY,
        "concept_files": [101, 102],
        "concept_link": "https://school7.edu.ru/docs/concept.pdf",
    },
    "review_concept": {
        "concept_decision": "rework",
        "concept_review_comment": " Уточните целевые показатели по направлению k8.\n",
    },
    "prepare_programme": {
        "programme_title": "Среднесрочная программа развития на 2025–2026 годы\n",
        "programme_summary": SUMMARY,
        "programme_files": 205,
        "programme_link": "https://школа7.рф/документы/программа",
    },
    "review_programme": {"programme_decision": "accepted", "programme_review_comment": "Принято без замечаний. "},
    "prepare_antirisk": {
        "antirisk_title": "Программа «Кадровый резерв»",
        "antirisk_goals": "  Цель: закрыть вакансии учителей математики. Задачи: наставничество, целевое обучение. ",
        "antirisk_files": [],
        "antirisk_link": "http://school7.edu.ru/antirisk",
    },
    "review_antirisk": {"antirisk_decision": "rework", "antirisk_review_comment": "\tДобавьте сроки мероприятий."},
    "plan_measures": {
        "measures": [
            {"title": "Педсовет по итогам ВПР", "direction": "k8", "due_date": " 2025-03-01 ",
             "owner": "Иванова М. П., директор"},
            {"title": "Курсы повышения квалификации учителей математики", "direction": " k3 ", "due_date": "2025-06-30",
             "owner": " Сидоров А. В., завуч "},
        ],
        "plan_comment": "",
    },
    "curator_visit": {
        "visit_term": "h1", "visit_date": "2024-11-14",
        "visit_findings": "  Посетил 3 урока математики, беседа с директором. ",
        "visit_recommendations": "Внедрить разноуровневые задания.", "visit_files": [301],
        "visits_complete": "false",
    },
    "municipal_monitoring": {
        "monitoring_assessment": "on_track", "protocol_number": "12", "protocol_date": " 2025-01-20",
        "monitoring_comment": "Мероприятия выполняются в срок.",
    },
    "regional_monitoring_report": {
        "regional_summary": " Из 42 школ региона дорожные карты выполняют 38, по четырём школам — риск. ",
        "regional_report_files": [401, 402],
    },
    "school_report": {
        "roadmap_completion": "87,5", "vpr_dynamics": "improved",
        "report_summary": "Выполнено 14 из 16 мероприятий, две вакансии закрыты.", "report_files": [501],
    },
    "curator_conclusion": {
        "curator_recommendation": "exit",
        "conclusion_text": "Школа вышла из зоны риска по всем трём направлениям.\n",
    },
    "municipal_decision": {"municipal_proposal": "continue ", "municipal_comment": "Нужен ещё год сопровождения."},
    "regional_decision": {
        "final_decision": "escalate", "decision_comment": "Результаты ВПР ухудшились второй год подряд.",
        "decision_order": " 01-05/77 ",
    },
    "federal_review": {
        "federal_resolution": " Назначить дополнительную методическую поддержку на год. ",
        "federal_measure": "support",
    },
    "questionnaire_director": {
        "equipment_level": 3, "teacher_vacancies": 2, "students_at_risk_share": "12,5", "non_native_share": 0,
        "comment": "Не хватает учителей физики.",
    },
    "questionnaire_teacher": {
        "methodical_confidence": 4, "differentiated_tasks": "sometimes", "pd_last_3y": "on",
        "discipline_problems": "rarely",
    },
    "questionnaire_student": {
        "grade": " 7 ", "feel_safe": "mostly", "lessons_disrupted": "sometimes", "learning_interest": "high",
    },
    "questionnaire_parent": {"events_attended": "3", "homework_help": "regularly", "comment": " Спасибо учителям! "},
}

#: form -> values the validator must convert or strip in the VALID sample (each differs from the input).
CLEANED: dict[str, dict[str, Any]] = {
    "confirm_participation": {"curator_login": "petrova.ea"},
    "run_questionnaires": {"questionnaires_done": True},
    "confirm_coverage": {"coverage_decision": "accepted", "coverage_comment": "Охват всех групп выше 80%."},
    "choose_risk_directions": {"risk_directions": ["k2", "k8", "k10"]},
    "approve_risk_profile": {"risk_comment": ""},
    "prepare_concept": {"concept_title": "Концепция развития МБОУ «СОШ № 7» на 2025–2027 годы"},
    "review_concept": {"concept_review_comment": "Уточните целевые показатели по направлению k8."},
    "prepare_programme": {"programme_title": "Среднесрочная программа развития на 2025–2026 годы"},
    "review_programme": {"programme_review_comment": "Принято без замечаний."},
    "prepare_antirisk": {
        "antirisk_goals": "Цель: закрыть вакансии учителей математики. Задачи: наставничество, целевое обучение.",
    },
    "review_antirisk": {"antirisk_review_comment": "Добавьте сроки мероприятий."},
    "plan_measures": {
        "measures": [
            {"title": "Педсовет по итогам ВПР", "direction": "k8", "due_date": "2025-03-01",
             "owner": "Иванова М. П., директор"},
            {"title": "Курсы повышения квалификации учителей математики", "direction": "k3", "due_date": "2025-06-30",
             "owner": "Сидоров А. В., завуч"},
        ],
    },
    "curator_visit": {
        "visit_findings": "Посетил 3 урока математики, беседа с директором.", "visits_complete": False,
    },
    "municipal_monitoring": {"protocol_date": "2025-01-20"},
    "regional_monitoring_report": {
        "regional_summary": "Из 42 школ региона дорожные карты выполняют 38, по четырём школам — риск.",
    },
    "school_report": {"roadmap_completion": 87.5},
    "curator_conclusion": {"conclusion_text": "Школа вышла из зоны риска по всем трём направлениям."},
    "municipal_decision": {"municipal_proposal": "continue"},
    "regional_decision": {"decision_order": "01-05/77"},
    "federal_review": {"federal_resolution": "Назначить дополнительную методическую поддержку на год."},
    "questionnaire_director": {"students_at_risk_share": 12.5},
    "questionnaire_teacher": {"pd_last_3y": True},
    "questionnaire_student": {"grade": "7"},
    "questionnaire_parent": {"events_attended": 3, "comment": "Спасибо учителям!"},
}

MISSING = object()  # marks a key removed from the valid sample
MEASURE = {"title": "Методический семинар", "direction": "k3", "due_date": "2025-04-15", "owner": "Петрова Е. А."}


def bad(form: str, changes: dict[str, Any], *errors: str, name: str) -> Any:
    """An invalid sample: the form's VALID sample with ``changes``; ``errors`` are the expected error keys."""
    return pytest.param(form, changes, set(errors), id=f"{form}-{name}")


INVALID = [
    bad("confirm_participation", {"participation": MISSING}, "participation", name="no-decision"),
    bad("confirm_participation", {"participation": "yes"}, "participation", name="unknown-option"),
    bad("confirm_participation", {"order_date": "02.09.2024"}, "order_date", name="russian-date-format"),
    bad("confirm_participation", {"order_number": "1" * 51}, "order_number", name="long-order-number"),
    bad("run_questionnaires", {"questionnaires_done": False}, "questionnaires_done", name="not-ticked"),
    bad("confirm_coverage", {"coverage_decision": "partial"}, "coverage_decision", name="unknown-option"),
    bad("choose_risk_directions", {"risk_directions": []}, "risk_directions", name="none-chosen"),
    bad("choose_risk_directions", {"risk_directions": ["k1", "k11"]}, "risk_directions", name="unknown-risk"),
    bad("approve_risk_profile", {"risk_decision": MISSING}, "risk_decision", name="no-decision"),
    bad("prepare_concept", {"concept_summary": "Коротко"}, "concept_summary", name="short-summary"),
    bad("prepare_concept", {"concept_link": "сайт школы"}, "concept_link", name="not-a-url"),
    bad("prepare_concept", {"concept_title": "   ", "concept_files": ["concept.pdf"]},
        "concept_title", "concept_files", name="blank-title-file-name"),
    bad("review_concept", {"concept_decision": "approved"}, "concept_decision", name="unknown-option"),
    bad("prepare_programme", {"programme_link": "ftp://school7.edu.ru/p.pdf"}, "programme_link", name="ftp-url"),
    bad("prepare_programme", {"programme_title": MISSING, "programme_files": [0]},
        "programme_title", "programme_files", name="no-title-bad-file-id"),
    bad("review_programme", {"programme_review_comment": "х" * 4001}, "programme_review_comment",
        name="long-comment"),
    bad("prepare_antirisk", {"antirisk_goals": MISSING}, "antirisk_goals", name="no-goals"),
    bad("prepare_antirisk", {"antirisk_link": "https://school7"}, "antirisk_link", name="url-without-domain"),
    bad("review_antirisk", {"antirisk_decision": ""}, "antirisk_decision", name="empty-decision"),
    bad("plan_measures", {"measures": [MEASURE, {"title": "Педсовет", "direction": "k1", "due_date": "2025-05-20"}]},
        "measures[1].owner", name="item-without-owner"),
    bad("plan_measures", {"measures": [{**MEASURE, "direction": ""}]}, "measures[0].direction",
        name="item-without-direction"),
    bad("plan_measures", {"measures": [{**MEASURE, "due_date": "2025-02-30"}]}, "measures[0].due_date",
        name="impossible-date"),
    bad("plan_measures", {"measures": [{**MEASURE, "title": " "}, {**MEASURE, "budget": 1000}]},
        "measures[0].title", "measures[1].budget", name="blank-title-unknown-column"),
    bad("curator_visit", {"visit_term": "h3", "visit_date": MISSING}, "visit_term", "visit_date",
        name="bad-term-no-date"),
    bad("curator_visit", {"visit_findings": "Всё ок"}, "visit_findings", name="short-findings"),
    bad("curator_visit", {"visit_files": [12, -1]}, "visit_files", name="negative-file-id"),
    bad("municipal_monitoring", {"monitoring_assessment": MISSING, "protocol_date": "2025-13-01"},
        "monitoring_assessment", "protocol_date", name="no-assessment-bad-date"),
    bad("regional_monitoring_report", {"regional_summary": "Всё хорошо"}, "regional_summary", name="short"),
    bad("school_report", {"roadmap_completion": 120}, "roadmap_completion", name="over-100"),
    bad("school_report", {"roadmap_completion": "-5"}, "roadmap_completion", name="negative"),
    bad("school_report", {"roadmap_completion": "85,55", "vpr_dynamics": "better"},
        "roadmap_completion", "vpr_dynamics", name="two-decimals-unknown-dynamics"),
    bad("curator_conclusion", {"curator_recommendation": "stay", "conclusion_text": "Ок"},
        "curator_recommendation", "conclusion_text", name="unknown-option-short-text"),
    bad("municipal_decision", {"municipal_proposal": MISSING}, "municipal_proposal", name="no-proposal"),
    bad("regional_decision", {"final_decision": "close", "decision_order": "№" * 51},
        "final_decision", "decision_order", name="unknown-option-long-order"),
    bad("federal_review", {"federal_resolution": MISSING, "federal_measure": "audit"},
        "federal_resolution", "federal_measure", name="no-resolution-unknown-measure"),
    bad("questionnaire_director", {"equipment_level": 6, "teacher_vacancies": -1},
        "equipment_level", "teacher_vacancies", name="out-of-range"),
    bad("questionnaire_director", {"equipment_level": "3,5", "non_native_share": "много"},
        "equipment_level", "non_native_share", name="fraction-and-words"),
    bad("questionnaire_director", {"students_at_risk_share": 100.5}, "students_at_risk_share", name="over-100"),
    bad("questionnaire_teacher", {"methodical_confidence": 0}, "methodical_confidence", name="below-1"),
    # A 1–5 scale is a choice of numbers (the indicators average them): the text "4" is not one of them.
    bad("questionnaire_teacher", {"methodical_confidence": "4"}, "methodical_confidence", name="scale-as-text"),
    bad("questionnaire_teacher", {"differentiated_tasks": "rarely", "pd_last_3y": "может быть"},
        "differentiated_tasks", "pd_last_3y", name="other-question-option-not-bool"),
    bad("questionnaire_student", {"grade": "4", "feel_safe": MISSING}, "grade", "feel_safe",
        name="grade-4-no-answer"),
    bad("questionnaire_student", {"grade": 7}, "grade", name="grade-as-number"),
    bad("questionnaire_parent", {"homework_help": "often", "events_attended": 101},
        "homework_help", "events_attended", name="unknown-option-over-100"),
    bad("questionnaire_parent", {"full_name": "Иванов И. И."}, "full_name", name="anonymous-no-name"),
]

# --------------------------------------------------------------------------------------- helpers


@functools.cache
def source(form: str) -> str:
    return (FORMS_DIR / f"{form}.form").read_text(encoding="utf-8")


@functools.cache
def definition(form: str) -> FormDefinition:
    return FormDefinition.from_json(source(form))


def field_table(form: FormDefinition) -> dict[str, tuple[str, bool]]:
    table: dict[str, tuple[str, bool]] = {}
    for spec in form.fields:
        table[spec.key] = (spec.type, spec.required)
        for child in spec.children:
            table[f"{spec.key}[].{child.key}"] = (child.type, child.required)
    return table


def walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component of a raw definition, containers before their children."""
    found: list[dict[str, Any]] = []
    for component in components:
        found.append(component)
        found.extend(walk(component.get("components", [])))
    return found


def component(form: str, key: str) -> dict[str, Any]:
    (match,) = [c for c in walk(definition(form).to_dict()["components"]) if c.get("key") == key]
    return match


def sample(form: str, changes: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(VALID[form])
    for key, value in changes.items():
        if value is MISSING:
            del data[key]
        else:
            data[key] = value
    return data


def errors_of(form: str, data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(FormInvalid) as caught:
        definition(form).validate(data)
    return caught.value.errors


CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
ALL_FORMS = sorted(FIELDS)

# ----------------------------------------------------------------------------------------- tests


def test_folder_holds_exactly_the_template_forms() -> None:
    assert sorted(path.stem for path in FORMS_DIR.glob("*.form")) == ALL_FORMS
    assert len(ALL_FORMS) == 24


def test_every_form_has_samples() -> None:
    assert set(VALID) == set(CLEANED) == set(FIELDS)
    assert {param.values[0] for param in INVALID} == set(FIELDS)


@pytest.mark.parametrize("form", ALL_FORMS)
def test_form_parses_and_is_named_after_its_file(form: str) -> None:
    raw = definition(form).to_dict()
    assert (raw["type"], raw["id"], raw["schemaVersion"]) == ("default", form, 16)
    assert definition(form).form_id == form


@pytest.mark.parametrize("form", ALL_FORMS)
def test_fields_keys_types_and_required_flags(form: str) -> None:
    assert field_table(definition(form)) == FIELDS[form]


@pytest.mark.parametrize("form", ALL_FORMS)
def test_components_are_labelled_in_russian_with_unique_ids(form: str) -> None:
    components = walk(definition(form).to_dict()["components"])
    ids = [c.get("id") for c in components]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    intro = components[0]
    assert intro["type"] == "text" and CYRILLIC.search(intro["text"])
    for item in components:
        if item["type"] in INPUT_TYPES or item["type"] == "dynamiclist":
            label = item.get("label") or item.get("dateLabel", "")
            assert CYRILLIC.search(label), f"{item['id']}: нет русской подписи"
        if item["type"] in ("textfield", "textarea"):
            assert item["validate"]["maxLength"] > 0, f"{item['id']}: нет maxLength"


@pytest.mark.parametrize(("form", "key", "expected"), OPTIONS, ids=[f"{f}-{k}" for f, k, _ in OPTIONS])
def test_choice_values_and_labels(form: str, key: str, expected: list[tuple[str, str]]) -> None:
    raw = component(form, key)
    assert [(option["value"], option["label"]) for option in raw["values"]] == expected
    (spec,) = [f for f in definition(form).fields if f.key == key]
    assert spec.options == tuple(value for value, _ in expected)


#: Selects whose options the engine supplies by valuesKey (an action's choices), not the form.
SUPPLIED = {("confirm_participation", "curator_login"): "curator_candidates",
            ("plan_measures", "measures[].direction"): "direction_choices"}


def test_every_choice_field_is_in_the_options_table() -> None:
    choices = {(form, key) for form, fields in FIELDS.items()
               for key, (kind, _) in fields.items() if kind in ("radio", "select", "checklist", "taglist")}
    assert choices == {(form, key) for form, key, _ in OPTIONS} | set(SUPPLIED)


@pytest.mark.parametrize(("form", "key"), list(SUPPLIED))
def test_supplied_choices_come_by_values_key(form: str, key: str) -> None:
    parent, _, child = key.partition("[].")  # a field of a dynamic list's item: its key inside the item
    raw = component(form, child or key)
    assert raw["valuesKey"] == SUPPLIED[(form, key)] and "values" not in raw
    fields = definition(form).fields
    if child:
        (owner,) = [f for f in fields if f.key == parent]
        fields = list(owner.children)
    (spec,) = [f for f in fields if f.key == (child or key)]
    assert spec.values_key == SUPPLIED[(form, key)] and spec.options == ()


@pytest.mark.parametrize("form", ALL_FORMS)
def test_valid_sample_passes_and_is_cleaned(form: str) -> None:
    data = VALID[form]
    cleaned = definition(form).validate(data)
    assert set(cleaned) == set(data)
    assert CLEANED[form], "нужно хотя бы одно преобразованное значение"
    for key, expected in CLEANED[form].items():
        assert data[key] != expected, f"{key}: образец не проверяет очистку"
        assert cleaned[key] == expected
        assert type(cleaned[key]) is type(expected)


@pytest.mark.parametrize("form", ALL_FORMS)
def test_empty_submission_names_exactly_the_required_fields(form: str) -> None:
    required = {key for key, (_, needed) in FIELDS[form].items() if needed and "[]" not in key}
    if required:
        assert set(errors_of(form, {})) == required
    else:
        assert definition(form).validate({}) == {}
    assert definition(form).validate({}, partial=True) == {}


@pytest.mark.parametrize(("form", "changes", "expected"), INVALID)
def test_invalid_sample_is_rejected(form: str, changes: dict[str, Any], expected: set[str]) -> None:
    errors = errors_of(form, sample(form, changes))
    assert set(errors) == expected
    assert all(messages and all(CYRILLIC.search(m) for m in messages) for messages in errors.values())


@pytest.mark.parametrize(
    "url",
    ["https://school7.edu.ru", "http://school7.edu.ru/docs/concept.pdf?v=2", "https://школа7.рф/концепция",
     "https://disk.yandex.ru/d/AbC123#page=2"],
)
def test_document_links_accept_http_urls(url: str) -> None:
    for form, key in [("prepare_concept", "concept_link"), ("prepare_programme", "programme_link"),
                      ("prepare_antirisk", "antirisk_link")]:
        assert definition(form).validate(sample(form, {key: url}))[key] == url
