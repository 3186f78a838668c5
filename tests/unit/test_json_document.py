"""The JSON reader behind manifest.json and forms: the same values as json.loads, plus the line of each value,
and located Russian refusals where Python's reader would raise its own English (or leak a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.json_document import MAX_DEPTH, JsonRefused, format_path, parse_json

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"

TEXT = """{
  "key": "mini",
  "stages": [
    {"key": "a", "title": "A"},
    {"key": "b",
     "title": "B"}
  ],
  "deadlines": {"review": "5WD"}
}
"""


def test_values_are_those_of_json_loads_for_every_file_of_the_roadmap() -> None:
    for path in [ROADMAP / "manifest.json", *sorted((ROADMAP / "forms").glob("*.form"))]:
        text = path.read_text(encoding="utf-8")
        assert parse_json(text).value == json.loads(text), path.name


def test_each_value_has_the_line_of_its_key_or_item() -> None:
    document = parse_json(TEXT)
    assert document.line(()) == 1
    assert document.line(("key",)) == 2
    assert document.line(("stages", 1)) == 5
    assert document.line(("stages", 1, "title")) == 6
    assert document.line(("deadlines", "review")) == 8
    assert document.line(("deadlines", "absent")) == 8  # the nearest ancestor that is there
    stage = document.value["stages"][1]
    assert document.line_of(stage) == 5 and document.line_of({"key": "b"}) is None


def test_paths_read_like_the_json() -> None:
    assert format_path(("deadlines", "run_questionnaires")) == "deadlines.run_questionnaires"
    assert format_path(("stages", 2, "title")) == "stages[2].title"
    assert format_path(("deadlines", "a b")) == 'deadlines["a b"]'
    assert format_path(()) == ""


@pytest.mark.parametrize(("text", "line", "path", "fragment"), [
    ('{\n "a": 1,\n}', 3, (), "лишняя запятая перед «}»"),
    ("[1,\n]", 2, (), "лишняя запятая перед «]»"),
    ('{"a" 1}', 1, (), "после имени «a» ожидается «:»"),
    ('{"a": 1\n "b": 2}', 2, (), "ожидается «,» или «}», а не «\"b\": 2}»"),
    ('{\n"a": ' + "9" * 5000 + "}", 2, ("a",), "слишком длинное число: 5000 цифр, допустимо не больше 100"),
    ('{"a": 1e999}', 1, ("a",), "вне допустимого диапазона"),
    ('{"a": NaN}', 1, ("a",), "NaN и Infinity — не числа JSON"),
    ('{"a": "x\\u0000"}', 1, ("a",), "недопустимый символ U+0000"),
    ('{"a": "\\ud800"}', 1, ("a",), "недопустимый символ U+D800"),
    ('{"a": "x\\q"}', 1, ("a",), "неверная escape-последовательность"),
    ('{"a": "open', 1, ("a",), "строка не закрыта кавычкой"),
    ("", 1, (), "файл пуст"),
    ('{"a": 1} tail', 1, (), "лишний текст после конца JSON: «tail»"),
    ("{a: 1}", 1, (), "имя поля в двойных кавычках"),
    ("[" * (MAX_DEPTH + 1), 1, (0,) * MAX_DEPTH, f"вложенность глубже {MAX_DEPTH} уровней"),
])
def test_refusals_are_located_and_russian(text: str, line: int, path: tuple[object, ...], fragment: str) -> None:
    with pytest.raises(JsonRefused) as caught:
        parse_json(text)
    assert (caught.value.line, caught.value.path) == (line, path)
    assert fragment in caught.value.message and "sys." not in caught.value.message
    assert "\n" not in caught.value.message


def test_a_repeated_key_keeps_the_last_value_and_is_listed() -> None:
    document = parse_json('{"a": 1,\n "b": {"c": 1,\n "c": 2}}')
    assert document.value == {"a": 1, "b": {"c": 2}}
    [duplicate] = document.duplicates
    assert (duplicate.path, duplicate.first_line, duplicate.line) == (("b", "c"), 2, 3)


def test_a_byte_order_mark_is_tolerated() -> None:
    assert parse_json('\ufeff{"a": 1}').value == {"a": 1}
