"""What the outside sends, read in one place: ids and numbers from URLs, query strings and forms, and JSON
bodies. A malformed value is ``InputRejected`` (400, the house error page or a problem document) with a
clear message; an id that cannot exist is ``NotFound`` (404), decided without a query.

Why one place (issue 14's security probe, every finding a 500): ``str.isdigit()`` accepts «²», which
``int()`` then refuses; an id past its column's range (2147483648 for an Integer column, 2⁶³ for a
BigInteger one) reached PostgreSQL, which refused it («integer out of range»); a JSON body nested 100 000
deep raised RecursionError, and one with a 5 000-digit number ValueError (Python's int-string limit).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from flask import Flask, current_app, flash, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import BaseConverter, ValidationError

from engine.errors import EngineError, FormInvalid, NotFound
from web.i18n import gettext

INT32_MAX = 2**31 - 1  # Integer columns: template versions, cohort years, counters
INT64_MAX = 2**63 - 1  # BigInteger primary keys (engine/models.py `BigId`)
#: ASCII digits only (``\\d`` also matches «٣» and friends), and never more than a 64-bit number needs.
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_DIGITS = re.compile(r"-?[0-9]+")

#: JSON bodies: a task's form data or a questionnaire is a few kilobytes; the template editor's PUT of a
#: draft file (up to 5 MiB of XML, escaped) raises its own limit with ``large_json_body``.
JSON_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 32  # form data nests 2–3 levels; Python's own decoder gives up near 1 000
JSON_MAX_DIGITS = 30  # any id or count fits in 19

F = TypeVar("F", bound=Callable[..., Any])


class InputRejected(EngineError):
    """A request the server cannot read: a malformed number, a broken JSON body, text that cannot be stored."""


# --- numbers and ids ---------------------------------------------------------------------------------------


def parse_int(text: str, name: str, *, minimum: int, maximum: int) -> int:
    """``text`` as an integer in [minimum, maximum]; otherwise InputRejected naming the field ``name``."""
    if not _INTEGER.fullmatch(text.strip()):
        raise InputRejected(gettext("Поле «{name}» должно быть целым числом.", name=name))
    value = int(text.strip())
    if not minimum <= value <= maximum:
        raise InputRejected(gettext("Поле «{name}» должно быть от {minimum} до {maximum}.", name=name,
                                     minimum=minimum, maximum=maximum))
    return value


def optional_int(values: Mapping[str, str], name: str, *, minimum: int, maximum: int) -> int | None:
    """The integer parameter ``name`` of a query string or form, or None when it is absent or empty."""
    text = values.get(name)
    if text is None or not text.strip():
        return None
    return parse_int(text, name, minimum=minimum, maximum=maximum)


def parse_id(text: str, name: str = "id", *, maximum: int = INT64_MAX) -> int:
    """A row id: a malformed one is InputRejected (400); one no row can have (0, -1, past the column's
    range) is NotFound (404) without asking the database."""
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        raise InputRejected(gettext("Поле «{name}» должно быть целым числом.", name=name))
    if len(text) > len(str(maximum)) or not 1 <= int(text) <= maximum:
        raise NotFound(gettext("Запись не найдена."))
    return int(text)


def id_or_none(text: str, *, maximum: int = INT64_MAX) -> int | None:
    """A row id, or None for anything no row can have (where the caller has a quiet fallback)."""
    try:
        return parse_id(text, maximum=maximum)
    except EngineError:
        return None


class IdConverter(BaseConverter):
    """``<id:task_id>`` for BigInteger ids: 1 … 2⁶³−1 in ASCII digits, or the route does not match (404)."""

    regex = r"[0-9]{1,19}"
    maximum = INT64_MAX

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= self.maximum:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


class Int32Converter(IdConverter):
    """``<int32:version>`` for numbers kept in Integer columns: template versions, cohort years, 1 … 2³¹−1."""

    regex = r"[0-9]{1,10}"
    maximum = INT32_MAX


CONVERTERS: dict[str, type[BaseConverter]] = {"id": IdConverter, "int32": Int32Converter}


def form_date(name: str) -> date | None:
    """A date field of a posted page form (``ГГГГ-ММ-ДД``); empty is None, anything else a field error."""
    text = request.form.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormInvalid({name: [gettext("Дата вида ГГГГ-ММ-ДД.")]}) from None


def flash_errors(err: FormInvalid) -> None:
    """A page form's field errors as messages on the page it redirects to."""
    for messages in err.errors.values():
        for message in messages:
            flash(message, "error")


def converter_schema(converter: BaseConverter) -> dict[str, Any]:
    """The OpenAPI schema of a path parameter (flask-smorest's ``register_converter``)."""
    assert isinstance(converter, IdConverter)
    return {"type": "integer", "format": "int64" if converter.maximum == INT64_MAX else "int32",
            "minimum": 1, "maximum": converter.maximum}


# --- JSON bodies -------------------------------------------------------------------------------------------


class _JsonRefused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > JSON_MAX_DIGITS:
        raise _JsonRefused(gettext("Число в JSON длиннее {digits} цифр.", digits=JSON_MAX_DIGITS))
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonRefused(gettext("Число в JSON вне допустимого диапазона."))
    return value


def _constant(text: str) -> Any:
    raise _JsonRefused(gettext("{constant} — не значение JSON.", constant=text))


def _too_deep(value: Any) -> bool:
    """Checked without recursion, so the check itself cannot overflow the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > JSON_MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(data: bytes | str, *, max_bytes: int = JSON_MAX_BYTES) -> Any:
    """The one JSON reader for what clients send: UTF-8 only, at most ``max_bytes``, nested at most
    JSON_MAX_DEPTH deep, integers of at most JSON_MAX_DIGITS digits, no NaN or Infinity."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise InputRejected(gettext("Тело запроса больше {size} КБ.", size=max_bytes // 1024))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputRejected(gettext("Тело запроса не в кодировке UTF-8 (байт {position}).",
                                     position=err.start)) from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except _JsonRefused as err:
        raise InputRejected(err.message) from None
    except RecursionError:
        value = None
        deep = True
    except json.JSONDecodeError as err:
        raise InputRejected(gettext("Тело запроса — не JSON: {reason} (строка {line}, столбец {column}).",
                                     reason=err.msg, line=err.lineno, column=err.colno)) from None
    else:
        deep = _too_deep(value)
    if deep:
        raise InputRejected(gettext("JSON вложен глубже {depth} уровней.", depth=JSON_MAX_DEPTH))
    return value


def large_json_body(max_bytes: int) -> Callable[[F], F]:
    """Let one view read a JSON body larger than JSON_MAX_BYTES (the template editor's file saves)."""

    def mark(view: F) -> F:
        view.json_max_bytes = max_bytes  # type: ignore[attr-defined]
        return view

    return mark


def _body_limit() -> int:
    if not has_request_context() or request.endpoint is None:
        return JSON_MAX_BYTES
    view = current_app.view_functions.get(request.endpoint)
    return int(getattr(view, "json_max_bytes", JSON_MAX_BYTES))


class JsonProvider(DefaultJSONProvider):
    """Flask's ``request.get_json()`` reads through ``parse_json`` too: one reader, one set of limits."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s, max_bytes=_body_limit())


def init_app(app: Flask) -> None:
    """Before the blueprints: their rules are compiled with these converters."""
    app.url_map.converters.update(CONVERTERS)
    app.json = JsonProvider(app)


def posted_form_data() -> dict[str, Any]:
    """A task form's answers as the form viewer posts them (the JSON object in the ``data`` field): the task page
    and a draft's trial run read them alike; unreadable or not an object is a form error, not a 400."""
    unreadable = gettext("Данные формы не удалось прочитать; обновите страницу.")
    try:
        data = parse_json(request.form.get("data") or "{}")
    except InputRejected as err:
        raise FormInvalid({"_schema": [f"{unreadable} ({err.message})"]}) from None
    if not isinstance(data, dict):
        raise FormInvalid({"_schema": [unreadable]})
    return data
