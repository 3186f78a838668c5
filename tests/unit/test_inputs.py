"""web.inputs: the one reader of ids, numbers and JSON bodies (no I/O, no request)."""

from __future__ import annotations

import pytest

from engine.errors import NotFound
from web.inputs import INT32_MAX, JSON_MAX_DEPTH, InputRejected, id_or_none, parse_id, parse_int, parse_json


@pytest.mark.parametrize("text", ["²", "٣", "1.0", "1e3", "", " ", "0x10", "+-1", "1_000", "1" * 5000, "--1"])
def test_parse_int_refuses_what_is_not_an_ascii_integer(text: str) -> None:
    with pytest.raises(InputRejected, match="целым числом"):
        parse_int(text, "count", minimum=0, maximum=INT32_MAX)


def test_parse_int_bounds_and_whitespace() -> None:
    assert parse_int(" 42 ", "count", minimum=0, maximum=100) == 42
    assert parse_int("-5", "shift", minimum=-10, maximum=10) == -5
    with pytest.raises(InputRejected, match="от 2000 до 2100"):
        parse_int("2147483648", "cohort", minimum=2000, maximum=2100)


@pytest.mark.parametrize("text", ["0", "-1", "9223372036854775808", "99999999999999999999", "1" * 5000])
def test_an_id_no_row_can_have_is_not_found(text: str) -> None:
    with pytest.raises(NotFound):
        parse_id(text)
    assert id_or_none(text) is None


def test_parse_id() -> None:
    assert parse_id("9223372036854775807") == 2**63 - 1
    with pytest.raises(NotFound):
        parse_id("2147483648", maximum=INT32_MAX)
    with pytest.raises(InputRejected):
        parse_id("²")


@pytest.mark.parametrize(("body", "words"), [
    (b'{"a": {', "не JSON"),
    (b"[" * 100_000, "глубже"),
    (b"[" * (JSON_MAX_DEPTH + 1) + b"]" * (JSON_MAX_DEPTH + 1), "глубже"),
    (b'{"a": "\xff"}', "UTF-8"),
    ("{}".encode("utf-16"), "UTF-8"),
    (b"1" * 31, "цифр"),
    (b"-" + b"1" * 31, "цифр"),
    (b"[Infinity]", "Infinity"),
    (b"1e400", "диапазона"),
    (b'"' + b"a" * 2 * 1024 * 1024 + b'"', "больше 1024 КБ"),
])
def test_parse_json_refuses(body: bytes, words: str) -> None:
    with pytest.raises(InputRejected, match=words):
        parse_json(body)


def test_parse_json_reads_ordinary_json() -> None:
    nested = "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH
    assert parse_json(nested) is not None
    assert parse_json('{"имя": "Тестовая СОШ", "n": -12, "x": 1.5, "ok": true, "none": null}'.encode()) == {
        "имя": "Тестовая СОШ", "n": -12, "x": 1.5, "ok": True, "none": None}
    assert parse_json("1" * 30) == int("1" * 30)
