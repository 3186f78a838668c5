"""JSON text that remembers where each value is, for messages about template files (manifest.json, forms).

``json.loads`` gives values without positions, while an admin needs «manifest.json:41:
deadlines.run_questionnaires: …». This reader parses the same JSON (RFC 8259) and keeps, for every
value, the line it starts on — by its path from the root (an object member's line is its key's), and
by the identity of every object and array it builds, so a checker walking the values can ask where one
came from. It also refuses, with a located Russian sentence, what Python's reader would let through as
a traceback or a surprise later: numbers longer than MAX_NUMBER_DIGITS (Python's own 4300-digit limit
talks about ``sys.set_int_max_str_digits``), numbers beyond the float range, NaN and Infinity, the
characters PostgreSQL cannot store in JSON (U+0000, lone surrogates), nesting deeper than MAX_DEPTH.
Repeated keys keep the last value, as ``json.loads`` does, and are listed so callers can report them.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

JsonPath: TypeAlias = tuple[str | int, ...]

MAX_NUMBER_DIGITS = 100
MAX_DEPTH = 128

_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_NOT_STORABLE = re.compile("[\x00\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"[^\W\d]\w*")
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_STRING_ERRORS = (
    ("Unterminated string", "строка не закрыта кавычкой"),
    ("Invalid control character", "в строке управляющий символ: его нужно записать как \\n, \\t или \\uXXXX"),
    ("Invalid \\uXXXX", "неверная последовательность \\uXXXX"),
    ("Invalid \\escape", "неверная escape-последовательность после «\\»"),
)


class JsonRefused(ValueError):
    """The text is not JSON this engine accepts; ``line`` and ``path`` say where, ``message`` why (Russian)."""

    def __init__(self, line: int, path: JsonPath, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Duplicate:
    """A key given twice in one object: the value on ``line`` replaced the one on ``first_line``."""

    path: JsonPath
    first_line: int
    line: int


@dataclass(frozen=True)
class JsonDocument:
    value: Any
    lines: Mapping[JsonPath, int] = field(default_factory=dict)
    duplicates: tuple[Duplicate, ...] = ()
    node_lines: Mapping[int, int] = field(default_factory=dict, repr=False)  # id(object or array) -> line

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of the value at ``path``, or of its nearest ancestor that exists."""
        at = tuple(path)
        while at:
            if at in self.lines:
                return self.lines[at]
            at = at[:-1]
        return self.lines.get(())

    def line_of(self, node: object) -> int | None:
        """The line where this object or array (one of ``value``'s own) starts."""
        return self.node_lines.get(id(node))


def format_path(path: Sequence[str | int]) -> str:
    """``deadlines.run_questionnaires``, ``stages[2].title``, ``deadlines["a b"]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text


def parse_json(text: str) -> JsonDocument:
    """Parse ``text``; raise ``JsonRefused`` for anything that is not JSON or that we do not accept."""
    reader = _Reader(text.removeprefix("\ufeff"))  # editors on Windows start files with a BOM
    value = reader.document()
    return JsonDocument(value, reader.lines, tuple(reader.duplicates), reader.node_lines)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [match.start() for match in re.finditer("\n", text)]
        self.lines: dict[JsonPath, int] = {}
        self.node_lines: dict[int, int] = {}
        self.duplicates: list[Duplicate] = []
        self.path: list[str | int] = []

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def refuse(self, pos: int, message: str) -> JsonRefused:
        return JsonRefused(self.line(pos), tuple(self.path), message)

    def snippet(self, pos: int) -> str:
        """What stands at ``pos``, up to the end of its line: a message is always one line."""
        return self.text[pos:pos + 20].split("\n", 1)[0].rstrip("\r")

    def skip(self, pos: int) -> int:
        match = _SPACE.match(self.text, pos)
        return match.end() if match else pos

    def document(self) -> Any:
        pos = self.skip(0)
        if pos == len(self.text):
            raise self.refuse(pos, "файл пуст: ожидается JSON")
        self.lines[()] = self.line(pos)
        value, pos = self.value(pos, 0)
        pos = self.skip(pos)
        if pos != len(self.text):
            raise self.refuse(pos, f"лишний текст после конца JSON: «{self.snippet(pos)}»")
        return value

    def value(self, pos: int, depth: int) -> tuple[Any, int]:
        char = self.text[pos:pos + 1]
        if char == "{":
            return self.object(pos, depth + 1)
        if char == "[":
            return self.array(pos, depth + 1)
        if char == '"':
            return self.string(pos)
        match = _NUMBER.match(self.text, pos)
        if match:
            return self.number(match), match.end()
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, pos):
                return literal, pos + len(word)
        if not char:
            raise self.refuse(pos, "файл оборвался: ожидается значение")
        if self.text.startswith(("NaN", "Infinity", "-Infinity"), pos):
            raise self.refuse(pos, "NaN и Infinity — не числа JSON")
        raise self.refuse(pos, f"ожидается значение JSON, а не «{self.snippet(pos)}»")

    def container(self, pos: int, depth: int, node: object) -> None:
        if depth > MAX_DEPTH:
            raise self.refuse(pos, f"вложенность глубже {MAX_DEPTH} уровней")
        self.node_lines[id(node)] = self.line(pos)

    def object(self, pos: int, depth: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        self.container(pos, depth, result)
        pos = self.skip(pos + 1)
        if self.text.startswith("}", pos):
            return result, pos + 1
        while True:
            if not self.text.startswith('"', pos):
                raise self.refuse(pos, self.expected(pos, "имя поля в двойных кавычках", "}"))
            key_at = pos
            key, pos = self.string(pos)
            pos = self.skip(pos)
            if not self.text.startswith(":", pos):
                raise self.refuse(pos, f"после имени «{key}» ожидается «:»")
            self.path.append(key)
            here = (*self.path,)
            if key in result:
                self.duplicates.append(Duplicate(here, self.lines[here], self.line(key_at)))
            self.lines[here] = self.line(key_at)
            result[key], pos = self.value(self.skip(pos + 1), depth)
            self.path.pop()
            pos = self.skip(pos)
            if self.text.startswith("}", pos):
                return result, pos + 1
            if not self.text.startswith(",", pos):
                raise self.refuse(pos, self.expected(pos, "«,» или «}»"))
            pos = self.skip(pos + 1)

    def array(self, pos: int, depth: int) -> tuple[list[Any], int]:
        result: list[Any] = []
        self.container(pos, depth, result)
        pos = self.skip(pos + 1)
        if self.text.startswith("]", pos):
            return result, pos + 1
        while True:
            if self.text.startswith("]", pos):
                raise self.refuse(pos, "лишняя запятая перед «]»")
            self.path.append(len(result))
            self.lines[(*self.path,)] = self.line(pos)
            item, pos = self.value(pos, depth)
            result.append(item)
            self.path.pop()
            pos = self.skip(pos)
            if self.text.startswith("]", pos):
                return result, pos + 1
            if not self.text.startswith(",", pos):
                raise self.refuse(pos, self.expected(pos, "«,» или «]»"))
            pos = self.skip(pos + 1)

    def expected(self, pos: int, what: str, closing: str = "") -> str:
        if closing and self.text.startswith(closing, pos):
            return f"лишняя запятая перед «{closing}»"
        found = self.snippet(pos)
        return f"ожидается {what}, а не «{found}»" if found else f"файл оборвался: ожидается {what}"

    def string(self, pos: int) -> tuple[str, int]:
        try:
            value, end = json.decoder.scanstring(self.text, pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as err:
            message = next((ru for en, ru in _STRING_ERRORS if err.msg.startswith(en)), "строка записана неверно")
            raise self.refuse(err.pos, message) from None
        bad = _NOT_STORABLE.search(value)
        if bad:
            raise self.refuse(pos, f"в строке недопустимый символ U+{ord(bad.group()):04X}")
        return str(value), int(end)

    def number(self, match: re.Match[str]) -> int | float:
        token = match.group()
        digits = sum(char.isdigit() for char in token)
        if digits > MAX_NUMBER_DIGITS:
            raise self.refuse(match.start(), f"слишком длинное число: {digits} цифр, допустимо не больше "
                                             f"{MAX_NUMBER_DIGITS}")
        if match.group(1) is None and match.group(2) is None:
            return int(token)
        number = float(token)
        if math.isinf(number):
            raise self.refuse(match.start(), f"число {token} вне допустимого диапазона")
        return number
