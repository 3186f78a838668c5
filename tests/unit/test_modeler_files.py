"""BPMN files as other modelers export them: their metadata, encodings and habits are no problem; what the
engine really cannot run is reported, one line per problem, with a line and the nearest element id.

The files in tests/fixtures/modelers/ are written for these tests in the manner of each modeler (each says
so in its opening comment): namespaces, metadata elements, ids, encodings, byte order marks, diagrams.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from engine.bpmn.bundle import Bundle, load_bundle
from engine.bpmn.compiler import compile_bundle, validate_bundle
from engine.bpmn.foreign_expressions import foreign_expression
from engine.bpmn.parser_messages import schema_message, spiff_message
from engine.bpmn.safe_eval import check_expression
from engine.bpmn.xml import parse_xml
from engine.errors import ExpressionRejected, Problem
from tests.conftest import FIXTURES, MINI_BUNDLE

MODELERS = FIXTURES / "modelers"

# file -> every problem it has: (line, element id, start of the message). Empty: the file is valid.
EXPECTED: dict[str, list[tuple[int, str, str]]] = {
    "adonis.bpmn": [],  # ISO-8859-1, unprefixed <attribute> metadata
    "bic_cloud_design.bpmn": [],  # UTF-8 with a byte order mark, bic: attributes and elements
    "bizagi.bpmn": [],  # bizagi:BizagiExtensions declared on the extension element itself
    "bpmn_io.bpmn": [],  # a dataState inside a dataObjectReference, bioc: colours
    "camunda_modeler_7.bpmn": [],  # camunda:formKey, historyTimeToLive, asyncBefore, properties
    "camunda_modeler_8.bpmn": [],  # zeebe:userTask, zeebe:formDefinition, zeebe:properties
    "cardanit.bpmn": [],  # BPSim scenario attached through a bpmn:relationship
    "enterprise_architect.bpmn": [],  # windows-1252 with CRLF, – and € in names
    "genmymodel.bpmn": [],  # bpmn2: prefix, EMF ids, gmm: styling
    "ibm_baw.bpmn": [],  # ns16: prefix, ns13:nodeVisualInfo instead of DI, JavaScript expressionLanguage
    "ms_visio.bpmn": [],  # UTF-16 LE with a byte order mark, CRLF, semantic: prefix
    "signavio.bpmn": [],  # signavio:signavioMetaData everywhere, a collaboration
    "visual_paradigm.bpmn": [],  # VpId, Grid, IntegerProperty unprefixed in extensionElements
    "yaoqiang.bpmn": [],  # yaoqiang:pageFormat in the process's extensionElements
    # What is really wrong is still said, once, where it is.
    "camunda_modeler_7_unsupported.bpmn": [
        (17, "review", "camunda:taskListener не поддерживается: вместо слушателя — скрипт-задача"),
        (23, "notify", "элемент «sendTask» не поддерживается движком"),
        (27, "f_yes", "выражение «${approved && score ge 3}» записано на языке выражений Camunda 7 (JUEL); "
                      "движок понимает безопасные выражения в стиле Python (см. docs/templates.md): "
                      "напишите «approved and score >= 3»"),
    ],
    "camunda_modeler_8_feel.bpmn": [
        (28, "f_yes", "выражение «=decision = \"approved\"» записано на языке FEEL (Camunda 8); "
                      "движок понимает безопасные выражения в стиле Python (см. docs/templates.md): "
                      "напишите «decision == \"approved\"»"),
    ],
    "signavio_documentation_only.bpmn": [
        (5, "sid-DOC-PROC", "процесс отмечен как неисполняемый (isExecutable=\"false\")"),
        (8, "sid-DOC-LANE", "дорожка «Завуч\\nпо учебной работе» не соответствует известной роли"),
        (18, "sid-DOC-TASK", "не указан этап задачи (roadmap:stage)"),
        (18, "sid-DOC-TASK", "у пользовательской задачи нет формы (roadmap:form)"),
        (18, "sid-DOC-TASK", "не задано правило срока"),
    ],
    "bpmn_io_duplicate_id.bpmn": [
        (20, "Activity_1", "идентификатор «Activity_1» повторяется (строки 13 и 20)"),
    ],
    "bpmn_io_two_outgoing.bpmn": [
        (14, "Activity_fill", "у элемента «bpmn:userTask» несколько исходящих потоков: ветвление задаётся шлюзом "
                              "(exclusiveGateway, parallelGateway, inclusiveGateway)"),
    ],
}


def _problems(path: Path) -> list[Problem]:
    bundle, problems = load_bundle(path)
    assert bundle is not None and not problems
    return validate_bundle(bundle)


def test_every_modeler_file_has_an_expectation() -> None:
    assert {p.name for p in MODELERS.glob("*.bpmn")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_modeler_files_report_exactly_their_true_problems(name: str) -> None:
    found = [(p.line, p.element_id, p.message) for p in _problems(MODELERS / name)]
    assert len(found) == len(EXPECTED[name]), found
    for (line, element_id, message), (want_line, want_id, start) in zip(found, EXPECTED[name], strict=True):
        assert (line, element_id) == (want_line, want_id) and message.startswith(start), (line, element_id, message)


@pytest.mark.parametrize(("name", "task_name"), [
    ("adonis.bpmn", "Antrag prüfen"),  # ISO-8859-1
    ("enterprise_architect.bpmn", "Budget prüfen – Kurator"),  # windows-1252: «–» is 0x96
    ("ms_visio.bpmn", "Заполнить анкету"),  # UTF-16
    ("bic_cloud_design.bpmn", "Проверить план"),  # UTF-8 with a byte order mark
])
def test_files_in_other_encodings_compile_with_their_text_intact(name: str, task_name: str) -> None:
    bundle, _ = load_bundle(MODELERS / name)
    assert bundle is not None
    compiled = compile_bundle(bundle)
    assert [task.name for task in compiled.spec.user_tasks.values()] == [task_name]


def test_stray_metadata_is_dropped_for_checking_only() -> None:
    path = MODELERS / "visual_paradigm.bpmn"
    bundle, _ = load_bundle(path)
    assert bundle is not None
    compile_bundle(bundle)
    assert bundle.files["visual_paradigm.bpmn"] == path.read_bytes()  # the stored file keeps its metadata
    assert b"<IntegerProperty" in bundle.files["visual_paradigm.bpmn"]


# --- encodings -----------------------------------------------------------------------------------------

_BODY = ('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">\n'
         '<process id="p" name="{name}"/>\n</definitions>\n')


def _parsed(data: bytes) -> tuple[str | None, list[Problem]]:
    doc, problems = parse_xml("x.bpmn", data)
    return (doc.root[0].get("name") if doc is not None else None), problems


@pytest.mark.parametrize(("data", "name"), [
    (b'<?xml version="1.0" encoding="ISO-8859-1"?>\n' + _BODY.format(name="Gr\xfc\xdfe").encode("latin-1"), "Grüße"),
    (b"<?xml version='1.0' encoding='windows-1252'?>\n" + _BODY.format(name="a – b €").encode("cp1252"), "a – b €"),
    (b'<?xml version="1.0" encoding="windows-1251"?>\n' + _BODY.format(name="Школа").encode("cp1251"), "Школа"),
    (codecs.BOM_UTF16_BE + ('<?xml version="1.0" encoding="UTF-16"?>\n' + _BODY.format(name="Школа"))
     .encode("utf-16-be"), "Школа"),
    (codecs.BOM_UTF8 + _BODY.format(name="Школа").encode(), "Школа"),
    # Declared UTF-16 but readable as ASCII, without a byte order mark: the bytes are not UTF-16.
    (b'<?xml version="1.0" encoding="UTF-16"?>\n' + _BODY.format(name="Школа").encode(), "Школа"),
])
def test_any_declared_encoding_that_decodes_is_accepted(data: bytes, name: str) -> None:
    assert _parsed(data) == (name, [])


@pytest.mark.parametrize(("data", "line", "message"), [
    (b'<?xml version="1.0" encoding="windows-1252"?>\n' + _BODY.format(name="a\x81b").encode("latin-1"), 3,
     "байт 0x81 не читается в кодировке windows-1252: сохраните файл в UTF-8 или объявите в нём настоящую кодировку"),
    (b'<?xml version="1.0" encoding="UTF-8"?>\n\n' + _BODY.format(name="\xe9").encode("latin-1"), 4,
     "байт 0xE9 не читается в кодировке UTF-8: сохраните файл в UTF-8 или объявите в нём настоящую кодировку"),
    (_BODY.format(name="\xe9").encode("latin-1"), 2,
     "байт 0xE9 не читается в кодировке UTF-8 (кодировка не объявлена): сохраните файл в UTF-8 или объявите в "
     "нём настоящую кодировку"),
    (b'<?xml version="1.0" encoding="x-klingon"?>\n' + _BODY.format(name="a").encode(), 1,
     "кодировка «x-klingon» из объявления XML неизвестна"),
    (b'<?xml version="1.0" encoding="base64"?>\n' + _BODY.format(name="a").encode(), 1,
     "«base64» из объявления XML — не кодировка текста"),
])
def test_what_cannot_be_decoded_is_declined_naming_the_byte_and_line(data: bytes, line: int, message: str) -> None:
    assert _parsed(data) == (None, [Problem("x.bpmn", line, None, message)])


def test_a_doctype_is_refused_in_any_encoding() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<d/>'
    assert _parsed(text.encode("utf-16")) == (None, [Problem("x.bpmn", 2, None, "объявления DOCTYPE и ENTITY запрещены")])
    utf7 = b'<?xml version="1.0" encoding="utf-7"?>\n+ADw-!DOCTYPE d+AD4-\n<d/>'
    assert _parsed(utf7) == (None, [Problem("x.bpmn", 2, None, "объявления DOCTYPE и ENTITY запрещены")])


# --- the nearest id, one line per problem -----------------------------------------------------------------

_DEFINITIONS = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
                'xmlns:roadmap="https://roadmap-500.ru/schema/1.0" id="d" targetNamespace="t">\n'
                '<bpmn:process id="p" isExecutable="true">\n{body}\n</bpmn:process>\n</bpmn:definitions>\n')


def _lone(body: str) -> list[tuple[int | None, str | None, str]]:
    problems = validate_bundle(Bundle("x.bpmn", {"x.bpmn": _DEFINITIONS.format(body=body).encode()}))
    return [(p.line, p.element_id, p.message) for p in problems]


def test_problems_inside_an_element_name_its_nearest_id() -> None:
    found = _lone('<bpmn:startEvent id="s"/>\n'
                  '<bpmn:intermediateCatchEvent id="wait">\n'
                  '  <bpmn:conditionalEventDefinition>\n'
                  '    <bpmn:condition>ready</bpmn:condition>\n'
                  '  </bpmn:conditionalEventDefinition>\n'
                  '</bpmn:intermediateCatchEvent>\n'
                  '<bpmn:task id="t"><bpmn:documentation textFormat="text/plain" lang="ru">x</bpmn:documentation></bpmn:task>')
    assert found == [
        (9, "t", "нарушена схема BPMN: атрибут «lang» не допускается у элемента «bpmn:documentation»"),
        (5, "wait", "элемент «conditionalEventDefinition» не поддерживается движком"),  # not also its condition
    ]


def test_metadata_outside_extension_elements_is_one_problem_not_two() -> None:
    # Our rule names it; the schema's «This element is not expected» about it would say the same again.
    found = _lone('<bpmn:startEvent id="s"/>\n<bpmn:task id="t"><VpId xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
                  'value="x"/></bpmn:task>')
    assert found == [(4, "t", "элемент «VpId» не поддерживается движком")]


def test_elements_that_assign_work_another_way_say_what_to_use() -> None:
    found = _lone('<bpmn:startEvent id="s"/>\n<bpmn:task id="t"><bpmn:potentialOwner id="po"/></bpmn:task>')
    assert found == [(4, "po", "элемент «potentialOwner» не поддерживается: исполнителя задаёт дорожка (lane) с ролью")]


def test_hostile_text_from_a_file_is_printed_on_one_line() -> None:
    found = _lone('<bpmn:startEvent id="s"/>\n'
                  '<bpmn:laneSet id="ls"><bpmn:lane id="l" name="Куратор&#10;&#x202E;ьлортнок"/></bpmn:laneSet>')
    [(line, element_id, message)] = found
    assert (line, element_id) == (4, "l")
    assert message.startswith("дорожка «Куратор\\n\\u202eьлортнок» не соответствует")


def test_a_form_key_with_a_bidi_override_is_escaped_wherever_it_is_shown() -> None:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    bpmn = bundle.files["mini.bpmn"].replace(b'roadmap:form="review"', 'roadmap:form="rev\u202eweiv"'.encode())
    [problem] = validate_bundle(Bundle("mini", dict(bundle.files, **{"mini.bpmn": bpmn})))
    assert problem.message == "форма «rev\\u202eweiv» не найдена: нет файла forms/rev\\u202eweiv.form"
    assert "\n" not in problem.format() and "\u202e" not in problem.format()


@pytest.mark.parametrize(("raw", "shown"), [
    ("ключ\x00формы", "ключ\\x00формы"),
    ("строка 1\r\nстрока 2", "строка 1\\r\\nстрока 2"),
    ("abc\u202edef\u2066", "abc\\u202edef\\u2066"),
    ("разрыв\u2028абзаца\x85", "разрыв\\u2028абзаца\\x85"),
    ("неразрывный\u00a0пробел и «кавычки»", "неразрывный\u00a0пробел и «кавычки»"),
])
def test_problem_escapes_what_would_break_or_hide_a_line(raw: str, shown: str) -> None:
    problem = Problem(f"{raw}.bpmn", 1, raw, raw)
    assert (problem.path, problem.element_id, problem.message) == (f"{shown}.bpmn", shown, shown)
    assert len(problem.format().splitlines()) == 1


# --- conditions written for Camunda ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "advice"), [
    ("${approved}", "напишите «approved»"),
    ("${a == 'x' && b}", "напишите «a == 'x' and b»"),
    ("#{x > 1 || !done}", "напишите «x > 1 or not done»"),
    ("${score ge 5 and status ne 'closed'}", "напишите «score >= 5 and status != 'closed'»"),
    ("${name eq 'a && b'}", "напишите «name == 'a && b'»"),
    ("${reason == null}", "напишите «reason == None»"),
    ("=x > 1", "напишите «x > 1»"),
    ('= status = "done" and count >= 2', 'напишите «status == "done" and count >= 2»'),
    ("${execution.getVariable('x')}", "сравнения ==, !=, <, связки and, or, not, строки в кавычках"),
])
def test_camunda_conditions_are_explained_with_the_equivalent(text: str, advice: str) -> None:
    said = foreign_expression(text)
    assert said is not None and said.endswith(advice), said


def test_ordinary_expressions_are_not_taken_for_camunda() -> None:
    assert foreign_expression("x > 1") is None and foreign_expression("f'{x}'") is None


@pytest.mark.parametrize(("text", "said"), [
    ("(a", "скобка «(» не закрыта"),
    ("a +", "неверная запись выражения"),
    ("f(a b)", "неверная запись — возможно, пропущена запятая"),
    ("'abc", "строка не закрыта кавычкой"),
    ("a ≠ b", "недопустимый символ «≠» (U+2260)"),
])
def test_syntax_errors_are_explained_in_russian(text: str, said: str) -> None:
    with pytest.raises(ExpressionRejected, match="синтаксическая ошибка в строке 1") as caught:
        check_expression(text)
    assert caught.value.message.endswith(said)


# --- what the schema and SpiffWorkflow say ----------------------------------------------------------------------

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def test_a_repeated_id_names_both_lines_and_a_malformed_one_says_what_an_id_is() -> None:
    raw = f"Element '{BPMN}task', attribute 'id': 'a' is not a valid value of the atomic type 'xs:ID'."
    assert schema_message(raw, 9, {"a": [3, 9]}) == "идентификатор «a» повторяется (строки 3 и 9)"
    raw = f"Element '{BPMN}task', attribute 'id': 'a b' is not a valid value of the atomic type 'xs:ID'."
    assert schema_message(raw, 9, {"a b": [9]}).startswith("«a b» не годится как идентификатор (id)")


def test_unknown_schema_messages_are_kept_whole_with_short_names() -> None:
    raw = f"Element '{BPMN}task': Something new in libxml2 {{urn:x}}y."
    assert schema_message(raw, 1, {}) == "нарушена схема BPMN: Element 'bpmn:task': Something new in libxml2 {urn:x}y."


def test_spiff_messages_are_translated_or_kept_whole() -> None:
    assert spiff_message("No start event found", "bpmn:process") == "в процессе нет стартового события (startEvent)"
    long = "A new message from SpiffWorkflow " + "that goes on " * 20 + "to the very end"
    assert spiff_message(long, "bpmn:task") == f"SpiffWorkflow: {long}"
