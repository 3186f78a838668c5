"""Form definitions (form-js JSON) and validation of submitted task data."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import engine.forms as forms
from engine.errors import FormDefinitionInvalid, FormInvalid
from engine.forms import FORM_ERROR_KEY, FormDefinition, FormField

DECISIONS = [{"label": "Принято", "value": "accepted"}, {"label": "На доработку", "value": "rework"}]
RESPONDENTS = [
    {"label": "Учителя", "value": "teachers"},
    {"label": "Ученики", "value": "students"},
    {"label": "Родители", "value": "parents"},
]

COVERAGE_FORM: dict[str, Any] = {
    "type": "default",
    "id": "coverage_confirmation",
    "schemaVersion": 16,
    "components": [
        {"type": "text", "id": "Intro", "text": "## Подтверждение охвата анкетирования"},
        {"type": "textfield", "key": "director_name", "label": "ФИО директора",
         "validate": {"required": True, "maxLength": 200}},
        {"type": "number", "key": "teacher_coverage", "label": "Охват учителей, %", "decimalDigits": 1,
         "validate": {"required": True, "min": 0, "max": 100}},
        {"type": "select", "key": "decision", "label": "Решение", "values": DECISIONS,
         "validate": {"required": True}},
        {"type": "textarea", "key": "comment", "label": "Комментарий", "validate": {"maxLength": 2000}},
        {"type": "checkbox", "key": "data_confirmed", "label": "Данные подтверждаю",
         "validate": {"required": True}},
        {"type": "textfield", "key": "contact_email", "label": "Электронная почта",
         "validate": {"validationType": "email"}},
        {"type": "textfield", "key": "contact_phone", "label": "Телефон",
         "validate": {"validationType": "phone"}},
        {"type": "checklist", "key": "respondents", "label": "Группы респондентов", "values": RESPONDENTS},
        {"type": "separator"},
        {"type": "group", "label": "Школа", "path": "school", "components": [
            {"type": "textfield", "key": "inn", "label": "ИНН",
             "validate": {"required": True, "pattern": r"^\d{10}$"}},
            {"type": "datetime", "subtype": "date", "key": "survey_date", "dateLabel": "Дата анкетирования"},
        ]},
        {"type": "group", "label": "Охват учеников", "components": [
            {"type": "number", "key": "students_total", "label": "Всего учеников", "validate": {"min": 1}},
            {"type": "radio", "key": "survey_format", "label": "Формат", "values": [
                {"label": "Очно", "value": "offline"}, {"label": "Онлайн", "value": "online"}]},
        ]},
        {"type": "dynamiclist", "path": "measures", "label": "Меры по доработке", "isRepeating": True,
         "allowAddRemove": True, "defaultRepetitions": 1, "components": [
             {"type": "textfield", "key": "title", "label": "Мера",
              "validate": {"required": True, "maxLength": 300}},
             {"type": "datetime", "subtype": "date", "key": "deadline", "dateLabel": "Срок",
              "validate": {"required": True}},
             {"type": "number", "key": "budget", "label": "Бюджет, руб.", "validate": {"min": 0}},
         ]},
        {"type": "filepicker", "key": "protocol", "label": "Протокол педсовета",
         "validate": {"required": True}},
        {"type": "button", "action": "submit", "label": "Отправить"},
    ],
}

VALID: dict[str, Any] = {
    "director_name": "  Иванова Мария Петровна ",
    "teacher_coverage": "87,5",
    "decision": "rework",
    "comment": "Охват ниже плана.\n",
    "data_confirmed": "true",
    "contact_email": "school42@edu.example.ru",
    "contact_phone": "+7 (495) 123-45-67",
    "respondents": ["teachers", "parents", "teachers"],
    "school": {"inn": "7701234567", "survey_date": "2025-03-14"},
    "students_total": 412,
    "survey_format": "online",
    "measures": [
        {"title": "Повторное анкетирование 9-х классов", "deadline": "2025-04-01", "budget": "0"},
        {"title": " Родительское собрание ", "deadline": "2025-04-10"},
    ],
    "protocol": [101, 102],
}


@pytest.fixture(scope="module")
def form() -> FormDefinition:
    return FormDefinition.from_json(json.dumps(COVERAGE_FORM, ensure_ascii=False))


def with_changes(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return data


def errors_of(form: FormDefinition, data: Any, *, partial: bool = False) -> dict[str, list[str]]:
    with pytest.raises(FormInvalid) as caught:
        form.validate(data, partial=partial)
    return caught.value.errors


def definition_problems(components: list[Any]) -> str:
    with pytest.raises(FormDefinitionInvalid) as caught:
        FormDefinition.from_json({"type": "default", "id": "broken", "components": components})
    return "\n".join(caught.value.problems)


# ------------------------------------------------------------------------------------ definition


def test_fields_are_inputs_in_order_with_dotted_group_paths(form: FormDefinition) -> None:
    assert form.form_id == "coverage_confirmation"
    assert [f.key for f in form.fields] == [
        "director_name", "teacher_coverage", "decision", "comment", "data_confirmed", "contact_email",
        "contact_phone", "respondents", "school.inn", "school.survey_date", "students_total", "survey_format",
        "measures", "protocol",
    ]
    director = form.fields[0]
    assert (director.type, director.label, director.required) == ("textfield", "ФИО директора", True)
    assert director.rules.max_length == 200
    assert form.fields[2].options == ("accepted", "rework")
    assert form.fields[9].label == "Дата анкетирования"


def test_dynamic_list_field_carries_its_item_fields(form: FormDefinition) -> None:
    measures = next(f for f in form.fields if f.key == "measures")
    assert measures.type == "dynamiclist"
    assert [(c.key, c.required) for c in measures.children] == [
        ("title", True), ("deadline", True), ("budget", False)
    ]


def test_keys_are_top_level_data_keys(form: FormDefinition) -> None:
    assert form.keys() == {
        "director_name", "teacher_coverage", "decision", "comment", "data_confirmed", "contact_email",
        "contact_phone", "respondents", "school", "students_total", "survey_format", "measures", "protocol",
    }


def test_to_dict_returns_a_copy_of_the_original(form: FormDefinition) -> None:
    original = form.to_dict()
    assert original == COVERAGE_FORM
    original["components"].clear()
    assert form.to_dict() == COVERAGE_FORM


def test_from_json_accepts_a_dict_and_keeps_its_own_copy() -> None:
    source = copy.deepcopy(COVERAGE_FORM)
    form = FormDefinition.from_json(source)
    source["components"].clear()
    assert form.to_dict() == COVERAGE_FORM
    assert isinstance(form.fields[0], FormField)


def test_camunda_style_minimal_forms_parse() -> None:
    review = FormDefinition.from_json(
        '{"type": "default", "id": "review", "schemaVersion": 16, "components": ['
        '{"type": "radio", "key": "decision", "label": "Решение", "validate": {"required": true},'
        ' "values": [{"label": "Принято", "value": "accepted"},'
        ' {"label": "На доработку", "value": "rework"}]},'
        '{"type": "textarea", "key": "review_comment", "label": "Комментарий куратора"}]}'
    )
    assert review.validate({"decision": "accepted"}) == {"decision": "accepted"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{not json", "не является корректным JSON"),
        (b"\xff\xfe", "не является корректным JSON"),
        ("[1, 2]", "JSON-объектом"),
        ('"form"', "JSON-объектом"),
        (42, "JSON-текстом или объектом"),
        ("{}", "components: ожидается список компонентов"),
        ('{"components": {}}', "components: ожидается список компонентов"),
        ('{"id": 5, "components": []}', "id: идентификатор формы должен быть строкой"),
    ],
)
def test_unreadable_definitions_are_rejected(source: Any, expected: str) -> None:
    with pytest.raises(FormDefinitionInvalid) as caught:
        FormDefinition.from_json(source)
    assert expected in "\n".join(caught.value.problems)


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        (["textfield"], "components[0]: компонент должен быть объектом"),
        ([{"key": "fio"}], "components[0] «fio»: не указан type"),
        ([{"type": "signature", "key": "sig"}], "components[0] «sig»: неподдерживаемый тип «signature»"),
        ([{"type": "textfield", "label": "ФИО"}], "components[0]: не указан key"),
        ([{"type": "number", "key": ""}], "components[0]: не указан key"),
        ([{"type": "textfield", "key": "два слова"}], "components[0] «два слова»: некорректный key"),
        ([{"type": "textfield", "key": "a..b"}], "некорректный key «a..b»"),
        ([{"type": "textfield", "key": "fio"}, {"type": "textarea", "key": "fio"}],
         "components[1] «fio»: ключ «fio» повторяется: он уже есть у components[0] «fio»"),
        ([{"type": "select", "key": "decision"}], "components[0] «decision»: нет списка вариантов values"),
        ([{"type": "radio", "key": "decision", "values": []}],
         "components[0] «decision»: нет списка вариантов"),
        ([{"type": "checklist", "key": "groups", "valuesKey": "groupsFromProcess"}],
         "valuesKey и valuesExpression не поддерживаются"),
        ([{"type": "select", "key": "curator", "valuesExpression": "=candidates"}],
         "valuesKey и valuesExpression не поддерживаются"),
        ([{"type": "select", "key": "curator", "valuesKey": "два слова"}],
         "components[0] «curator»: некорректный valuesKey 'два слова'"),
        ([{"type": "select", "key": "decision", "values": ["accepted"]}],
         "components[0] «decision»: values[0]: нужен объект"),
        ([{"type": "textfield", "key": "inn", "validate": {"pattern": "(\\d+"}}],
         "components[0] «inn»: некорректное регулярное выражение pattern «(\\d+»"),
        ([{"type": "number", "key": "coverage", "validate": {"min": 100, "max": 0}}],
         "components[0] «coverage»: min (100) больше max (0)"),
        ([{"type": "textfield", "key": "fio", "validate": {"minLength": 10, "maxLength": 5}}],
         "components[0] «fio»: minLength (10) больше maxLength (5)"),
        ([{"type": "number", "key": "coverage", "validate": {"min": "ноль"}}],
         "components[0] «coverage»: min должен быть числом"),
        ([{"type": "number", "key": "coverage", "validate": {"max": "=maxCoverage"}}],
         "components[0] «coverage»: max должен быть числом"),
        ([{"type": "number", "key": "coverage", "validate": {"max": True}}], "max должен быть числом"),
        ([{"type": "textfield", "key": "fio", "validate": {"maxLength": "много"}}],
         "components[0] «fio»: maxLength должен быть целым неотрицательным числом"),
        ([{"type": "textfield", "key": "fio", "validate": {"minLength": -1}}], "minLength должен быть целым"),
        ([{"type": "number", "key": "n", "decimalDigits": 1.5}], "decimalDigits должен быть целым"),
        ([{"type": "textfield", "key": "fio", "validate": {"validationType": "snils"}}],
         "components[0] «fio»: неизвестный validationType 'snils'"),
        ([{"type": "textfield", "key": "fio", "validate": {"required": "yes"}}],
         "validate.required должен быть true или false"),
        ([{"type": "textfield", "key": "fio", "validate": ["required"]}], "validate должен быть объектом"),
        ([{"type": "datetime", "key": "when", "subtype": "week"}],
         "components[0] «when»: неизвестный subtype"),
        ([{"type": "dynamiclist", "components": []}], "components[0]: не указан path"),
        ([{"type": "group", "path": "school", "components": {}}],
         "components[0] «school».components: ожидается список компонентов"),
        ([{"type": "group", "components": [{"type": "textfield"}]}],
         "components[0].components[0]: не указан key"),
        ([{"type": "textfield", "key": "school"}, {"type": "group", "path": "school", "components": []}],
         "components[1] «school»: путь данных «school» уже занят полем components[0] «school»"),
        ([{"type": "group", "path": "school", "components": []}, {"type": "textfield", "key": "school"}],
         "components[1] «school»: ключ «school» уже занят объектом группы components[0] «school»"),
        ([{"type": "textfield", "key": "a.b"}, {"type": "group", "path": "a", "components": [
            {"type": "textfield", "key": "b"}]}],
         "components[1] «a».components[0] «b»: ключ «a.b» повторяется"),
        ([{"type": "dynamiclist", "path": "rows", "components": [
            {"type": "textfield", "key": "x"}, {"type": "number", "key": "x"}]}],
         "components[0] «rows».components[1] «x»: ключ «x» повторяется"),
    ],
)
def test_broken_definitions_name_the_component(components: list[Any], expected: str) -> None:
    assert expected in definition_problems(components)


def test_a_select_with_values_key_takes_one_short_value_its_supplier_checks() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "select", "key": "curator", "label": "Куратор", "valuesKey": "candidates"}]})
    [spec] = form.fields
    assert spec.values_key == "candidates" and spec.options == () and form.keys() == {"curator"}
    assert form.validate({"curator": " curator-1 "}) == {"curator": "curator-1"}
    assert form.validate({"curator": ""}) == {"curator": None}
    for bad in ({"login": "x"}, ["x"], True, "x" * 201):
        with pytest.raises(FormInvalid) as refused:
            form.validate({"curator": bad})
        assert refused.value.errors == {"curator": [forms.CHOICE]}
    with pytest.raises(FormInvalid):  # the options themselves are data for the form, never submitted
        form.validate({"curator": "curator-1", "candidates": [{"label": "x", "value": "y"}]})


def test_unsupported_type_lists_the_supported_ones() -> None:
    problems = definition_problems([{"type": "expression", "key": "total"}])
    assert "поддерживаются:" in problems
    for kind in ("textfield", "number", "select", "dynamiclist", "filepicker", "group", "text"):
        assert kind in problems


def test_every_problem_is_reported_at_once() -> None:
    problems = definition_problems([
        {"type": "textfield"},
        {"type": "number", "key": "n", "validate": {"min": 5, "max": 1}},
        {"type": "number", "key": "n", "validate": {"minLength": 3, "maxLength": 1}},
        {"type": "select", "key": "s"},
    ]).splitlines()
    assert len(problems) == 5
    assert any("components[2] «n»: minLength" in p for p in problems)


def test_same_group_path_may_be_shared_like_in_form_js() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "group", "path": "school", "components": [{"type": "textfield", "key": "name"}]},
        {"type": "group", "path": "school", "components": [{"type": "textfield", "key": "inn"}]},
    ]})
    assert [f.key for f in form.fields] == ["school.name", "school.inn"]


def test_dotted_keys_and_paths_nest_data() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "textfield", "key": "director.name"},
        {"type": "group", "path": "org.school", "components": [{"type": "number", "key": "classes"}]},
    ]})
    data = {"director": {"name": " Петров "}, "org": {"school": {"classes": "11"}}}
    assert form.validate(data) == {"director": {"name": "Петров"}, "org": {"school": {"classes": 11}}}
    errors = errors_of(form, {"org": {"school": {"classes": "x"}}})
    assert errors == {"org.school.classes": ["Ожидается число."]}


def test_dynamic_list_without_repetition_is_a_group() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "dynamiclist", "path": "head", "isRepeating": False, "components": [
            {"type": "textfield", "key": "name", "validate": {"required": True}}]},
    ]})
    assert [f.key for f in form.fields] == ["head.name"]
    assert errors_of(form, {}) == {"head.name": ["Обязательное поле."]}


# ----------------------------------------------------------------------------------- validation


def test_valid_data_is_cleaned(form: FormDefinition) -> None:
    assert form.validate(VALID) == {
        "director_name": "Иванова Мария Петровна",
        "teacher_coverage": 87.5,
        "decision": "rework",
        "comment": "Охват ниже плана.",
        "data_confirmed": True,
        "contact_email": "school42@edu.example.ru",
        "contact_phone": "+7 (495) 123-45-67",
        "respondents": ["teachers", "parents"],
        "school": {"inn": "7701234567", "survey_date": "2025-03-14"},
        "students_total": 412,
        "survey_format": "online",
        "measures": [
            {"title": "Повторное анкетирование 9-х классов", "deadline": "2025-04-01", "budget": 0},
            {"title": "Родительское собрание", "deadline": "2025-04-10"},
        ],
        "protocol": [101, 102],
    }


def test_validate_does_not_change_the_input(form: FormDefinition) -> None:
    data = copy.deepcopy(VALID)
    form.validate(data)
    assert data == VALID


def test_optional_fields_may_be_left_out_or_empty(form: FormDefinition) -> None:
    data = {key: VALID[key] for key in ("director_name", "teacher_coverage", "decision", "data_confirmed",
                                       "school", "protocol")}
    data.update(comment="", contact_email="  ", respondents=[], students_total=None, survey_format="")
    cleaned = form.validate(data)
    assert "measures" not in cleaned
    assert (cleaned["comment"], cleaned["contact_email"], cleaned["respondents"]) == ("", "", [])
    assert cleaned["students_total"] is None and cleaned["survey_format"] is None


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"director_name": "   "}, "director_name", "Обязательное поле."),
        ({"director_name": None}, "director_name", "Обязательное поле."),
        ({"director_name": "Я" * 201}, "director_name", "Не больше 200 символов."),
        ({"director_name": 12}, "director_name", "Ожидается строка."),
        ({"teacher_coverage": -1}, "teacher_coverage", "Значение должно быть не меньше 0."),
        ({"teacher_coverage": "100.5"}, "teacher_coverage", "Значение должно быть не больше 100."),
        ({"teacher_coverage": "пятьдесят"}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": True}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": 33.33}, "teacher_coverage", "Не больше 1 знака после запятой."),
        ({"teacher_coverage": ""}, "teacher_coverage", "Обязательное поле."),
        ({"decision": "rejected"}, "decision", "Выберите значение из списка."),
        ({"decision": ""}, "decision", "Обязательное поле."),
        ({"decision": ["accepted"]}, "decision", "Выберите значение из списка."),
        ({"comment": "б" * 2001}, "comment", "Не больше 2000 символов."),
        ({"data_confirmed": False}, "data_confirmed", "Обязательное поле."),
        ({"data_confirmed": "может быть"}, "data_confirmed", "Ожидается «да» или «нет»."),
        ({"contact_email": "director@"}, "contact_email", "Некорректный адрес электронной почты."),
        ({"contact_phone": "позвонить"}, "contact_phone", "Некорректный номер телефона."),
        ({"respondents": ["teachers", "cooks"]}, "respondents", "Выберите значение из списка."),
        ({"respondents": "teachers"}, "respondents", "Ожидается список."),
        ({"school": {"inn": "77-01"}}, "school.inn", "Значение не соответствует шаблону."),
        ({"school": {"inn": "7701234567", "survey_date": "14.03.2025"}}, "school.survey_date",
         "Некорректная дата, ожидается ГГГГ-ММ-ДД."),
        ({"school": {"inn": "7701234567", "survey_date": "2025-02-30"}}, "school.survey_date",
         "Некорректная дата, ожидается ГГГГ-ММ-ДД."),
        ({"school": {}}, "school.inn", "Обязательное поле."),
        ({"school": None}, "school.inn", "Обязательное поле."),
        ({"school": "МБОУ СОШ №1"}, "school", "Ожидается объект."),
        ({"students_total": 0}, "students_total", "Значение должно быть не меньше 1."),
        ({"survey_format": "zoom"}, "survey_format", "Выберите значение из списка."),
        ({"measures": [{"deadline": "2025-04-01"}]}, "measures[0].title", "Обязательное поле."),
        ({"measures": [VALID["measures"][0], {"title": "x", "deadline": "скоро"}]}, "measures[1].deadline",
         "Некорректная дата, ожидается ГГГГ-ММ-ДД."),
        ({"measures": [{"title": "x", "deadline": "2025-04-01", "budget": -5}]}, "measures[0].budget",
         "Значение должно быть не меньше 0."),
        ({"measures": ["мера"]}, "measures[0]", "Ожидается объект."),
        ({"measures": [None]}, "measures[0]", "Ожидается объект."),
        ({"measures": {"title": "x"}}, "measures", "Ожидается список."),
        ({"protocol": []}, "protocol", "Обязательное поле."),
        ({"protocol": None}, "protocol", "Обязательное поле."),
        ({"protocol": ["101"]}, "protocol", "Ожидается идентификатор файла или список идентификаторов."),
        ({"protocol": 0}, "protocol", "Ожидается идентификатор файла или список идентификаторов."),
        ({"protocol": True}, "protocol", "Ожидается идентификатор файла или список идентификаторов."),
    ],
)
def test_each_rule_reports_under_its_key(
    form: FormDefinition, changes: dict[str, Any], key: str, message: str
) -> None:
    assert errors_of(form, with_changes(**changes)) == {key: [message]}


def test_missing_required_fields_are_all_reported(form: FormDefinition) -> None:
    required = ("director_name", "teacher_coverage", "decision", "data_confirmed", "school.inn", "protocol")
    assert errors_of(form, {}) == {key: ["Обязательное поле."] for key in required}


def test_several_errors_of_one_field_are_all_listed() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "textfield", "key": "code", "validate": {"minLength": 5, "pattern": "^[A-Z]+$"}}]})
    assert errors_of(form, {"code": "ab"}) == {
        "code": ["Не меньше 5 символов.", "Значение не соответствует шаблону."]
    }


def test_unknown_keys_are_rejected_at_every_level(form: FormDefinition) -> None:
    data = with_changes(
        hacker=True,
        school={"inn": "7701234567", "rating": 5},
        measures=[{"title": "x", "deadline": "2025-04-01", "owner": "я"}],
    )
    assert errors_of(form, data) == {
        "hacker": ["Неизвестное поле."],
        "school.rating": ["Неизвестное поле."],
        "measures[0].owner": ["Неизвестное поле."],
    }


def test_dotted_error_key_is_not_accepted_as_data_key(form: FormDefinition) -> None:
    data = with_changes(**{"school.inn": "7701234567"})
    assert errors_of(form, data) == {"school.inn": ["Неизвестное поле."]}


def test_partial_skips_required_only(form: FormDefinition) -> None:
    assert form.validate({}, partial=True) == {}
    draft = {"director_name": "", "data_confirmed": False, "protocol": [], "school": {},
             "measures": [{"title": "Собрание"}]}
    assert form.validate(draft, partial=True) == {
        "director_name": "", "data_confirmed": False, "protocol": [], "school": {},
        "measures": [{"title": "Собрание"}],
    }
    assert errors_of(form, {"teacher_coverage": 150, "hacker": 1}, partial=True) == {
        "teacher_coverage": ["Значение должно быть не больше 100."],
        "hacker": ["Неизвестное поле."],
    }


def test_conditionally_hidden_fields_are_not_required() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "radio", "key": "decision", "values": DECISIONS, "validate": {"required": True}},
        {"type": "textarea", "key": "rework_reason", "validate": {"required": True, "maxLength": 10},
         "conditional": {"hide": "=decision = \"accepted\""}},
        {"type": "group", "conditional": {"hide": "=true"}, "components": [
            {"type": "textfield", "key": "extra", "validate": {"required": True}}]},
    ]})
    assert form.fields[1].required and form.fields[1].conditional
    assert form.validate({"decision": "accepted"}) == {"decision": "accepted"}
    assert errors_of(form, {"decision": "rework", "rework_reason": "x" * 11}) == {
        "rework_reason": ["Не больше 10 символов."]
    }


def test_number_forms(form: FormDefinition) -> None:
    def coverage(value: Any) -> Any:
        return form.validate(with_changes(teacher_coverage=value))["teacher_coverage"]

    assert coverage("  42 ") == 42 and isinstance(coverage("42"), int)
    assert coverage(42.0) == 42 and isinstance(coverage(42.0), int)
    assert coverage("1e1") == 10
    assert coverage(0.1) == 0.1


def test_number_without_decimal_digits_setting_takes_any_precision() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "number", "key": "share", "decimalDigits": 0, "validate": {"min": 0.5}},
        {"type": "number", "key": "ratio"}]})
    assert form.validate({"ratio": "0.333333"}) == {"ratio": 0.333333}
    assert errors_of(form, {"share": "2.5"}) == {"share": ["Значение должно быть целым числом."]}
    assert errors_of(form, {"share": 0}) == {"share": ["Значение должно быть не меньше 0,5."]}


def test_checkbox_forms() -> None:
    form = FormDefinition.from_json({"components": [{"type": "checkbox", "key": "ok"}]})
    pairs = [(True, True), (False, False), ("false", False), ("on", True), (1, True), (0, False)]
    for raw, expected in pairs:
        assert form.validate({"ok": raw}) == {"ok": expected}
    assert errors_of(form, {"ok": 2}) == {"ok": ["Ожидается «да» или «нет»."]}


@pytest.mark.parametrize(
    ("subtype", "good", "bad", "message"),
    [
        ("date", "2025-03-14", "2025-13-01", "Некорректная дата, ожидается ГГГГ-ММ-ДД."),
        ("time", "11:30+03:00", "25:00", "Некорректное время."),
        ("time", "09:00Z", "9 утра", "Некорректное время."),
        ("datetime", "2025-03-14T11:30", "2025-03-14 в обед", "Некорректные дата и время."),
    ],
)
def test_datetime_subtypes(subtype: str, good: str, bad: str, message: str) -> None:
    form = FormDefinition.from_json({"components": [{"type": "datetime", "subtype": subtype, "key": "when"}]})
    assert form.validate({"when": f" {good} "}) == {"when": good}
    assert errors_of(form, {"when": bad}) == {"when": [message]}


def test_filepicker_takes_one_id_or_a_list() -> None:
    form = FormDefinition.from_json({"components": [{"type": "filepicker", "key": "doc"}]})
    assert form.validate({"doc": 7}) == {"doc": 7}
    assert form.validate({"doc": [7, 8]}) == {"doc": [7, 8]}
    assert form.validate({"doc": []}) == {"doc": []}


def test_taglist_and_numeric_options_match_exactly() -> None:
    form = FormDefinition.from_json({"components": [
        {"type": "taglist", "key": "tags",
         "values": [{"label": "Один", "value": 1}, {"label": "Два", "value": 2}]}]})
    assert form.validate({"tags": [2, 1, 2]}) == {"tags": [2, 1]}
    assert errors_of(form, {"tags": [True]}) == {"tags": ["Выберите значение из списка."]}
    assert errors_of(form, {"tags": ["1"]}) == {"tags": ["Выберите значение из списка."]}


def test_schema_is_built_once_per_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    form = FormDefinition.from_json(COVERAGE_FORM)
    built: list[bool] = []
    real_build = forms._build_schema  # noqa: SLF001 - the cache it tests shows only in how often this runs

    def counting_build(specs: Any, enforce_required: bool) -> Any:
        if specs is form.fields:  # dynamic list items get schemas of their own
            built.append(enforce_required)
        return real_build(specs, enforce_required)

    monkeypatch.setattr(forms, "_build_schema", counting_build)
    for _ in range(3):
        form.validate(VALID)
        form.validate({}, partial=True)
    assert sorted(built) == [False, True]


# ---------------------------------------------------------------------------------------- hostile


@pytest.mark.parametrize(
    "data",
    [None, [], "director_name=Иванова", 42, b"{}", [VALID], {1, 2}],
)
def test_data_that_is_not_an_object_is_rejected(form: FormDefinition, data: Any) -> None:
    assert errors_of(form, data) == {FORM_ERROR_KEY: ["Ожидается объект."]}


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"teacher_coverage": "1" + "0" * 400}, "teacher_coverage", "Слишком большое число."),
        ({"teacher_coverage": 10**400}, "teacher_coverage", "Слишком большое число."),
        ({"teacher_coverage": 1e300}, "teacher_coverage", "Слишком большое число."),
        ({"teacher_coverage": "1e9999"}, "teacher_coverage", "Слишком большое число."),
        ({"teacher_coverage": "1e99999"}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": "NaN"}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": "sNaN"}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": float("nan")}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": "Infinity"}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": float("-inf")}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": "1_000"}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": "9" * 1_000_000}, "teacher_coverage", "Ожидается число."),
        ({"teacher_coverage": {"$gt": 0}}, "teacher_coverage", "Ожидается число."),
        ({"comment": "ы" * 1_000_000}, "comment", "Не больше 100000 символов."),
        ({"director_name": [["Иванова"]]}, "director_name", "Ожидается строка."),
        ({"director_name": {"ru": "Иванова"}}, "director_name", "Ожидается строка."),
        ({"decision": {"value": "accepted"}}, "decision", "Выберите значение из списка."),
        ({"decision": "a" * 1_000_000}, "decision", "Выберите значение из списка."),
        ({"data_confirmed": "t" * 1_000_000}, "data_confirmed", "Ожидается «да» или «нет»."),
        ({"respondents": [["teachers"]]}, "respondents", "Выберите значение из списка."),
        ({"respondents": ["teachers"] * 5_000}, "respondents", "Не больше 1000 элементов."),
        ({"measures": [[{"title": "x"}]]}, "measures[0]", "Ожидается объект."),
        ({"measures": [{}] * 5_000}, "measures", "Не больше 1000 элементов."),
        ({"measures": "мера"}, "measures", "Ожидается список."),
        ({"protocol": 10**400}, "protocol", "Ожидается идентификатор файла или список идентификаторов."),
        ({"protocol": [[101]]}, "protocol", "Ожидается идентификатор файла или список идентификаторов."),
        ({"school": [["7701234567"]]}, "school", "Ожидается объект."),
    ],
)
def test_hostile_values_give_form_invalid(
    form: FormDefinition, changes: dict[str, Any], key: str, message: str
) -> None:
    assert errors_of(form, with_changes(**changes)) == {key: [message]}


HOSTILE_VALUES: list[Any] = [
    None, True, -1, 10**400, -(10**400), 1e308, float("nan"), float("inf"), "", " ", "NaN", "1e99999",
    "x" * 1_000_000, [], [None], [[[]]], {}, {"a": {"b": []}}, ["a"] * 2_000, [{"title": 1}], object(),
]


@pytest.mark.parametrize("partial", [False, True])
def test_no_value_in_any_field_raises_anything_but_form_invalid(form: FormDefinition, partial: bool) -> None:
    keys = [*form.keys(), "unknown"]
    for key in keys:
        for value in HOSTILE_VALUES:
            try:
                form.validate(with_changes(**{key: value}), partial=partial)
            except FormInvalid as error:
                assert all(isinstance(m, str) for messages in error.errors.values() for m in messages)


def test_form_invalid_message_lists_fields(form: FormDefinition) -> None:
    with pytest.raises(FormInvalid) as caught:
        form.validate(with_changes(decision="no", hacker=1))
    assert str(caught.value) == "Форма заполнена с ошибками: decision, hacker"


@pytest.mark.parametrize("pattern", ["(a+)+$", "(.*)*x", r"(\w+\s?)+$", "(a|aa){2,}$"])
def test_catastrophic_patterns_are_refused_in_the_definition(pattern: str) -> None:
    definition = {"components": [{"type": "textfield", "key": "x", "label": "X", "validate": {"pattern": pattern}}]}
    with pytest.raises(FormDefinitionInvalid, match="вложенные повторения"):
        FormDefinition.from_json(definition)


def test_pattern_is_not_run_on_very_long_text() -> None:
    definition = {"components": [{"type": "textfield", "key": "x", "label": "X", "validate": {"pattern": "^a+$"}}]}
    form = FormDefinition.from_json(definition)
    assert form.validate({"x": "aaa"}) == {"x": "aaa"}
    with pytest.raises(FormInvalid):
        form.validate({"x": "a" * 5000})
