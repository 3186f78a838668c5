"""Safe evaluation of template expressions and scripts.

Gateway conditions, timer expressions, DMN cells and script tasks come from templates uploaded by admins,
and those must never be able to run code on the server.  So the text is never handed to Python's
``eval``/``exec``: it is parsed with :mod:`ast`, every node is checked against a whitelist, and the tree
is interpreted here.  Names resolve only from the task data, calls reach only :data:`SAFE_FUNCTIONS` and
a short list of methods of plain data types, and everything that could build a huge number, string or
loop is bounded, because exhausting the server is an attack too.
"""

from __future__ import annotations

import ast
import contextlib
import operator
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache, partial, wraps
from itertools import islice
from types import MappingProxyType
from typing import Any, ParamSpec, TypeVar, cast

from engine import caches
from engine.errors import EngineError, ExpressionFailed, ExpressionRejected

MAX_SOURCE_CHARS = 10_000
MAX_AST_DEPTH = 100
MAX_STEPS = 1_000_000  # tree nodes visited during one evaluation
MAX_WORK = 2_000_000  # elements and characters built or scanned during one evaluation
MAX_ITERATIONS = 100_000  # turns of all comprehension loops of one evaluation
MAX_SEQUENCE = 100_000  # elements of a range or of a repeated string/list
MAX_INT_BITS = 13_300  # about 4000 decimal digits, under Python's 4300-digit str() limit
MAX_INT_DIGITS = 4_000
MAX_EXPONENT = 1_000
MAX_SHIFT = 10_000
MAX_FORMAT_NUMBER = 1_000  # width or precision inside an f-string format spec
MAX_ROUND_DIGITS = 100

_P = ParamSpec("_P")
_R = TypeVar("_R")
_A = TypeVar("_A")


# --- public API -------------------------------------------------------------------------------------


def _guarded(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Callers may rely on seeing only ExpressionRejected and ExpressionFailed."""

    @wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(*args, **kwargs)
        except EngineError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    return wrapper


@_guarded
def check_expression(source: str) -> None:
    """Reject, with a reason, an expression that uses anything outside the whitelist."""
    _checked_expression(_text(source))


@_guarded
def check_script(source: str) -> None:
    """Reject a script that is not made of assignments, ``if`` blocks and ``pass``."""
    _checked_script(_text(source))


@_guarded
def evaluate(source: str, names: Mapping[str, Any]) -> Any:
    """Check the expression, then compute it with ``names`` as its only variables."""
    tree = _checked_expression(_text(source))
    result = _Interpreter(names).compute(tree.body)
    _require_plain(result)
    return result


@_guarded
def execute(source: str, names: dict[str, Any]) -> None:
    """Check the script, then run it; assignments write into ``names``.

    On failure ``names`` keeps whatever the statements before the failing one wrote.
    """
    tree = _checked_script(_text(source))
    _ScriptRunner(names).run_block(tree.body)


def validate_syntax(source: str) -> None:
    """Raise the built-in SyntaxError when the text is not an expression, then apply the whitelist.

    SpiffWorkflow's DMN engine catches SyntaxError to learn that a cell like ``> 5`` needs a left side.
    """
    tree = _parse_expression(_text(source))
    _guarded(_check_expression_tree)(tree)


@_guarded
def expression_tree(source: str) -> ast.Expression:
    """The checked syntax tree of an expression, for reading it without running it (which names it uses);
    refuses what ``check_expression`` refuses. The tree is shared: do not change it."""
    return _checked_expression(_text(source))


@_guarded
def script_tree(source: str) -> ast.Module:
    """The checked syntax tree of a script; see ``expression_tree``."""
    return _checked_script(_text(source))


# --- parsing and the static whitelist ---------------------------------------------------------------


def _text(source: object) -> str:
    if not isinstance(source, str):
        raise ExpressionRejected(f"ожидался текст выражения, а не значение типа «{type(source).__name__}»")
    if len(source) > MAX_SOURCE_CHARS:
        raise ExpressionRejected(f"слишком длинный текст: {len(source)} символов, предел {MAX_SOURCE_CHARS}")
    return source


def _parse(source: str, mode: str) -> ast.AST:
    """Raises only SyntaxError or ExpressionRejected: the parser itself can be attacked."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        if digits := _too_many_digits(str(exc.msg)):
            raise ExpressionRejected(f"число из {digits} цифр слишком велико (строка {exc.lineno or 1}): "
                                     f"в выражениях — не больше {MAX_INT_DIGITS} цифр") from None
        raise
    except (RecursionError, MemoryError) as exc:
        raise ExpressionRejected("выражение слишком сложное для разбора") from exc
    except Exception as exc:
        raise SyntaxError(str(exc)) from exc
    _check_depth(tree)
    return tree


def _parse_expression(source: str) -> ast.Expression:
    # BPMN XML wraps conditions in newlines and indentation, which Python's own eval() tolerates too.
    return cast(ast.Expression, _parse(source.strip(), "eval"))


@lru_cache(maxsize=512)
def _checked_expression(source: str) -> ast.Expression:
    tree = _parse_expression(source)
    _check_expression_tree(tree)
    return tree


@lru_cache(maxsize=512)
def _checked_script(source: str) -> ast.Module:
    tree = cast(ast.Module, _parse(source, "exec"))
    _Checker().statements(tree.body)
    return tree


caches.register_lru("checked_expressions", _checked_expression)
caches.register_lru("checked_scripts", _checked_script)


def _too_many_digits(message: str) -> str | None:
    """How many digits a number had, from Python's own message about its conversion limit (which speaks to
    programmers: «use sys.set_int_max_str_digits()»); None for any other message."""
    found = _INT_LIMIT_MESSAGE.search(message)
    return found[1] if found else None


_INT_LIMIT_MESSAGE = re.compile(r"integer string conversion: value has (\d+) digits")


def _check_expression_tree(tree: ast.Expression) -> None:
    _Checker().expression(tree.body)


def _check_depth(tree: ast.AST) -> None:
    # Iterative, so that a hostile tree cannot exhaust the Python stack before being refused.
    pending: list[tuple[ast.AST, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_AST_DEPTH:
            raise ExpressionRejected(f"слишком глубокая вложенность: больше {MAX_AST_DEPTH} уровней")
        pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


_FORBIDDEN: Mapping[type[ast.AST], str] = {
    ast.Lambda: "lambda-функции запрещены",
    ast.NamedExpr: "оператор «:=» запрещён",
    ast.Await: "await запрещён",
    ast.Yield: "yield запрещён",
    ast.YieldFrom: "yield запрещён",
    ast.Starred: "распаковка «*» разрешена только в аргументах вызова",
    ast.MatMult: "оператор «@» не разрешён",
    ast.Import: "импорт запрещён",
    ast.ImportFrom: "импорт запрещён",
    ast.FunctionDef: "объявлять функции запрещено",
    ast.AsyncFunctionDef: "объявлять функции запрещено",
    ast.ClassDef: "объявлять классы запрещено",
    ast.For: "циклы запрещены",
    ast.AsyncFor: "циклы запрещены",
    ast.While: "циклы запрещены",
    ast.With: "конструкция «with» запрещена",
    ast.AsyncWith: "конструкция «with» запрещена",
    ast.Try: "конструкция «try» запрещена",
    ast.TryStar: "конструкция «try» запрещена",
    ast.Raise: "«raise» запрещён",
    ast.Assert: "«assert» запрещён",
    ast.Delete: "«del» запрещён",
    ast.Global: "«global» запрещён",
    ast.Nonlocal: "«nonlocal» запрещён",
    ast.Return: "«return» запрещён",
    ast.Break: "«break» запрещён",
    ast.Continue: "«continue» запрещён",
    ast.Match: "конструкция «match» запрещена",
    ast.AnnAssign: "присваивание с аннотацией типа не разрешено",
    ast.Expr: "выражение без присваивания ничего не делает: пишите «имя = выражение»",
}

_LITERAL_TYPES = frozenset({int, float, str, bool, type(None)})
_PERCENT_FORMATTING = "форматирование строк через «%» не разрешено, используйте f-строки"


def _forbidden(node: ast.AST) -> ExpressionRejected:
    message = _FORBIDDEN.get(type(node), f"конструкция «{type(node).__name__}» не разрешена")
    return ExpressionRejected(message)


def _check_public_name(name: str) -> None:
    if name.startswith("_"):
        raise ExpressionRejected(f"запрещено служебное имя «{name}»")


def _check_public_attribute(name: str) -> None:
    if name.startswith("_"):
        raise ExpressionRejected(f"запрещён доступ к служебному атрибуту «{name}»")


class _Checker:
    """Walks a tree in reading order and rejects the first construct outside the whitelist."""

    def expression(self, node: ast.AST) -> None:
        rule = _EXPRESSION_RULES.get(type(node))
        if rule is None:
            raise _forbidden(node)
        rule(self, node)

    def children(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self.expression(child)

    def leaf(self, node: ast.AST) -> None:
        """Operators and load/store markers carry no code."""

    def constant(self, node: ast.Constant) -> None:
        if type(node.value) not in _LITERAL_TYPES:
            raise ExpressionRejected(f"литерал типа «{type(node.value).__name__}» не разрешён")
        _check_number(node.value)

    def name(self, node: ast.Name) -> None:
        _check_public_name(node.id)

    def attribute(self, node: ast.Attribute) -> None:
        self.expression(node.value)
        _check_public_attribute(node.attr)

    def bin_op(self, node: ast.BinOp) -> None:
        left = node.left
        literal_text = isinstance(left, ast.Constant) and isinstance(left.value, str)
        if isinstance(node.op, ast.Mod) and (literal_text or isinstance(left, ast.JoinedStr)):
            raise ExpressionRejected(_PERCENT_FORMATTING)
        self.children(node)
        if _is_constant_arithmetic(node):
            # `9**9**9` needs no data to be refused: compute it now, under the same limits, so the
            # template is rejected at validation rather than when a school reaches the gateway.
            with contextlib.suppress(ExpressionFailed):  # 1/0 and the like: a bug, not a danger
                _Interpreter({}).compute(node)

    def dict_display(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            raise ExpressionRejected("распаковка «**» в словаре не разрешена")
        self.children(node)

    def call(self, node: ast.Call) -> None:
        self.callee(node.func)
        for argument in node.args:
            self.expression(argument.value if isinstance(argument, ast.Starred) else argument)
        for keyword in node.keywords:
            _check_keyword(node.func, keyword)
            self.expression(keyword.value)

    def callee(self, func: ast.expr) -> None:
        if isinstance(func, ast.Name):
            _check_public_name(func.id)
            if func.id not in SAFE_FUNCTIONS:
                raise ExpressionRejected(f"вызов функции «{func.id}» не разрешён")
        elif isinstance(func, ast.Attribute):
            self.attribute(func)
            if func.attr not in _METHOD_NAMES:
                raise ExpressionRejected(f"вызов метода «{func.attr}» не разрешён")
        else:
            self.expression(func)
            raise ExpressionRejected("вызывать можно только разрешённые функции и методы по имени")

    def comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            raise ExpressionRejected("асинхронные генераторы запрещены")
        _check_loop_target(node.target)
        self.children(node)

    def formatted_value(self, node: ast.FormattedValue) -> None:
        self.expression(node.value)
        if node.format_spec is not None:
            _check_format_spec(node.format_spec)

    def statements(self, nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If):
                _on_line(node, self.expression, node.test)
                self.statements(node.body)
                self.statements(node.orelse)
            else:
                _on_line(node, self.simple_statement, node)

    def simple_statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Pass):
            return
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.target(target)
        elif isinstance(node, ast.AugAssign):
            self.target(node.target)
            self.expression(node.op)
        else:
            raise _forbidden(node)
        self.expression(node.value)

    def target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            _check_public_name(node.id)
        elif isinstance(node, ast.Subscript):
            self.expression(node.value)
            self.expression(node.slice)
        else:
            raise ExpressionRejected("присваивать можно только переменной или элементу: «x = …», «x[k] = …»")


_Rule = Callable[[_Checker, Any], None]

_LEAVES = (
    ast.Load, ast.Store, ast.And, ast.Or, ast.Not, ast.UAdd, ast.USub, ast.Invert,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)  # fmt: skip
_COMPOSITES = (
    ast.BoolOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Tuple, ast.List, ast.Set,
    ast.Subscript, ast.Slice, ast.JoinedStr, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
)  # fmt: skip

_EXPRESSION_RULES: dict[type[ast.AST], _Rule] = {
    **{kind: _Checker.leaf for kind in _LEAVES},
    **{kind: _Checker.children for kind in _COMPOSITES},
    ast.Constant: _Checker.constant,
    ast.Name: _Checker.name,
    ast.Attribute: _Checker.attribute,
    ast.BinOp: _Checker.bin_op,
    ast.Dict: _Checker.dict_display,
    ast.Call: _Checker.call,
    ast.comprehension: _Checker.comprehension,
    ast.FormattedValue: _Checker.formatted_value,
}


def _is_constant_arithmetic(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float, str))
    if isinstance(node, ast.UnaryOp):
        return _is_constant_arithmetic(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_constant_arithmetic(node.left) and _is_constant_arithmetic(node.right)
    return False


def _check_loop_target(node: ast.expr) -> None:
    if isinstance(node, ast.Name):
        return
    if not isinstance(node, (ast.Tuple, ast.List)):
        raise ExpressionRejected("переменная генератора должна быть именем или кортежем имён")
    for element in node.elts:
        _check_loop_target(element)


def _check_keyword(func: ast.expr, keyword: ast.keyword) -> None:
    if keyword.arg is None:
        raise ExpressionRejected("распаковка аргументов «**» не разрешена")
    _check_public_name(keyword.arg)
    if isinstance(func, ast.Name) and func.id != "dict" and keyword.arg not in _KEYWORDS.get(func.id, ()):
        raise ExpressionRejected(f"аргумент «{keyword.arg}=» у функции «{func.id}» не разрешён")


def _check_format_spec(spec: ast.expr) -> None:
    # A computed spec could ask for a width of 10**7; a literal one we can measure here.
    text = _literal_spec(spec)
    if text is None:
        raise ExpressionRejected("в формате f-строки после «:» допускается только постоянный текст")
    for digits in re.findall(r"\d+", text):
        if len(digits) > 4 or int(digits) > MAX_FORMAT_NUMBER:
            raise ExpressionRejected(f"слишком большая ширина или точность в формате «{text[:20]}»")


def _literal_spec(spec: ast.expr | None) -> str | None:
    if spec is None:
        return ""
    if not isinstance(spec, ast.JoinedStr):
        return None
    values = [part.value for part in spec.values if isinstance(part, ast.Constant)]
    parts = [value for value in values if isinstance(value, str)]
    return "".join(parts) if len(parts) == len(spec.values) else None


# --- functions and methods available to templates -----------------------------------------------------


def _range(*bounds: int) -> list[int]:
    # A list rather than a lazy range: whatever a script stores must be plain, serialisable data.
    span = range(*bounds)
    if _length(span) > MAX_SEQUENCE:
        raise ExpressionRejected(f"слишком длинный диапазон {_short(span)}: больше {MAX_SEQUENCE} элементов")
    return list(span)


def _round(number: Any, ndigits: int | None = None) -> Any:
    # round(10**4000, -10**9) would compute 10**(10**9).
    if ndigits is None:
        return round(number)
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise ExpressionRejected(f"слишком большая точность округления: {_short(ndigits)}")
    return round(number, ndigits)


def _sum(values: Iterable[Any], start: Any = 0) -> Any:
    # Summing lists or strings is quadratic; numbers and durations are what templates need.
    if not isinstance(start, (int, float, timedelta)):
        raise ExpressionRejected("sum складывает только числа и интервалы времени")
    return sum(values, start)


def _enumerate(values: Iterable[Any], start: int = 0) -> list[tuple[int, Any]]:
    return list(enumerate(values, start))


def _zip(*columns: Iterable[Any]) -> list[tuple[Any, ...]]:
    return list(zip(*columns, strict=False))


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": _sum,
    "abs": abs,
    "round": _round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "sorted": sorted,
    "any": any,
    "all": all,
    "range": _range,
    "enumerate": _enumerate,
    "zip": _zip,
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
}
SAFE_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(_FUNCTIONS)

# Keyword arguments are listed one by one: ``key=`` would let a template pass a callable around.
_KEYWORDS: Mapping[str, frozenset[str]] = {
    "sorted": frozenset({"reverse"}),
    "min": frozenset({"default"}),
    "max": frozenset({"default"}),
    "round": frozenset({"ndigits"}),
    "int": frozenset({"base"}),
    "sum": frozenset({"start"}),
    "enumerate": frozenset({"start"}),
    "date": frozenset({"year", "month", "day"}),
    "datetime": frozenset({"year", "month", "day", "hour", "minute", "second", "microsecond"}),
    "timedelta": frozenset({"days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks"}),
}

_DATE_MEMBERS = frozenset({"year", "month", "day", "weekday", "isoformat"})
_STR_MEMBERS = frozenset(
    {
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "replace",
        "count", "isdigit", "title", "capitalize", "join", "find",
    }
)  # fmt: skip
# Order matters: datetime is a date, and the first matching row wins.
_MEMBERS: tuple[tuple[type[Any] | tuple[type[Any], ...], frozenset[str]], ...] = (
    (Mapping, frozenset({"get", "keys", "values", "items"})),
    (str, _STR_MEMBERS),
    ((list, tuple), frozenset({"count", "index"})),
    (datetime, _DATE_MEMBERS | {"date", "hour", "minute"}),
    (date, _DATE_MEMBERS),
    (timedelta, frozenset({"days", "seconds", "total_seconds"})),
)
_DATA_ATTRIBUTES = frozenset({"year", "month", "day", "hour", "minute", "days", "seconds"})
_METHOD_NAMES = frozenset().union(*(names for _, names in _MEMBERS)) - _DATA_ATTRIBUTES


def _join(separator: str, parts: Iterable[Any]) -> str:
    items = list(parts)
    size = sum(len(item) for item in items if isinstance(item, str)) + len(separator) * len(items)
    if size > MAX_WORK:
        raise ExpressionRejected(f"слишком длинный результат join: {size} символов")
    return separator.join(items)


def _replace(text: str, old: str, new: str, count: int = -1) -> str:
    # "".replace inserts between every character, so the result can be len(text) times larger.
    hits = text.count(old) if old else len(text) + 1
    if count >= 0:
        hits = min(hits, count)
    size = len(text) + hits * (len(new) - len(old))
    if size > MAX_WORK:
        raise ExpressionRejected(f"слишком длинный результат replace: {size} символов")
    return text.replace(old, new, count)


def _keys(mapping: Mapping[Any, Any]) -> list[Any]:
    return list(mapping.keys())


def _values(mapping: Mapping[Any, Any]) -> list[Any]:
    return list(mapping.values())


def _items(mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    return list(mapping.items())


# Views and unbounded builders are swapped for plain, bounded versions.
_WRAPPED_METHODS: Mapping[tuple[type[Any], str], Callable[..., Any]] = {
    (str, "join"): _join,
    (str, "replace"): _replace,
    (Mapping, "keys"): _keys,
    (Mapping, "values"): _values,
    (Mapping, "items"): _items,
}


def _allowed_members(value: Any) -> frozenset[str]:
    for kinds, names in _MEMBERS:
        if isinstance(value, kinds):
            return names
    return frozenset()


def _member(value: Any, name: str) -> Any:
    if name.startswith("_") or name not in _allowed_members(value):
        raise ExpressionRejected(f"атрибут «{name}» недоступен у значения типа «{type(value).__name__}»")
    return getattr(value, name)


def _read_attribute(value: Any, name: str) -> Any:
    """``x.key`` reads a key of a dict, so authors can write ``indicators.coverage``."""
    if isinstance(value, Mapping):
        if name in value:
            return value[name]
        if name not in _allowed_members(value):
            raise ExpressionFailed(f"нет ключа «{name}» у значения типа «{type(value).__name__}»")
    member = _member(value, name)
    if callable(member):
        raise ExpressionRejected(f"метод «{name}» можно только вызвать: {name}(…)")
    return member


def _bound_method(receiver: Any, name: str) -> Callable[..., Any]:
    member = _member(receiver, name)
    if not callable(member):
        raise ExpressionRejected(f"«{name}» — не метод, его не вызывают")
    for (kind, wrapped_name), wrapper in _WRAPPED_METHODS.items():
        if wrapped_name == name and isinstance(receiver, kind):
            return partial(wrapper, receiver)
    return cast(Callable[..., Any], member)


# --- arithmetic limits ---------------------------------------------------------------------------------

_SEQUENCES = (str, bytes, bytearray, list, tuple)


def _check_number(value: Any) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExpressionRejected(f"слишком большое число: больше {MAX_INT_BITS} бит")
    if isinstance(value, complex):
        raise ExpressionFailed("результат — комплексное число")


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return
    if exponent > MAX_EXPONENT or base.bit_length() * exponent > MAX_INT_BITS:
        message = f"слишком большое число: степень {_short(base)}**{_short(exponent)} превышает предел"
        raise ExpressionRejected(message)


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise ExpressionRejected("слишком большое число: произведение превышает предел")
        return
    for sequence, times in ((left, right), (right, left)):
        too_long = isinstance(times, int) and _length(sequence) * times > MAX_SEQUENCE
        if isinstance(sequence, _SEQUENCES) and too_long:
            message = f"слишком длинный результат: {_short(sequence)} * {_short(times)}"
            raise ExpressionRejected(f"{message} даёт больше {MAX_SEQUENCE} элементов")


def _check_shift(value: Any, shift: Any) -> None:
    if not (isinstance(value, int) and isinstance(shift, int)):
        return
    if shift > MAX_SHIFT or value.bit_length() + shift > MAX_INT_BITS:
        raise ExpressionRejected(f"слишком большое число: сдвиг {_short(value)} << {_short(shift)}")


def _check_modulo(left: Any, right: Any) -> None:
    # "%0100000000d" % 1 would allocate a gigabyte; f-strings have a checked format spec instead.
    if isinstance(left, (str, bytes, bytearray)):
        raise ExpressionRejected(_PERCENT_FORMATTING)


_OPERAND_CHECKS: Mapping[type[ast.operator], Callable[[Any, Any], None]] = {
    ast.Pow: _check_power,
    ast.Mult: _check_product,
    ast.LShift: _check_shift,
    ast.Mod: _check_modulo,
}

_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
}

_UNARY: Mapping[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}

_COMPARE: Mapping[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda item, container: item in container,
    ast.NotIn: lambda item, container: item not in container,
}


def _length(value: Any) -> int:
    if not isinstance(value, (*_SEQUENCES, set, frozenset, range, Mapping)):
        return 0
    try:
        return len(value)
    except OverflowError:
        return MAX_WORK + 1


def _weight(value: Any, limit: int) -> int:
    """Elements and characters reachable from ``value``, shared parts counted each time they are reached.

    That is what str() or == would walk, so ``[[0] * 10**5] * 10**5`` weighs 10**10 although it holds
    only two lists.  Counting stops once past ``limit``.
    """
    total = 1
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            pending.extend(item if total <= limit else ())
        elif isinstance(item, str):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() >> 6
        elif item is None or isinstance(item, (float, date, timedelta)):
            continue  # checked before the Mapping ABC, whose isinstance is slow
        elif isinstance(item, Mapping):
            total += 2 * len(item)
            pending.extend(item.keys() if total <= limit else ())
            pending.extend(item.values() if total <= limit else ())
        else:
            total += _length(item)
    return total


# --- the interpreter -------------------------------------------------------------------------------------

_PRIMITIVES = (str, int, float, bool, type(None), date, timedelta)
_FORMATTABLE = (*_PRIMITIVES, list, tuple, dict, set, frozenset)
_CONVERSIONS: Mapping[int, Callable[[Any], str]] = {ord("s"): str, ord("r"): repr, ord("a"): ascii}


class _Interpreter:
    """Computes a checked expression tree, counting every step against the budgets."""

    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names
        self.scopes: list[dict[str, Any]] = []  # comprehension variables, innermost last
        self.steps = 0
        self.work = 0
        self.iterations = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExpressionRejected(f"превышен предел шагов вычисления ({MAX_STEPS})")

    def compute(self, node: ast.AST) -> Any:
        self.step()
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise _forbidden(node)
        try:
            return handler(self, node)
        except EngineError:
            raise
        except Exception as exc:
            raise _located(exc, node) from exc

    def charge(self, amount: int) -> None:
        self.work += amount
        if self.work > MAX_WORK:
            raise ExpressionRejected(f"превышен предел объёма данных ({MAX_WORK} элементов и символов)")

    def charge_value(self, value: Any) -> None:
        self.charge(_weight(value, MAX_WORK - self.work))

    def constant(self, node: ast.Constant) -> Any:
        return node.value

    def name(self, node: ast.Name) -> Any:
        for scope in reversed(self.scopes):
            if node.id in scope:
                return scope[node.id]
        if node.id not in self.names:
            raise ExpressionFailed(f"неизвестная переменная «{node.id}»")
        return self.names[node.id]

    def bool_op(self, node: ast.BoolOp) -> Any:
        stop_when = isinstance(node.op, ast.Or)  # "or" stops at the first truthy value, "and" at a falsy one
        value: Any = None
        for operand in node.values:
            value = self.compute(operand)
            if bool(value) is stop_when:
                return value
        return value

    def unary_op(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.compute(node.operand))

    def bin_op(self, node: ast.BinOp) -> Any:
        return self.binary(node.op, self.compute(node.left), self.compute(node.right))

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        check = _OPERAND_CHECKS.get(type(op))
        if check is not None:
            check(left, right)
        if isinstance(op, ast.Add):
            self.charge(_length(left) + _length(right))  # before building: a + a + a ... doubles each time
        result = _BINARY[type(op)](left, right)
        _check_number(result)
        self.charge_value(result)
        return result

    def compare(self, node: ast.Compare) -> Any:
        left = self.compute(node.left)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.compute(right_node)
            self.charge(_comparison_cost(op, left, right))
            result = _COMPARE[type(op)](left, right)
            if not result:
                return result
            left = right
        return result

    def if_exp(self, node: ast.IfExp) -> Any:
        return self.compute(node.body if self.compute(node.test) else node.orelse)

    def sequence_display(self, node: ast.List | ast.Tuple | ast.Set) -> Any:
        build: Callable[[Iterable[Any]], Any] = _DISPLAY_TYPES[type(node)]
        result = build(self.compute(element) for element in node.elts)
        self.charge_value(result)
        return result

    def dict_display(self, node: ast.Dict) -> dict[Any, Any]:
        result = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                raise ExpressionRejected("распаковка «**» в словаре не разрешена")
            result[self.compute(key)] = self.compute(value)
        self.charge_value(result)
        return result

    def subscript(self, node: ast.Subscript) -> Any:
        container = self.compute(node.value)
        key = self.compute(node.slice)
        result = container[key]
        if isinstance(key, slice):
            self.charge(_length(result))
        return result

    def slice_bounds(self, node: ast.Slice) -> slice:
        bounds = (node.lower, node.upper, node.step)
        return slice(*(None if bound is None else self.compute(bound) for bound in bounds))

    def attribute(self, node: ast.Attribute) -> Any:
        return _read_attribute(self.compute(node.value), node.attr)

    def call(self, node: ast.Call) -> Any:
        function = self.callee(node.func)
        args = self.arguments(node.args)
        kwargs = {cast(str, keyword.arg): self.compute(keyword.value) for keyword in node.keywords}
        if not (isinstance(node.func, ast.Name) and node.func.id == "len"):
            for value in (*args, *kwargs.values()):
                self.charge_value(value)  # sorted, str, min ... walk their whole argument
        result = function(*args, **kwargs)
        _check_number(result)
        self.charge_value(result)
        return result

    def callee(self, func: ast.expr) -> Callable[..., Any]:
        if isinstance(func, ast.Name) and func.id in SAFE_FUNCTIONS:
            return SAFE_FUNCTIONS[func.id]
        if isinstance(func, ast.Attribute):
            receiver = self.compute(func.value)
            if not isinstance(receiver, Mapping):
                self.charge_value(receiver)  # str and list methods scan the receiver
            return _bound_method(receiver, func.attr)
        raise ExpressionRejected("вызывать можно только разрешённые функции и методы по имени")

    def arguments(self, nodes: list[ast.expr]) -> list[Any]:
        values: list[Any] = []
        for node in nodes:
            if isinstance(node, ast.Starred):
                spread = self.compute(node.value)
                self.charge(_length(spread))
                values.extend(spread)
            else:
                values.append(self.compute(node))
        return values

    def list_comp(self, node: ast.ListComp | ast.GeneratorExp) -> list[Any]:
        # Generators are consumed at once: a lazy one could run after the budgets are gone.
        return list(self.produce(node.generators, lambda: self.compute(node.elt)))

    def set_comp(self, node: ast.SetComp) -> set[Any]:
        return set(self.produce(node.generators, lambda: self.compute(node.elt)))

    def dict_comp(self, node: ast.DictComp) -> dict[Any, Any]:
        return dict(self.produce(node.generators, lambda: (self.compute(node.key), self.compute(node.value))))

    def produce(self, generators: list[ast.comprehension], make: Callable[[], _R]) -> Iterator[_R]:
        self.scopes.append({})
        try:
            for _ in self.loops(generators, 0):
                item = make()
                self.charge_value(item)
                yield item
        finally:
            self.scopes.pop()

    def loops(self, generators: list[ast.comprehension], index: int) -> Iterator[None]:
        if index == len(generators):
            yield None
            return
        generator = generators[index]
        for item in self.compute(generator.iter):
            self.count_iteration()
            self.bind(generator.target, item)
            if all(self.compute(condition) for condition in generator.ifs):
                yield from self.loops(generators, index + 1)

    def count_iteration(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise ExpressionRejected(f"слишком много итераций в генераторах: больше {MAX_ITERATIONS}")

    def bind(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.scopes[-1][target.id] = value
            return
        targets = cast(ast.Tuple, target).elts
        values = list(islice(value, len(targets) + 1))
        if len(values) != len(targets):
            raise ExpressionFailed(f"нельзя разложить {_short(value)} на {len(targets)} переменных")
        for element, item in zip(targets, values, strict=True):
            self.bind(element, item)

    def joined_str(self, node: ast.JoinedStr) -> str:
        parts: list[str] = []
        for part in node.values:
            text = str(part.value) if isinstance(part, ast.Constant) else self.compute(part)
            self.charge(len(text))  # before joining: f"{s}{s}{s}..." must not allocate first
            parts.append(text)
        return "".join(parts)

    def formatted_value(self, node: ast.FormattedValue) -> str:
        value = self.compute(node.value)
        allowed = _FORMATTABLE if node.conversion == -1 else _PRIMITIVES
        if not isinstance(value, allowed):
            raise ExpressionRejected(f"нельзя подставить в f-строку значение типа «{type(value).__name__}»")
        self.charge_value(value)
        if node.conversion != -1:
            value = _CONVERSIONS[node.conversion](value)
        return format(value, _literal_spec(node.format_spec) or "")


class _ScriptRunner(_Interpreter):
    """Runs checked script statements; variables live in the task data dict itself."""

    def __init__(self, names: dict[str, Any]) -> None:
        super().__init__(names)
        self.variables = names

    def run_block(self, statements: list[ast.stmt]) -> None:
        for node in statements:
            self.step()
            if isinstance(node, ast.If):
                passed = _on_line(node, self.truth, node.test)
                self.run_block(node.body if passed else node.orelse)
            else:
                _on_line(node, self.run_simple, node)

    def truth(self, node: ast.expr) -> bool:
        return bool(self.compute(node))

    def run_simple(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            value = self.compute(node.value)
            _require_plain(value)
            for target in node.targets:
                self.store(target, value)
        elif isinstance(node, ast.AugAssign):
            self.update(node)
        elif not isinstance(node, ast.Pass):
            raise _forbidden(node)

    def store(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.variables[target.id] = value
        elif isinstance(target, ast.Subscript):
            container = self.compute(target.value)
            container[self.compute(target.slice)] = value
        else:
            raise _forbidden(target)

    def update(self, node: ast.AugAssign) -> None:
        target = node.target
        if isinstance(target, ast.Name):
            current = self.name(target)
            self.variables[target.id] = self.binary(node.op, current, self.compute(node.value))
        elif isinstance(target, ast.Subscript):
            container = self.compute(target.value)
            key = self.compute(target.slice)
            container[key] = self.binary(node.op, container[key], self.compute(node.value))
        else:
            raise _forbidden(target)


_Handler = Callable[[_Interpreter, Any], Any]

_HANDLERS: dict[type[ast.AST], _Handler] = {
    ast.Constant: _Interpreter.constant,
    ast.Name: _Interpreter.name,
    ast.BoolOp: _Interpreter.bool_op,
    ast.UnaryOp: _Interpreter.unary_op,
    ast.BinOp: _Interpreter.bin_op,
    ast.Compare: _Interpreter.compare,
    ast.IfExp: _Interpreter.if_exp,
    ast.List: _Interpreter.sequence_display,
    ast.Tuple: _Interpreter.sequence_display,
    ast.Set: _Interpreter.sequence_display,
    ast.Dict: _Interpreter.dict_display,
    ast.Subscript: _Interpreter.subscript,
    ast.Slice: _Interpreter.slice_bounds,
    ast.Attribute: _Interpreter.attribute,
    ast.Call: _Interpreter.call,
    ast.ListComp: _Interpreter.list_comp,
    ast.GeneratorExp: _Interpreter.list_comp,
    ast.SetComp: _Interpreter.set_comp,
    ast.DictComp: _Interpreter.dict_comp,
    ast.JoinedStr: _Interpreter.joined_str,
    ast.FormattedValue: _Interpreter.formatted_value,
}

_DISPLAY_TYPES: Mapping[type[ast.AST], Callable[[Iterable[Any]], Any]] = {
    ast.List: list,
    ast.Tuple: tuple,
    ast.Set: set,
}


def _comparison_cost(op: ast.cmpop, left: Any, right: Any) -> int:
    if isinstance(op, (ast.In, ast.NotIn)):
        return 1 if isinstance(right, (Mapping, set, frozenset)) else _length(right)
    return min(_length(left), _length(right))


def _on_line(node: ast.stmt, action: Callable[[_A], _R], argument: _A) -> _R:
    """Scripts have several lines, so their errors say which one."""
    try:
        return action(argument)
    except Exception as exc:
        error = exc if isinstance(exc, (ExpressionRejected, ExpressionFailed)) else _located(exc, node)
        raise type(error)(f"строка {node.lineno}: {error.message}") from exc


def _require_plain(value: Any) -> None:
    if callable(value):
        raise ExpressionRejected("результат — функция или метод, а должен быть значением")


# --- error messages ----------------------------------------------------------------------------------

_REPR = reprlib.Repr()
_REPR.maxstring = 40
_REPR.maxother = 40
_REPR.maxlong = 40


def _short(value: Any) -> str:
    try:
        return _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a message about a value must not fail on the value's own __repr__
        return f"<{type(value).__name__}>"


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:59] + "…"


#: Python's parser messages people meet most, in Russian; anything else is shown as Python says it.
_SYNTAX_MESSAGES = (
    (re.compile(r"^invalid syntax\. Perhaps you forgot a comma\?$"), "неверная запись — возможно, пропущена запятая"),
    (re.compile(r"^invalid syntax\. Maybe you meant '==' .*$"),
     "неверная запись — для сравнения пишется «==», а не «=»"),
    (re.compile(r"^invalid syntax$"), "неверная запись выражения"),
    (re.compile(r"^'(.)' was never closed$"), "скобка «\\1» не закрыта"),
    (re.compile(r"^unmatched '(.)'$"), "лишняя закрывающая скобка «\\1»"),
    (re.compile(r"^closing parenthesis '(.)' does not match opening parenthesis '(.)'.*$"),
     "закрывающая скобка «\\1» не подходит к открывающей «\\2»"),
    (re.compile(r"^unterminated (triple-quoted )?string literal.*$"), "строка не закрыта кавычкой"),
    (re.compile(r"^invalid decimal literal$"), "неверная запись числа"),
    (re.compile(r"^invalid character '(.)' \((U\+[0-9A-F]+)\)$"), "недопустимый символ «\\1» (\\2)"),
    (re.compile(r"^expected 'else' after 'if' expression$"), "после «if» в выражении нужно «else»"),
    (re.compile(r"^unexpected EOF while parsing$"), "выражение оборвано"),
)


def _syntax_message(exc: SyntaxError) -> str:
    said = exc.msg or ""
    for pattern, russian in _SYNTAX_MESSAGES:
        if pattern.match(said):
            said = pattern.sub(russian, said)
            break
    return f"синтаксическая ошибка в строке {exc.lineno or 1}, позиция {exc.offset or 0}: {said}"


def _describe(exc: Exception) -> str:
    detail = str(exc)[:200]
    if isinstance(exc, ZeroDivisionError):
        return "деление на ноль"
    if isinstance(exc, KeyError):
        return f"нет ключа {_short(exc.args[0]) if exc.args else ''}"
    if isinstance(exc, IndexError):
        return "индекс за пределами последовательности"
    if isinstance(exc, TypeError):
        return f"неподходящий тип значения ({detail})"
    if isinstance(exc, OverflowError):
        return f"переполнение ({detail})"
    if isinstance(exc, ValueError):
        if digits := _too_many_digits(str(exc)):
            return f"число из {digits} цифр слишком велико: не больше {MAX_INT_DIGITS} цифр"
        return f"недопустимое значение ({detail})"
    return f"ошибка вычисления ({type(exc).__name__}: {detail})"


def _translate(exc: Exception) -> EngineError:
    if isinstance(exc, SyntaxError):
        return ExpressionRejected(_syntax_message(exc))
    if isinstance(exc, (RecursionError, MemoryError)):
        return ExpressionRejected("выражение слишком сложное для вычисления")
    return ExpressionFailed(_describe(exc))


def _located(exc: Exception, node: ast.AST) -> EngineError:
    error = _translate(exc)
    if isinstance(error, ExpressionRejected):
        return error
    return ExpressionFailed(f"{error.message} в «{_snippet(node)}»")
