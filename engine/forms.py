"""Task forms: form-js definitions and server-side validation of submitted data.

Every user task has a form stored as form-js JSON (``{"type": "default", "id": ..., "components": [...]}``).
``FormDefinition.from_json`` checks the definition once and reports every problem it finds;
``FormDefinition.validate`` checks submitted data with marshmallow schemas built from it (and cached),
returning cleaned data or raising ``FormInvalid`` with Russian messages per field.

Supported component types:

* inputs: ``textfield``, ``textarea``, ``number``, ``checkbox``, ``checklist``, ``radio``, ``select``,
  ``taglist``, ``datetime`` (``subtype`` ``date`` | ``time`` | ``datetime``, default ``date``) and our own
  ``filepicker`` (an attachment id or a list of them);
* layout, carrying no data: ``text``, ``html``, ``image``, ``spacer``, ``separator``, ``button``, ``iframe``;
* containers: ``group`` and ``dynamiclist``.

Data paths follow form-js 1.x: a ``key`` or a ``path`` is split on dots into nested objects; a group
without ``path`` is transparent, a group with ``path`` nests its fields under that object; a
``dynamiclist`` (unless ``isRepeating`` is explicitly false, then it is a group) stores a list of objects
under its mandatory ``path``, each item validated against the nested components.  Two fields may not
bind the same path, and a field's value may not also be an object of another field (form-js "closed"
paths); groups may share a path.  Path segments must look like identifiers (letters, digits, ``_``).

Error keys are the dotted paths of ``FormField.key`` (``school.director``); inside a dynamic list the
item index is added in brackets: ``measures[0].title``.  Errors of a whole object (e.g. a list item that
is not an object) go under the object's own path, and errors of the data as a whole under ``"_schema"``.

Interpretations we chose where form-js is silent or client-side only:

* a missing key is simply absent from the cleaned data (defaults are the client's business); ``None``,
  ``""`` (after stripping), ``[]`` and an unticked checkbox count as empty: a required field rejects them,
  an optional one skips its other rules for them;
* a required checkbox must be ticked, as in form-js;
* ``pattern`` uses ``search`` semantics like JavaScript's ``RegExp.test`` but Python regex syntax;
* a component with ``conditional.hide`` (or inside a container with one) may be hidden by a FEEL
  condition we do not evaluate, so its ``required`` is not enforced; its other rules still apply;
* numbers accept JSON numbers and numeric strings (a decimal comma too); NaN, infinities and
  absolute values above 10**15 are rejected; integral values come back as ``int``, others as ``float``;
* ``decimalDigits`` limits the digits after the point; ``increment`` and ``disallowPassedDates`` are not
  checked; ``valuesExpression`` is not supported, and ``valuesKey`` only on a ``select``: its options
  come with the data the engine gives the form (an engine action's choices, such as ``bind_curator``'s
  candidates), so here its value need only be one short string — whoever supplies the options checks
  the choice when the task is completed;
* date/time values come back as the submitted ISO string, stripped, once it parses.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeAlias, cast

from marshmallow import Schema, ValidationError, pre_load
from marshmallow import fields as mfields
from marshmallow.validate import Email

from engine.errors import FormDefinitionInvalid, FormInvalid
from engine.json_document import JsonDocument, JsonRefused, format_path, parse_json

INPUT_TYPES = frozenset(
    {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "taglist", "datetime",
     "filepicker"}
)
LAYOUT_TYPES = frozenset({"text", "html", "image", "spacer", "separator", "button", "iframe"})
CONTAINER_TYPES = frozenset({"group", "dynamiclist"})
SUPPORTED_TYPES = INPUT_TYPES | LAYOUT_TYPES | CONTAINER_TYPES
CHOICE_TYPES = frozenset({"radio", "select", "checklist", "taglist"})
DATETIME_SUBTYPES = ("date", "time", "datetime")
VALIDATION_TYPES = ("email", "phone")

#: Error key for problems of the submitted data as a whole (marshmallow's convention).
FORM_ERROR_KEY = "_schema"

MAX_TEXT = 100_000  # hard cap on any string, even without maxLength
MAX_SUPPLIED_CHOICE = 200  # an option value the engine supplied (a login, a code) is short
MAX_PATTERN_TEXT = 2_000
# A repeated group that itself repeats or alternates: (a+)+, (.*)*, (a|aa){2,} backtrack exponentially.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}|](?:[^()\\]|\\.)*\)\s*[+*{]")
MAX_ITEMS = 1_000  # hard cap on any list (checklist, files, dynamic list rows)
NUMBER_CAP = 10**15  # beyond this a JavaScript number loses integer precision
_MAX_NUMBER_TEXT = 1_000
_MAX_DATE_TEXT = 64
_MAX_DEPTH = 20

REQUIRED = "Обязательное поле."
UNKNOWN = "Неизвестное поле."
NOT_OBJECT = "Ожидается объект."
NOT_STRING = "Ожидается строка."
NOT_NUMBER = "Ожидается число."
NOT_BOOL = "Ожидается «да» или «нет»."
NOT_LIST = "Ожидается список."
TOO_BIG = "Слишком большое число."
TOO_MANY = f"Не больше {MAX_ITEMS} элементов."
CHOICE = "Выберите значение из списка."
EMAIL = "Некорректный адрес электронной почты."
PHONE = "Некорректный номер телефона."
PATTERN = "Значение не соответствует шаблону."
NOT_INTEGER = "Значение должно быть целым числом."
INVALID = "Некорректное значение."
FILES = "Ожидается идентификатор файла или список идентификаторов."
BAD_TEMPORAL = {
    "date": "Некорректная дата, ожидается ГГГГ-ММ-ДД.",
    "time": "Некорректное время.",
    "datetime": "Некорректные дата и время.",
}

_SEGMENT = re.compile(r"[^\W\d]\w*")
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_PHONE = re.compile(r"\+?\d{7,15}")
_PHONE_SEPARATORS = re.compile(r"[\s()\-]")
_TRUE = frozenset({"true", "1", "on"})
_FALSE = frozenset({"false", "0", "off"})
_MAX_FILE_ID = 2**63 - 1  # ids are bigint in the database

Rule: TypeAlias = Callable[[Any], object]


# --------------------------------------------------------------------------------------------- model


@dataclasses.dataclass(frozen=True)
class FieldRules:
    """The ``validate`` block of a component, normalised; ``None`` means "no such rule"."""

    min_length: int | None = None
    max_length: int | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    pattern: str | None = None
    validation_type: str | None = None
    decimal_digits: int | None = None


@dataclasses.dataclass(frozen=True)
class FormField:
    """One data-carrying component.

    ``key`` is the dotted data path from the form root (group paths included) or, for the ``children``
    of a ``dynamiclist`` field, from the list item.  ``conditional`` marks fields form-js may hide.
    """

    key: str
    type: str
    label: str
    required: bool
    description: str = ""
    component_id: str | None = None
    default: Any = dataclasses.field(default=None, hash=False)
    options: tuple[Any, ...] = ()
    values_key: str | None = None  # a select whose options the engine supplies under this data key
    subtype: str | None = None
    rules: FieldRules = FieldRules()
    conditional: bool = False
    children: tuple[FormField, ...] = ()

    @property
    def enforced_required(self) -> bool:
        """Whether the server insists on a value (a possibly hidden field cannot be insisted on)."""
        return self.required and not self.conditional


class FormDefinition:
    """A checked form-js definition; validates submitted data against it."""

    def __init__(self, raw: dict[str, Any], fields: list[FormField]) -> None:
        self._raw = raw
        form_id = raw.get("id")
        self.form_id: str | None = form_id if isinstance(form_id, str) else None
        self.fields = fields
        self._schemas: dict[bool, Schema] = {}

    @classmethod
    def from_json(cls, source: str | bytes | Mapping[str, Any]) -> FormDefinition:
        """Parse and check a definition; raise ``FormDefinitionInvalid`` listing every problem."""
        form, problems = cls.check(source)
        if form is None:
            raise FormDefinitionInvalid([problem.text for problem in problems])
        return form

    @classmethod
    def check(cls, source: str | bytes | Mapping[str, Any]) -> tuple[FormDefinition | None, list[FormProblem]]:
        """Parse and check a definition: the form, or every problem with its line (for JSON text) and field."""
        try:
            raw, document = _load_root(source)
        except _RootRefused as refused:
            return None, [refused.problem]
        parser = _Parser(document)
        found = parser.components(raw.get("components"), "components", _Level(_Scope()))
        if "id" in raw and not isinstance(raw["id"], str):
            parser.report("id", "идентификатор формы должен быть строкой")
        if parser.problems:
            return None, parser.problems
        return cls(raw, found), []

    def keys(self) -> set[str]:
        """Top-level data keys the form writes (first segment of each field's dotted key)."""
        return {spec.key.split(".", 1)[0] for spec in self.fields}

    def to_dict(self) -> dict[str, Any]:
        """The original JSON object (a copy, so callers cannot change the cached definition)."""
        return copy.deepcopy(self._raw)

    def validate(self, data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Return cleaned data or raise ``FormInvalid``; ``partial`` (drafts) skips required checks only."""
        try:
            cleaned = self._schema(enforce_required=not partial).load(data)
        except ValidationError as error:
            raise FormInvalid(_flatten(error.messages)) from None
        return dict(cleaned)

    def _schema(self, *, enforce_required: bool) -> Schema:
        # Building is the expensive part and forms are validated on every task completion.
        schema = self._schemas.get(enforce_required)
        if schema is None:
            schema = _build_schema(self.fields, enforce_required)
            self._schemas[enforce_required] = schema
        return schema

    def __repr__(self) -> str:
        return f"<FormDefinition {self.form_id!r}: {len(self.fields)} fields>"


# ------------------------------------------------------------------------------ definition parsing


@dataclasses.dataclass(frozen=True)
class FormProblem:
    """A problem of a form definition. ``text`` is the whole sentence (``components[2] «x»: …``); for a
    template check the same is split into where it is — the line of the component in the JSON text, and
    the field's key (or the component's JSON path when it has none) — and what is wrong there."""

    text: str
    line: int | None = None
    element: str | None = None
    message: str = ""


class _RootRefused(Exception):
    def __init__(self, problem: FormProblem) -> None:
        super().__init__(problem.text)
        self.problem = problem


def _refuse(message: str, line: int | None = None, element: str | None = None) -> _RootRefused:
    return _RootRefused(FormProblem(message, line, element, message))


def _load_root(source: str | bytes | Mapping[str, Any]) -> tuple[dict[str, Any], JsonDocument | None]:
    document = None
    if isinstance(source, Mapping):
        raw: Any = copy.deepcopy(dict(source))
    elif isinstance(source, str | bytes):
        try:
            text = source if isinstance(source, str) else source.decode(json.detect_encoding(source))
            document = parse_json(text)
        except UnicodeDecodeError:
            raise _refuse("описание формы не является корректным JSON: текст не в кодировке UTF-8") from None
        except JsonRefused as error:
            raise _refuse(f"описание формы не является корректным JSON: {error.message}", error.line,
                          format_path(error.path) or None) from None
        raw = document.value
    else:
        raise _refuse("описание формы должно быть JSON-текстом или объектом")
    if not isinstance(raw, dict):
        raise _refuse("описание формы должно быть JSON-объектом", document.line(()) if document else None)
    return raw, document


@dataclasses.dataclass
class _Scope:
    """Data paths claimed at one data level: the form root or the item of a dynamic list."""

    leaves: dict[tuple[str, ...], str] = dataclasses.field(default_factory=dict)
    objects: dict[tuple[str, ...], str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Level:
    """Where a component sits: its scope, the group path above it, whether an ancestor may hide it."""

    scope: _Scope
    prefix: tuple[str, ...] = ()
    hidden: bool = False
    depth: int = 0


def _describe(where: str, component: Mapping[str, Any]) -> str:
    name = component.get("key") or component.get("path")
    return f"{where} «{name}»" if isinstance(name, str) else where


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_hidden(component: Mapping[str, Any]) -> bool:
    conditional = component.get("conditional")
    return isinstance(conditional, Mapping) and bool(conditional.get("hide"))


class _Parser:
    """Walks the component tree, collecting every problem instead of stopping at the first."""

    def __init__(self, document: JsonDocument | None = None) -> None:
        self.problems: list[FormProblem] = []
        self.document = document
        self.owners: dict[str, Mapping[str, Any]] = {}  # "components[2] «x»" -> that component

    def report(self, where: str, message: str) -> None:
        owner = max((w for w in self.owners if where == w or where.startswith(f"{w}.")), key=len, default=None)
        if owner is None:  # the form itself: "components", "id"
            line = self.document.line((where,)) if self.document else None
            self.problems.append(FormProblem(f"{where}: {message}", line, where, message))
            return
        component = self.owners[owner]
        name = component.get("key") or component.get("path")
        element = name if isinstance(name, str) else owner
        inside = where[len(owner) + 1:]
        self.problems.append(FormProblem(f"{where}: {message}", self.document.line_of(component) if self.document
                                         else None, element, f"{inside}: {message}" if inside else message))

    def components(self, raw: Any, where: str, level: _Level) -> list[FormField]:
        if not isinstance(raw, list):
            self.report(where, "ожидается список компонентов")
            return []
        if level.depth > _MAX_DEPTH:
            self.report(where, f"вложенность глубже {_MAX_DEPTH} уровней")
            return []
        found: list[FormField] = []
        for index, component in enumerate(raw):
            found.extend(self.component(component, f"{where}[{index}]", level))
        return found

    def component(self, raw: Any, where: str, level: _Level) -> list[FormField]:
        if not isinstance(raw, dict):
            self.report(where, "компонент должен быть объектом")
            return []
        where = _describe(where, raw)
        self.owners[where] = raw
        kind = self.kind(raw, where)
        if kind is None or kind in LAYOUT_TYPES:
            return []
        level = dataclasses.replace(level, hidden=level.hidden or _is_hidden(raw))
        if kind == "group" or (kind == "dynamiclist" and raw.get("isRepeating") is False):
            return self.group(raw, where, level)
        if kind == "dynamiclist":
            return self.dynamic_list(raw, where, level)
        return self.input_field(raw, kind, where, level)

    def kind(self, component: Mapping[str, Any], where: str) -> str | None:
        kind = component.get("type")
        if not isinstance(kind, str) or not kind:
            self.report(where, "не указан type")
            return None
        if kind not in SUPPORTED_TYPES:
            supported = ", ".join(sorted(SUPPORTED_TYPES))
            self.report(where, f"неподдерживаемый тип «{kind}»; поддерживаются: {supported}")
            return None
        return kind

    def group(self, component: Mapping[str, Any], where: str, level: _Level) -> list[FormField]:
        if component.get("path") not in (None, ""):
            path = self.bind(level, component.get("path"), where, "path", closed=False)
            # On a bad path keep checking the children in place, so their problems are reported too.
            level = dataclasses.replace(level, prefix=path or level.prefix)
        inner = dataclasses.replace(level, depth=level.depth + 1)
        return self.components(component.get("components", []), f"{where}.components", inner)

    def dynamic_list(self, component: Mapping[str, Any], where: str, level: _Level) -> list[FormField]:
        path = self.bind(level, component.get("path"), where, "path", closed=True)
        # Each list item is a fresh data level: its paths are relative to the item.
        item = _Level(_Scope(), hidden=level.hidden, depth=level.depth + 1)
        children = self.components(component.get("components", []), f"{where}.components", item)
        if path is None:
            return []
        return [
            FormField(
                key=".".join(path), type="dynamiclist", label=_text(component.get("label")), required=False,
                description=_text(component.get("description")), component_id=_component_id(component),
                conditional=level.hidden, children=tuple(children),
            )
        ]

    def input_field(
        self, component: Mapping[str, Any], kind: str, where: str, level: _Level
    ) -> list[FormField]:
        path = self.bind(level, component.get("key"), where, "key", closed=True)
        required, rules = self.rules(component, where)
        values_key = self.values_key(component, kind, where)
        options = () if values_key else self.options(component, kind, where)
        subtype = self.subtype(component, kind, where)
        if path is None:
            return []
        return [
            FormField(
                key=".".join(path), type=kind, label=_label(component), required=required,
                description=_text(component.get("description")), component_id=_component_id(component),
                default=component.get("defaultValue"), options=options, values_key=values_key, subtype=subtype,
                rules=rules, conditional=level.hidden,
            )
        ]

    def segments(self, value: Any, where: str, name: str) -> tuple[str, ...] | None:
        if not isinstance(value, str) or not value:
            self.report(where, f"не указан {name}")
            return None
        parts = tuple(value.split("."))
        if not all(_SEGMENT.fullmatch(part) for part in parts):
            self.report(where, f"некорректный {name} «{value}»: нужны имена из букв, цифр и _, через точку")
            return None
        return parts

    # -- data paths (form-js PathRegistry: field keys and dynamic lists are closed, group paths open)

    def bind(
        self, level: _Level, value: Any, where: str, name: str, *, closed: bool
    ) -> tuple[str, ...] | None:
        """Resolve a key or path at this level and claim it; ``None`` if malformed or already taken."""
        segments = self.segments(value, where, name)
        if segments is None:
            return None
        path = level.prefix + segments
        claim = self.claim_leaf if closed else self.claim_object
        return path if claim(level.scope, path, where) else None

    def claim_leaf(self, scope: _Scope, path: tuple[str, ...], where: str) -> bool:
        dotted = ".".join(path)
        if path in scope.leaves:
            self.report(where, f"ключ «{dotted}» повторяется: он уже есть у {scope.leaves[path]}")
            return False
        if path in scope.objects:
            self.report(where, f"ключ «{dotted}» уже занят объектом группы {scope.objects[path]}")
            return False
        if not self.claim_object(scope, path[:-1], where):
            return False
        scope.leaves[path] = where
        return True

    def claim_object(self, scope: _Scope, path: tuple[str, ...], where: str) -> bool:
        prefixes = [path[:end] for end in range(1, len(path) + 1)]
        for prefix in prefixes:
            if prefix in scope.leaves:
                owner = scope.leaves[prefix]
                self.report(where, f"путь данных «{'.'.join(prefix)}» уже занят полем {owner}")
                return False
        for prefix in prefixes:
            scope.objects.setdefault(prefix, where)
        return True

    # -- per-component settings

    def rules(self, component: Mapping[str, Any], where: str) -> tuple[bool, FieldRules]:
        block = component.get("validate") or {}
        if not isinstance(block, dict):
            self.report(where, "validate должен быть объектом")
            block = {}
        rules = FieldRules(
            min_length=self.count(block, "minLength", where),
            max_length=self.count(block, "maxLength", where),
            minimum=self.limit(block, "min", where),
            maximum=self.limit(block, "max", where),
            pattern=self.pattern(block, where),
            validation_type=self.validation_type(block, where),
            decimal_digits=self.count(component, "decimalDigits", where),
        )
        self.check_order(rules, where)
        return self.required(block, where), rules

    def required(self, block: Mapping[str, Any], where: str) -> bool:
        value = block.get("required", False)
        if not isinstance(value, bool):
            self.report(where, "validate.required должен быть true или false")
            return False
        return value

    def count(self, source: Mapping[str, Any], name: str, where: str) -> int | None:
        if source.get(name) is None:
            return None
        number = _to_decimal(source[name])
        if number is None or not 0 <= number <= NUMBER_CAP or number != number.to_integral_value():
            self.report(where, f"{name} должен быть целым неотрицательным числом, а не {source[name]!r}")
            return None
        return int(number)

    def limit(self, source: Mapping[str, Any], name: str, where: str) -> int | float | None:
        if source.get(name) is None:
            return None
        number = _to_decimal(source[name])
        if number is None or abs(number) > NUMBER_CAP:
            self.report(where, f"{name} должен быть числом не больше 10^15 по модулю, а не {source[name]!r}")
            return None
        return _plain(number)

    def pattern(self, block: Mapping[str, Any], where: str) -> str | None:
        pattern = block.get("pattern")
        if pattern is None or pattern == "":
            return None
        if not isinstance(pattern, str):
            self.report(where, "pattern должен быть строкой")
            return None
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as error:
            self.report(where, f"некорректное регулярное выражение pattern «{pattern}»: {error}")
            return None
        if _NESTED_QUANTIFIER.search(pattern):
            # (a+)+ and the like backtrack exponentially: a template must not be able to stall the server.
            self.report(where, f"шаблон pattern «{pattern}» содержит вложенные повторения (например (a+)+)")
            return None
        return pattern

    def validation_type(self, block: Mapping[str, Any], where: str) -> str | None:
        value = block.get("validationType")
        if value is None or value == "":
            return None
        if value not in VALIDATION_TYPES:
            self.report(where, f"неизвестный validationType {value!r}; поддерживаются: email, phone")
            return None
        return cast(str, value)

    def check_order(self, rules: FieldRules, where: str) -> None:
        shortest, longest = rules.min_length, rules.max_length
        if shortest is not None and longest is not None and shortest > longest:
            self.report(where, f"minLength ({shortest}) больше maxLength ({longest})")
        lowest, highest = rules.minimum, rules.maximum
        if lowest is not None and highest is not None and lowest > highest:
            self.report(where, f"min ({lowest}) больше max ({highest})")

    def values_key(self, component: Mapping[str, Any], kind: str, where: str) -> str | None:
        """A select's ``valuesKey`` without static ``values``: options the engine supplies with the data."""
        key = component.get("valuesKey")
        if kind != "select" or key is None or component.get("values"):
            return None
        if not isinstance(key, str) or not _SEGMENT.fullmatch(key):
            self.report(where, f"некорректный valuesKey {key!r}")
            return None
        return key

    def options(self, component: Mapping[str, Any], kind: str, where: str) -> tuple[Any, ...]:
        if kind not in CHOICE_TYPES:
            return ()
        values = component.get("values")
        if not isinstance(values, list) or not values:
            dynamic = "valuesKey" in component or "valuesExpression" in component
            hint = " (valuesKey и valuesExpression не поддерживаются)" if dynamic else ""
            self.report(where, f"нет списка вариантов values{hint}")
            return ()
        return tuple(self.option(entry, f"values[{index}]", where) for index, entry in enumerate(values))

    def option(self, entry: Any, name: str, where: str) -> Any:
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str | int | float):
            self.report(where, f"{name}: нужен объект с полями label и value (строка или число)")
        return value

    def subtype(self, component: Mapping[str, Any], kind: str, where: str) -> str | None:
        if kind != "datetime":
            return None
        subtype = component.get("subtype", "date")
        if subtype not in DATETIME_SUBTYPES:
            supported = ", ".join(DATETIME_SUBTYPES)
            self.report(where, f"неизвестный subtype {subtype!r}; поддерживаются: {supported}")
            return None
        return cast(str, subtype)


def _component_id(component: Mapping[str, Any]) -> str | None:
    value = component.get("id")
    return value if isinstance(value, str) else None


def _label(component: Mapping[str, Any]) -> str:
    # A datetime component often has only dateLabel/timeLabel.
    for name in ("label", "dateLabel", "timeLabel"):
        if isinstance(component.get(name), str) and component[name]:
            return cast(str, component[name])
    return ""


# ------------------------------------------------------------------------------- value helpers


def _to_decimal(value: Any) -> Decimal | None:
    """A finite number from a JSON number or numeric string, else ``None`` (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        # Clamp: converting a giant int is slow, and anything past the cap is rejected anyway.
        return Decimal(max(-NUMBER_CAP - 1, min(value, NUMBER_CAP + 1)))
    if isinstance(value, float):
        # repr gives the shortest round-trip text: 0.1 stays 0.1, not its binary expansion.
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT:
        text = value.strip().replace(",", ".")
        return Decimal(text) if _NUMBER_TEXT.fullmatch(text) else None
    return None


def _plain(number: Decimal) -> int | float:
    """``int`` for integral values, else ``float``; callers keep ``number`` within the cap."""
    return int(number) if number == number.to_integral_value() else float(number)


def _decimals(value: int | float) -> int:
    if isinstance(value, int):
        return 0
    exponent = Decimal(repr(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _format_number(value: int | float) -> str:
    return str(value).replace(".", ",")


def _plural(count: int, one: str, many: str) -> str:
    """Genitive after «не больше/не меньше»: 1, 21, 101 take the singular, the rest the plural."""
    return one if count % 10 == 1 and count % 100 != 11 else many


def _chars(count: int) -> str:
    return f"{count} {_plural(count, 'символа', 'символов')}"


def _check(test: Callable[[Any], bool], message: str) -> Rule:
    def rule(value: Any) -> None:
        if not test(value):
            raise ValidationError(message)

    return rule


def _is_phone(value: str) -> bool:
    return _PHONE.fullmatch(_PHONE_SEPARATORS.sub("", value)) is not None


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValidationError(NOT_LIST)
    if len(value) > MAX_ITEMS:
        raise ValidationError(TOO_MANY)
    return list(value)


def _option_index(options: Sequence[Any], value: Any) -> int | None:
    if isinstance(value, str):
        value = value.strip()
    for index, option in enumerate(options):
        # Same type too: True must not match an option 1, nor "1" an option 1.
        if type(option) is type(value) and option == value:
            return index
    return None


def _is_blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _parses(parser: Callable[[str], object], text: str) -> bool:
    try:
        parser(text)
    except ValueError:
        return False
    return True


def _is_temporal(subtype: str, text: str) -> bool:
    if subtype == "date":
        return _DATE_TEXT.fullmatch(text) is not None and _parses(date.fromisoformat, text)
    return _parses(time.fromisoformat if subtype == "time" else datetime.fromisoformat, text)


def _is_file_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _MAX_FILE_ID


# ------------------------------------------------------------------------------ marshmallow fields


class _Input(mfields.Field[Any]):
    """One input component: converts the raw value, then checks emptiness and the component's rules."""

    default_error_messages = {"required": REQUIRED, "null": REQUIRED, "validator_failed": INVALID}

    def __init__(self, spec: FormField, *, enforce_required: bool) -> None:
        self.spec = spec
        self.must_fill = enforce_required and spec.enforced_required
        super().__init__(required=self.must_fill, allow_none=not self.must_fill, validate=self.rules())

    def rules(self) -> list[Rule]:
        return []

    def is_empty(self, value: Any) -> bool:
        return value is None or value == "" or value == []

    def _validate(self, value: Any) -> None:
        # Rules such as minLength or pattern do not apply to an empty optional value (as in form-js).
        if not self.is_empty(value):
            super()._validate(value)
        elif self.must_fill:
            raise self.make_error("required")


class _Text(_Input):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise ValidationError(NOT_STRING)
        if len(value) > MAX_TEXT:
            raise ValidationError(f"Не больше {_chars(MAX_TEXT)}.")
        return value.strip()

    def rules(self) -> list[Rule]:
        rules = self.spec.rules
        checks: list[Rule] = []
        if rules.min_length is not None:
            checks.append(_min_chars(rules.min_length))
        if rules.max_length is not None:
            checks.append(_max_chars(rules.max_length))
        if rules.pattern is not None:
            checks.append(_matches(rules.pattern))
        if rules.validation_type is not None:
            checks.append(_FORMAT_RULES[rules.validation_type])
        return checks


def _min_chars(limit: int) -> Rule:
    return _check(lambda value: len(value) >= limit, f"Не меньше {_chars(limit)}.")


def _max_chars(limit: int) -> Rule:
    return _check(lambda value: len(value) <= limit, f"Не больше {_chars(limit)}.")


def _matches(pattern: str) -> Rule:
    compiled = re.compile(pattern)
    # Pattern-checked fields are short (names, numbers, links); a bound keeps any regex cheap.
    return _check(lambda value: len(value) <= MAX_PATTERN_TEXT and compiled.search(value) is not None, PATTERN)


_FORMAT_RULES: dict[str, Rule] = {"email": Email(error=EMAIL), "phone": _check(_is_phone, PHONE)}


class _Number(_Input):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int | float | None:
        if _is_blank(value):
            return None  # a cleared number input
        number = _to_decimal(value)
        if number is None:
            raise ValidationError(NOT_NUMBER)
        if abs(number) > NUMBER_CAP:
            raise ValidationError(TOO_BIG)
        return _plain(number)

    def rules(self) -> list[Rule]:
        rules = self.spec.rules
        checks: list[Rule] = []
        if rules.minimum is not None:
            checks.append(_not_below(rules.minimum))
        if rules.maximum is not None:
            checks.append(_not_above(rules.maximum))
        if rules.decimal_digits is not None:
            checks.append(_max_decimals(rules.decimal_digits))
        return checks


def _not_below(limit: int | float) -> Rule:
    return _check(lambda value: value >= limit, f"Значение должно быть не меньше {_format_number(limit)}.")


def _not_above(limit: int | float) -> Rule:
    return _check(lambda value: value <= limit, f"Значение должно быть не больше {_format_number(limit)}.")


def _max_decimals(digits: int) -> Rule:
    signs = _plural(digits, "знака", "знаков")
    message = NOT_INTEGER if digits == 0 else f"Не больше {digits} {signs} после запятой."
    return _check(lambda value: _decimals(value) <= digits, message)


class _Checkbox(_Input):
    def is_empty(self, value: Any) -> bool:
        return value is not True  # form-js: a required checkbox must be ticked

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool | None:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and len(value) <= 10:
            text = value.strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            if not text:
                return None
        raise ValidationError(NOT_BOOL)


class _Choice(_Input):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        index = _option_index(self.spec.options, value)
        if index is not None:
            return self.spec.options[index]
        if _is_blank(value):
            return None  # nothing selected
        raise ValidationError(CHOICE)


class _SuppliedChoice(_Input):
    """A select with ``valuesKey``: one of the options the engine supplied, which it checks itself."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        if _is_blank(value):
            return None
        if isinstance(value, str) and len(value) <= MAX_SUPPLIED_CHOICE:
            return value.strip()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return value
        raise ValidationError(CHOICE)


class _Multi(_Input):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Any]:
        chosen: dict[int, None] = {}  # ordered set of option indexes: repeats collapse
        for item in _as_list(value):
            index = _option_index(self.spec.options, item)
            if index is None:
                raise ValidationError(CHOICE)
            chosen[index] = None
        return [self.spec.options[index] for index in chosen]


class _Temporal(_Input):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str | None:
        subtype = self.spec.subtype or "date"
        if not isinstance(value, str) or len(value) > _MAX_DATE_TEXT:
            raise ValidationError(BAD_TEMPORAL[subtype])
        text = value.strip()
        if text and not _is_temporal(subtype, text):
            raise ValidationError(BAD_TEMPORAL[subtype])
        return text or None


class _Files(_Input):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int | list[int]:
        if _is_file_id(value):
            return cast(int, value)
        if not isinstance(value, list | tuple):
            raise ValidationError(FILES)
        items = _as_list(value)
        if not all(_is_file_id(item) for item in items):
            raise ValidationError(FILES)
        return items


class _Rows(mfields.List[Any]):
    """A dynamic list: a list of objects, each loaded by the item schema."""

    default_error_messages = {"invalid": NOT_LIST, "null": NOT_LIST}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Any]:
        _as_list(value)  # reject non-lists and huge lists before touching the items
        return super()._deserialize(value, attr, data, **kwargs)


_FIELD_CLASSES: dict[str, type[_Input]] = {
    "textfield": _Text,
    "textarea": _Text,
    "number": _Number,
    "checkbox": _Checkbox,
    "radio": _Choice,
    "select": _Choice,
    "checklist": _Multi,
    "taglist": _Multi,
    "datetime": _Temporal,
    "filepicker": _Files,
}


# ----------------------------------------------------------------------------------- schemas


class _FormSchema(Schema):
    """Schema of one data level; unknown keys are errors."""

    error_messages = {"unknown": UNKNOWN, "type": NOT_OBJECT}
    #: Nested objects (group paths) that hold enforced required fields.
    fill_on_load: tuple[str, ...] = ()

    @pre_load
    def _fill_missing_objects(self, data: Any, **kwargs: Any) -> Any:
        # Without this a missing group object would silently skip the required fields inside it.
        if not self.fill_on_load or not isinstance(data, Mapping):
            return data
        filled = dict(data)
        for name in self.fill_on_load:
            if filled.get(name) is None:
                filled[name] = {}
        return filled


_Tree: TypeAlias = "dict[str, FormField | _Tree]"


def _build_schema(specs: Sequence[FormField], enforce_required: bool) -> Schema:
    return _level_schema(_tree(specs), enforce_required)


def _tree(specs: Sequence[FormField]) -> _Tree:
    """Nest fields by their dotted keys; the parser has ruled out conflicting paths."""
    tree: _Tree = {}
    for spec in specs:
        *parents, name = spec.key.split(".")
        node = tree
        for part in parents:
            node = cast("_Tree", node.setdefault(part, {}))
        node[name] = spec
    return tree


def _level_schema(tree: _Tree, enforce_required: bool) -> Schema:
    declared = {name: _schema_field(node, enforce_required) for name, node in tree.items()}
    schema_class = cast("type[_FormSchema]", _FormSchema.from_dict(declared, name="FormLevelSchema"))
    if enforce_required:
        schema_class.fill_on_load = tuple(
            name for name, node in tree.items() if isinstance(node, dict) and _has_required(node)
        )
    return schema_class()


def _has_required(tree: _Tree) -> bool:
    return any(
        _has_required(node) if isinstance(node, dict) else node.enforced_required for node in tree.values()
    )


def _schema_field(node: FormField | _Tree, enforce_required: bool) -> mfields.Field[Any]:
    if isinstance(node, dict):
        return mfields.Nested(_level_schema(node, enforce_required), allow_none=True)
    if node.type == "dynamiclist":
        item = _build_schema(node.children, enforce_required)
        return _Rows(mfields.Nested(item, error_messages={"null": NOT_OBJECT}), allow_none=True)
    kind = _SuppliedChoice if node.values_key else _FIELD_CLASSES[node.type]
    return kind(node, enforce_required=enforce_required)


# ------------------------------------------------------------------------------------ errors


def _flatten(messages: Any) -> dict[str, list[str]]:
    """Marshmallow's nested error dicts as ``{"measures[0].title": [...]}``."""
    flat: dict[str, list[str]] = {}
    _collect(messages, "", flat)
    return flat


def _collect(node: Any, path: str, flat: dict[str, list[str]]) -> None:
    if isinstance(node, dict):
        for key, sub in node.items():
            _collect(sub, _child_path(path, key), flat)
    elif isinstance(node, list):
        for item in node:
            _collect(item, path, flat)
    else:
        flat.setdefault(path or FORM_ERROR_KEY, []).append(str(node))


def _child_path(path: str, key: Any) -> str:
    if key == FORM_ERROR_KEY:
        return path  # an error of the object itself
    if isinstance(key, int) and not isinstance(key, bool) and path:
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def stored_date(value: Any) -> date | None:
    """A date field's value as the process data keeps it (an ISO string, maybe with a time) or a date; None
    for anything else (an empty or malformed value)."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
