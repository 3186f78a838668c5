"""The JSON Schema of manifest.json, written once here from the same constants the readers use.

The admin's manifest editor (web/assets/lib/manifest-editor.js) draws its forms from this schema and checks
a document against it before saving; the server's readers (engine.bpmn.bundle, engine.bpmn.manifest) stay
the judge and add what a schema cannot know (tasks of the BPMN, fields of the forms, a 30 February).
tests/unit/test_manifest_schema.py checks that the schema accepts the «500+» manifest and that it and the
readers refuse the same bad values at the same JSON paths.

Besides standard keywords (draft 2020-12) the schema carries keywords of its own, which validators ignore:
``x-message`` — the Russian sentence for a value the pattern or enum refuses; ``x-key`` — the title of a
map's key column (the task id of ``deadlines``); ``x-format: list`` — a list of names edited as one line,
``x-format: json`` — a value of any type edited as JSON; ``x-enum-titles`` — titles of enum values.
In ``description`` a name between backticks is shown as code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.bpmn.bundle import BASIC_KEYS, KEY_PATTERN
from engine.bpmn.manifest import (
    AGGREGATES,
    KNOWN_ACTIONS,
    MEASURE_FIELDS,
    MEASURE_OUTCOMES,
    PANEL_KINDS,
    SECTION_NAMES,
)
from engine.roles import LANE_ROLES, ROLE_TITLES

#: Patterns in the common subset of Python's ``re`` and ECMAScript (no named groups), anchored, because
#: JSON Schema's ``pattern`` searches.
NAME = r"^[a-z][a-z0-9_]{0,62}$"
_DURATION = r"P(?!$)(?:[0-9]{1,5}W)?(?:[0-9]{1,5}D)?(?:T(?=[0-9])(?:[0-9]{1,5}H)?(?:[0-9]{1,5}M)?)?"
_WORKING_DAYS = r"[0-9]{1,3}WD"
OFFSET = f"^(?:{_DURATION}|{_WORKING_DAYS})$"
DUE_RULE = f"^(?:{_DURATION}|{_WORKING_DAYS}|cohort:[a-z][a-z0-9_]{{0,62}})$"
MONTH_DAY = r"^(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
NOT_BLANK = r"\S"

_NAME_MESSAGE = "имя из латиницы в нижнем регистре, цифр и «_», начинается с буквы"
_OFFSET_MESSAGE = "ожидается длительность (P3D) или рабочие дни (3WD)"
_AGGREGATE_TITLES = {"mean": "среднее", "share": "доля", "count": "число ответов", "sum": "сумма",
                     "min": "минимум", "max": "максимум"}
_ACTION_TITLES = {
    "bind_curator": "назначить школе куратора из поля",
    "aggregate_questionnaires": "свести ответы анкет в показатели",
    "prepare_risk_inputs": "подготовить данные рискового профиля",
    "track_measures": "взять мероприятия на учёт",
    "count_measures": "подсчитать выполнение мероприятий",
    "link_visit": "связать отчёт с запланированным посещением",
    "attach_school_report": "приложить отчёт школы",
}
_PANEL_TITLES = {"responses": "ответы анкет", "risk_profile": "рисковый профиль", "documents": "документы на проверке",
                 "comments": "замечания", "values": "значения полей", "measures": "мероприятия"}
_OUTCOME_TITLES = {"": "мероприятие продолжается", "done": "выполнено", "failed": "не выполнено"}


def _titled(names: Iterable[str], titles: dict[str, str]) -> dict[str, str]:
    """The readers' own list of names (the enum), each with its Russian title where one is written."""
    return {name: titles.get(name, name) for name in names}


def _text(title: str, description: str = "", *, required: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "title": title}
    if required:
        schema |= {"minLength": 1, "pattern": NOT_BLANK, "x-message": "не может быть пустым"}
    if description:
        schema["description"] = description
    return schema


def _name(title: str, description: str = "") -> dict[str, Any]:
    schema = {"type": "string", "title": title, "pattern": NAME, "x-message": _NAME_MESSAGE}
    return schema | ({"description": description} if description else {})


def _offset(title: str) -> dict[str, Any]:
    return {"type": "string", "title": title, "pattern": OFFSET, "x-message": _OFFSET_MESSAGE,
            "description": "P3D — три календарных дня, 3WD — три рабочих дня"}


def _names(title: str, description: str = "", *, min_items: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "title": title, "items": _name("имя"), "x-format": "list"}
    if min_items:
        schema["minItems"] = min_items
    return schema | ({"description": description} if description else {})


def _enum(title: str, values: dict[str, str], description: str = "") -> dict[str, Any]:
    schema = {"enum": list(values), "title": title, "x-enum-titles": values,
              "x-message": f"одно из: {', '.join(v for v in values if v)}"}
    return schema | ({"description": description} if description else {})


def _record(properties: dict[str, Any], required: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False, **extra}


def _steps(levels: int, title: str, description: str) -> dict[str, Any]:
    levels_up = {"type": "integer", "minimum": 1, "maximum": levels, "title": "на сколько уровней вверх",
                 "description": f"1 — следующий уровень цепочки, {levels} — самый верхний"}
    step = _record({"after": _offset("через сколько после срока"), "levels_up": levels_up}, ("after", "levels_up"))
    if levels == 3:
        step["properties"]["federal_overdue"] = {"type": "boolean", "title": "отметить для федерального уровня"}
    return {"type": "array", "title": title, "description": description, "items": step}


def _stages() -> dict[str, Any]:
    stage = _record({"key": _text("ключ", "на него ссылается атрибут roadmap:stage задач BPMN"),
                     "title": _text("название")}, ("key", "title"))
    return {"type": "array", "title": "Этапы", "minItems": 1, "items": stage,
            "description": "Этапы дорожной карты по порядку; задачи BPMN относятся к ним атрибутом roadmap:stage."}


def _deadlines() -> dict[str, Any]:
    return {"type": "object", "title": "Сроки", "x-key": "id задачи BPMN",
            "description": "Правило срока для каждой пользовательской задачи: P14D — календарные дни, 5WD — рабочие "
                           "дни, cohort:имя — дата из календаря когорты. Атрибут roadmap:deadline задачи важнее.",
            "additionalProperties": {"type": "string", "title": "правило срока", "pattern": DUE_RULE,
                                     "x-message": "ожидается длительность (P14D), рабочие дни (5WD) или дата когорты "
                                                  "(cohort:имя)"}}


def _escalation() -> dict[str, Any]:
    return {"type": "object", "title": "Эскалация", "additionalProperties": False,
            "description": "Напоминания до срока и шаги эскалации после него вверх по цепочке школа → куратор → "
                           "муниципальный → региональный координатор. Пустой раздел — значения по умолчанию "
                           "(напоминание за 2WD; шаги 3WD, 7WD, 14WD).",
            "properties": {
                "reminders_before": {"type": "array", "title": "Напоминания до срока", "x-format": "list",
                                     "items": _offset("напоминание")},
                "steps": _steps(3, "Шаги эскалации", "Каждый шаг — один раз, по порядку."),
            }}


def _calendar() -> dict[str, Any]:
    return {"type": "object", "title": "Календарь когорты", "x-key": "имя даты",
            "description": "Именованные даты года проекта (ММ-ДД); сроки cohort:имя ссылаются на них.",
            "propertyNames": {"pattern": NAME, "x-message": _NAME_MESSAGE},
            "additionalProperties": {"type": "string", "title": "дата (ММ-ДД)", "pattern": MONTH_DAY,
                                     "x-message": "ожидается дата вида ММ-ДД, например 03-01"}}


def _rules() -> dict[str, Any]:
    rule = _record({"field": _text("поле формы"),
                    "check": _text("условие", "выражение над полями формы и данными процесса; если оно ложно, "
                                              "отправка отклоняется"),
                    "message": _text("сообщение", "что увидит исполнитель под полем")}, ("field", "check", "message"))
    return {"type": "object", "title": "Правила", "x-key": "id задачи BPMN",
            "description": "Проверки задачи, которые не выразить одной формой: поле, условие и сообщение.",
            "additionalProperties": {"type": "array", "title": "правила задачи", "items": rule}}


def _actions() -> dict[str, Any]:
    action = _record({"action": _enum("действие", _titled(KNOWN_ACTIONS, _ACTION_TITLES)),
                      "field": _name("поле", "bind_curator: поле с логином куратора"),
                      "visits": _name("задача посещений", "attach_school_report: задача отчётов о посещении")},
                     ("action",))
    action["allOf"] = [{"if": {"properties": {"action": {"const": name}}, "required": ["action"]},
                        "then": {"required": list(params)}} for name, params in KNOWN_ACTIONS.items() if params]
    return {"type": "object", "title": "Действия", "x-key": "id задачи BPMN",
            "description": "Действия движка после выполнения задачи; шаблон их называет, но не программирует.",
            "additionalProperties": {"type": "array", "title": "действия задачи", "items": action}}


def _questionnaires() -> dict[str, Any]:
    group = _record({"title": _text("название"), "form": _name("форма", "имя файла forms/<имя>.form"),
                     "anonymous": {"type": "boolean", "title": "анонимно"}}, ("form",))
    return {"type": "object", "title": "Анкеты", "additionalProperties": False,
            "description": "Группы респондентов и задача, пока открыта которая, принимаются ответы.",
            "properties": {
                "open_while": _names("Принимать ответы во время задач", "id пользовательских задач через запятую"),
                "groups": {"type": "object", "title": "Группы респондентов", "x-key": "ключ группы",
                           "propertyNames": {"pattern": NAME, "x-message": _NAME_MESSAGE},
                           "additionalProperties": group},
            }}


def _indicators() -> dict[str, Any]:
    indicator = _record({"title": _text("название"), "group": _name("группа респондентов"),
                         "field": _name("поле анкеты"),
                         "aggregate": _enum("свёртка", _titled(AGGREGATES, _AGGREGATE_TITLES)),
                         "values": {"type": "array", "title": "значения (для доли)", "x-format": "json",
                                    "description": "JSON-список ответов, доля которых считается: `[\"never\"]`"}},
                        ("group", "field", "aggregate"))
    indicator["allOf"] = [{"if": {"properties": {"aggregate": {"const": "share"}}, "required": ["aggregate"]},
                           "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}}}]
    return {"type": "object", "title": "Показатели", "x-key": "ключ показателя",
            "description": "Как ответы анкет сводятся в числа, которые оценивают таблицы решений.",
            "propertyNames": {"pattern": NAME, "x-message": _NAME_MESSAGE},
            "additionalProperties": indicator}


def _risk_catalogue() -> dict[str, Any]:
    factor = _record({"key": _text("ключ"), "title": _text("название"),
                      "indicator": _text("показатель", "ключ из раздела «Показатели»")}, ("key", "title", "indicator"))
    return {"type": "object", "title": "Каталог рисков", "additionalProperties": False,
            "description": "Версионируемый список факторов риска; каждый оценивается по одному показателю.",
            "properties": {"version": {"type": "string", "title": "Версия каталога"},
                           "factors": {"type": "array", "title": "Факторы риска", "items": factor}}}


def _measures() -> dict[str, Any]:
    status = _record({"key": _name("ключ"), "title": _text("название"),
                      "outcome": _enum("итог", _titled(MEASURE_OUTCOMES, _OUTCOME_TITLES)),
                      "reason": {"type": "boolean", "title": "нужна причина"},
                      "evidence": {"type": "boolean", "title": "нужно подтверждение"},
                      "reschedules": {"type": "boolean", "title": "переносит срок"}}, ("key", "title"))
    titles = {"title": "название", "due_date": "срок", "responsible": "ответственный", "direction": "направление"}
    fields = {name: _name(titles.get(name, name), "ключ поля в элементе списка") for name in MEASURE_FIELDS}
    return _record({
        "task": _name("Задача плана мероприятий", "id пользовательской задачи с динамическим списком"),
        "list": _name("Список в форме", "ключ динамического списка в форме задачи"),
        "fields": _record(fields, tuple(n for n, required in MEASURE_FIELDS.items() if required),
                          title="Поля элемента списка",
                          description="Какое поле элемента списка — название, срок, ответственный, направление"),
        "directions_from": _name("Направления берутся из поля", "поле данных с выбранными направлениями рисков"),
        "statuses": {"type": "array", "title": "Статусы мероприятий", "minItems": 1, "items": status,
                     "description": "Первый — статус нового мероприятия; хотя бы один означает выполнение."},
    }, ("task", "list", "fields", "statuses"), title="Мероприятия",
        description="Какой список какой задачи становится учитываемой программой мероприятий школы.")


def _visits() -> dict[str, Any]:
    return _record({
        "report_task": _name("Задача отчёта о посещении"),
        "date_field": _name("Поле даты посещения"),
        "reminders_before": {"type": "array", "title": "Напоминания куратору до посещения", "x-format": "list",
                             "items": _offset("напоминание")},
        "escalation": _steps(2, "Шаги эскалации, если посещение не состоялось",
                             "1 — муниципальный координатор, 2 — региональный"),
    }, ("report_task", "date_field"), title="Посещения",
        description="График посещений куратора: отчёт о посещении, напоминания и эскалация.")


def _panel() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "kind": _enum("панель", _titled(PANEL_KINDS, _PANEL_TITLES)), "title": _text("заголовок"),
        "task": _name("задача", "documents: задача с документами"), "field": _name("поле", "documents: поле файлов"),
        "fields": _names("поля", "через запятую", min_items=1),
        "compare": _names("сравнить поля", "documents: поля для сравнения с прошлым ответом", min_items=1),
        "levels": _name("поле уровней", "risk_profile: поле «фактор → уровень»"),
        "chosen": _name("выбранные", "risk_profile: поле с выбранными факторами"),
    }
    branches: list[dict[str, Any]] = []
    panel = {"type": "object", "properties": properties, "required": ["kind"], "allOf": branches}
    for kind, (required, optional) in PANEL_KINDS.items():
        allowed = ["kind", "title", *required, *optional]
        names = {"enum": allowed, "x-message": f"у панели «{kind}» есть только: {', '.join(allowed)}"}
        branches.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                         "then": {"required": list(required), "propertyNames": names}})
    return panel


def _context() -> dict[str, Any]:
    return {"type": "object", "title": "Панели задач", "x-key": "id задачи BPMN",
            "description": "Что показать на странице задачи для решения: ответы, рисковый профиль, документы, "
                           "замечания, значения, мероприятия.",
            "additionalProperties": {"type": "array", "title": "панели задачи", "items": _panel()}}


def manifest_schema() -> dict[str, Any]:
    """The schema of a whole manifest.json; the order of ``properties`` is the order of the editor's tabs."""
    roles = {str(role): ROLE_TITLES[role] for role in LANE_ROLES}
    properties: dict[str, Any] = {
        "key": {"type": "string", "title": "Ключ шаблона", "pattern": KEY_PATTERN.pattern,
                "x-message": "от 2 до 63 знаков: латиница в нижнем регистре, цифры, «-», «_»"},
        "title": _text("Название"),
        "process": _text("Процесс", "id процесса (bpmn:process) в BPMN"),
        "roles": {"type": "array", "title": "Роли", "minItems": 1, "x-format": "list", "items": _enum("роль", roles),
                  "description": "Роли, которые могут быть у дорожек BPMN, через запятую: "
                                 + "; ".join(f"`{key}` — {title.lower()}" for key, title in roles.items())},
        "stages": _stages(),
        "deadlines": _deadlines(),
        "escalation": _escalation(),
        "cohort_calendar": _calendar(),
        "rules": _rules(),
        "indicators": _indicators(),
        "risk_catalogue": _risk_catalogue(),
        "questionnaires": _questionnaires(),
        "measures": _measures(),
        "visits": _visits(),
        "actions": _actions(),
        "context": _context(),
    }
    assert set(properties) == set(BASIC_KEYS + SECTION_NAMES)  # a new section is added here too
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "manifest.json шаблона",
        "type": "object",
        "required": ["key", "title", "process", "stages"],
        "properties": properties,
        # Keys starting with $ or _ are annotations (manifest_notes leaves them); anything else is a misspelt section.
        "patternProperties": {"^[$_]": {}},
        "additionalProperties": False,
        "x-message-additional": "раздел движку неизвестен и ничего не задаёт",
    }
