"""The safe evaluator: real attack strings must be refused, ordinary template expressions must work."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from engine.bpmn import safe_eval
from engine.bpmn.safe_eval import (
    SAFE_FUNCTIONS,
    check_expression,
    check_script,
    evaluate,
    execute,
    validate_syntax,
)
from engine.errors import ExpressionFailed, ExpressionRejected


def data() -> dict[str, Any]:
    return {
        "x": 5,
        "y": 0,
        "z": 9,
        "decision": "accepted",
        "score": 0.7,
        "approved": True,
        "indicators": {"coverage": 0.6, "get": "a key, not the method"},
        "items": [1, 2, 3],
        "ratings": {"math": "high", "art": "low"},
        "scores": [1, 2, 3.5],
        "name": "Школа №5",
        "count": 3,
        "level": "high",
        "d": {"k": 1},
        "deadline": date(2027, 3, 1),
        "started": datetime(2027, 1, 10, 9, 30),
    }


def rejected(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionRejected) as caught:
        evaluate(source, data())
    assert fragment in caught.value.message


# --- code execution attacks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("__import__('os').system('id')", "«__import__»"),
        ("().__class__.__mro__[1].__subclasses__()", "служебному атрибуту «__class__»"),
        ("(lambda: 0).__globals__", "lambda"),
        ("[].__class__.__base__", "служебному атрибуту «__class__»"),
        ('"{0.__class__}".format(1)', "вызов метода «format» не разрешён"),
        ('"{x.__init__.__globals__}".format_map(d)', "вызов метода «format_map» не разрешён"),
        ("getattr(x, '__class__')", "вызов функции «getattr» не разрешён"),
        ("open('/etc/passwd').read()", "вызов функции «open» не разрешён"),
        ("eval('1')", "вызов функции «eval» не разрешён"),
        ("exec('x=1')", "вызов функции «exec» не разрешён"),
        ("compile('1', 'f', 'eval')", "вызов функции «compile» не разрешён"),
        ("globals()", "вызов функции «globals» не разрешён"),
        ("vars(x)", "вызов функции «vars» не разрешён"),
        ("type(x)", "вызов функции «type» не разрешён"),
        ("print(x)", "вызов функции «print» не разрешён"),
        ("breakpoint()", "вызов функции «breakpoint» не разрешён"),
        ("len.__self__", "служебному атрибуту «__self__»"),
        ("max.__call__", "служебному атрибуту «__call__»"),
        ("[x for x in ().__class__.__bases__]", "служебному атрибуту «__class__»"),
        ("sorted.__module__", "служебному атрибуту «__module__»"),
        ("min.__doc__", "служебному атрибуту «__doc__»"),
        ("d.get('k').__class__", "служебному атрибуту «__class__»"),
        ("__builtins__", "служебное имя «__builtins__»"),
        ("_private", "служебное имя «_private»"),
        ("d._private", "служебному атрибуту «_private»"),
        ("[_x for _x in items]", "служебное имя «_x»"),
        ("dict(_a=1)", "служебное имя «_a»"),
        ("(x := 1)", "«:=»"),
        ("(lambda: 1)()", "lambda"),
        ("[lambda: 1 for i in items]", "lambda"),
        ("items[0]()", "разрешённые функции"),
        ("items.append(1)", "вызов метода «append» не разрешён"),
        ("sorted(items, key=len)", "«key=»"),
        ("max(items, key=abs)", "«key=»"),
        ("dict(**d)", "«**»"),
        ("{**d}", "«**»"),
        ("[*items]", "«*»"),
        ("x @ x", "«@»"),
        ("b'bytes'", "«bytes»"),
        ("1j", "«complex»"),
        ("...", "«ellipsis»"),
        ("'%s' % x", "«%»"),
        ("datetime.now()", "вызов метода «now» не разрешён"),
        ("f'{x!r:{x}}'", "только постоянный текст"),
    ],
)
def test_code_execution_attacks_are_rejected(source: str, fragment: str) -> None:
    rejected(source, fragment)
    with pytest.raises(ExpressionRejected):
        check_expression(source)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("x.lower", "атрибут «lower» недоступен у значения типа «int»"),
        ("name.format_map", "атрибут «format_map» недоступен у значения типа «str»"),
        ("items.index", "можно только вызвать"),
        ("'a'.join", "можно только вызвать"),
        ("ratings.keys", "можно только вызвать"),
        ("deadline.replace(year=1)", "атрибут «replace» недоступен у значения типа «date»"),
        ("items.split()", "атрибут «split» недоступен у значения типа «list»"),
        ("started.weekday", "можно только вызвать"),
    ],
)
def test_attributes_outside_the_type_whitelist_are_rejected_at_run_time(source: str, fragment: str) -> None:
    check_expression(source)  # the attribute name alone is harmless, the value's type decides
    rejected(source, fragment)


def test_builtins_are_never_visible_as_names() -> None:
    for name in ("len", "print", "open", "eval", "type"):
        with pytest.raises(ExpressionFailed, match=f"неизвестная переменная «{name}»"):
            evaluate(name, {})


def test_a_callable_result_is_never_handed_out() -> None:
    with pytest.raises(ExpressionRejected, match="функция или метод"):
        evaluate("f", {"f": len})
    with pytest.raises(ExpressionRejected, match="функция или метод"):
        execute("g = f", {"f": len})


# --- resource exhaustion --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("9**9**9", "слишком большое число: степень 9**387420489"),
        ("10**100000", "слишком большое число"),
        ("2**1001", "слишком большое число"),
        ("(10**900) ** 20", "слишком большое число"),
        ("2**13000 * 2**13000", "слишком большое число"),
        ("0x" + "f" * 5000, "слишком большое число"),
        ("int('9' * 4299)", "слишком большое число"),
        ("1 << 10**6", "слишком большое число: сдвиг"),
        ("'a' * 10**9", "слишком длинный результат"),
        ("10**9 * 'a'", "слишком длинный результат"),
        ("[0] * 10**8", "слишком длинный результат"),
        ("(0,) * 200000", "слишком длинный результат"),
        ("range(10**9)", "слишком длинный диапазон"),
        ("range(10**100)", "слишком длинный диапазон"),
        ("list(range(0, 10**9, 2))", "слишком длинный диапазон"),
        ("round(x, -10**9)", "точность округления"),
        ("[i for i in range(10**5) for j in range(10**5)]", "слишком много итераций"),
        ("sum(1 for i in range(10**5) for j in range(2))", "слишком много итераций"),
        ("{i: j for i in range(10**5) for j in range(10**5)}", "слишком много итераций"),
        ("[[0] * 100000] * 100000", "предел объёма данных"),
        ("str([[0] * 100000] * 100000)", "предел объёма данных"),
        ("[[0] * 100000 for i in range(100)]", "предел объёма данных"),
        ("''.join(['a' * 100000] * 100000)", "предел объёма данных"),
        ("[len([0] * 100000) for i in range(100000)]", "предел объёма данных"),
        ("['a' * 100000 + 'b' for i in range(100)]", "предел объёма данных"),
        ("sum([[0]] * 1000, [])", "sum складывает только числа"),
        ("'%0100000000d' % 1", "«%»"),
        ("f'{x:>100000000}'", "слишком большая ширина"),
        ("f'{score:.99999f}'", "слишком большая ширина"),
        ("f\"{x!r:{'>' * 10**7}}\"", "только постоянный текст"),
    ],
)
def test_resource_exhaustion_is_rejected(source: str, fragment: str) -> None:
    rejected(source, fragment)


@pytest.mark.parametrize(
    "source",
    [
        "(" * 5000 + "1" + ")" * 5000,
        "(" * 4000 + "1" + ")" * 4000,
        "[" * 150 + "]" * 150,
        "-" * 5000 + "1",
        "not " * 2400 + "x",
        "x" + " + x" * 200,
        "x + 1" + " " * 20_000,
        "x + " * 5000 + "x",
    ],
)
def test_hostile_nesting_and_length_are_rejected(source: str) -> None:
    with pytest.raises(ExpressionRejected):
        evaluate(source, data())
    with pytest.raises(ExpressionRejected):
        check_script(source)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("(" * 5000 + "1" + ")" * 5000, "слишком длинный текст"),
        ("x + " * 5000 + "x", "слишком длинный текст: 20001 символов"),
        ("[" * 150 + "]" * 150, "слишком глубокая вложенность"),
        ("-" * 5000 + "1", "слишком сложное"),
        ("(" * 4000 + "1" + ")" * 4000, "синтаксическая ошибка в строке 1"),
    ],
)
def test_nesting_messages_say_what_is_wrong(source: str, fragment: str) -> None:
    rejected(source, fragment)


def test_step_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_eval, "MAX_STEPS", 1000)
    with pytest.raises(ExpressionRejected, match="предел шагов"):
        evaluate("[i + i + i for i in range(1000)]", {})
    assert evaluate("[i + i + i for i in range(10)]", {})[-1] == 27


def test_budgets_are_per_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_eval, "MAX_STEPS", 1000)
    for _ in range(50):
        assert evaluate("sum(i for i in range(100))", {}) == 4950


def test_bounded_work_still_allowed() -> None:
    assert evaluate("len('a' * 100000)", {}) == 100_000
    assert evaluate("len(range(100000))", {}) == 100_000
    assert evaluate("2 ** 1000 > 10 ** 300", {}) is True
    assert evaluate("len(str(10 ** 1000))", {}) == 1001


# --- scripts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("import os", "импорт запрещён"),
        ("from os import system", "импорт запрещён"),
        ("def f(): pass", "объявлять функции запрещено"),
        ("class A: pass", "объявлять классы запрещено"),
        ("for i in x: pass", "циклы запрещены"),
        ("while True: pass", "циклы запрещены"),
        ("with open('f') as f: pass", "«with»"),
        ("try:\n    pass\nexcept Exception:\n    pass", "«try»"),
        ("del x", "«del»"),
        ("global x", "«global»"),
        ("return 1", "«return»"),
        ("raise ValueError", "«raise»"),
        ("x.y = 1", "присваивать можно только"),
        ("a, b = 1, 2", "присваивать можно только"),
        ("x: int = 1", "аннотацией"),
        ("print(x)", "без присваивания"),
        ("x = print(x)", "вызов функции «print» не разрешён"),
        ("x = 1\nif x:\n    import os", "строка 3: импорт запрещён"),
        ("x = __import__('os')", "служебное имя"),
        ("x = (lambda: 1)", "lambda"),
        ("_x = 1", "служебное имя «_x»"),
        ("x = 1\ny = x.__class__", "строка 2: запрещён доступ к служебному атрибуту «__class__»"),
    ],
)
def test_forbidden_script_statements(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionRejected) as caught:
        check_script(source)
    assert fragment in caught.value.message
    names: dict[str, Any] = {"x": 1}
    with pytest.raises(ExpressionRejected):
        execute(source, names)
    assert names == {"x": 1}


def test_script_assignments_mutate_names() -> None:
    names: dict[str, Any] = {}
    execute("x = 1\ny = x + 2", names)
    assert names == {"x": 1, "y": 3}


def test_script_item_assignment_and_augmented_assignment() -> None:
    names: dict[str, Any] = {"d": {"k": 1}, "total": 1, "items": [0, 0]}
    execute("d['k'] = 5\ntotal += 1\nd['k'] += 10\nitems[1] = 'x'\nd['n'] = {}\nd['n']['m'] = total", names)
    assert names == {"d": {"k": 15, "n": {"m": 2}}, "total": 2, "items": [0, "x"]}


@pytest.mark.parametrize(("score", "expected"), [(0.9, "high"), (0.5, "middle"), (0.1, "low")])
def test_script_if_elif_else(score: float, expected: str) -> None:
    names: dict[str, Any] = {"score": score}
    script = "if score > 0.8:\n    level = 'high'\nelif score >= 0.5:\n    level = 'middle'\n"
    script += "else:\n    level = 'low'"
    execute(script, names)
    assert names["level"] == expected


def test_script_pass_and_chained_assignment() -> None:
    names: dict[str, Any] = {}
    execute("pass\na = b = [1, 2]", names)
    assert names == {"a": [1, 2], "b": [1, 2]}


def test_comprehension_variables_do_not_leak_into_task_data() -> None:
    names: dict[str, Any] = {"items": [1, 2]}
    execute("doubled = [i * 2 for i in items]", names)
    assert names == {"items": [1, 2], "doubled": [2, 4]}


@pytest.mark.parametrize(
    ("source", "error", "fragment"),
    [
        ("x = 1\ny = 1 / 0", ExpressionFailed, "строка 2: деление на ноль"),
        ("y = missing + 1", ExpressionFailed, "неизвестная переменная «missing»"),
        ("total += 1", ExpressionFailed, "неизвестная переменная «total»"),
        ("s = 'abc'\ns[0] = 'x'", ExpressionFailed, "строка 2: неподходящий тип"),
        ("r = d.keys", ExpressionRejected, "можно только вызвать"),
        ("r = 'a' * 10**9", ExpressionRejected, "слишком длинный результат"),
    ],
)
def test_script_run_time_errors(source: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        execute(source, {"d": {}})
    assert fragment in str(caught.value)


# --- ordinary template expressions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("decision == 'accepted'", True),
        ("decision != 'accepted'", False),
        ("score >= 0.5 and approved", True),
        ("score < 0.5 or approved", True),
        ("score < 0.5 or 'fallback'", "fallback"),
        ("not approved", False),
        ("indicators.coverage > 0.5", True),
        ("indicators.get", "a key, not the method"),
        ("indicators.get('coverage')", 0.6),
        ("indicators.get('missing', 0)", 0),
        ("len(items) > 2", True),
        ("'high' in ratings.values()", True),
        ("'math' in ratings", True),
        ("'music' not in ratings.keys()", True),
        ("sorted(ratings.items())", [("art", "low"), ("math", "high")]),
        ("4 < x < 6", True),
        ("4 < x < 5", False),
        ("x is not None", True),
        ("x if y else z", 9),
        ("x if x else z", 5),
        ("timedelta(days=14)", timedelta(days=14)),
        ("timedelta(weeks=1, hours=2, minutes=30)", timedelta(days=7, hours=2, minutes=30)),
        ("date(2027, 3, 1)", date(2027, 3, 1)),
        ("datetime(2027, 3, 1, hour=9)", datetime(2027, 3, 1, 9)),
        ("deadline + timedelta(days=14)", date(2027, 3, 15)),
        ("(deadline - started.date()).days", 50),
        ("deadline.year * 100 + deadline.month", 202703),
        ("started.hour, started.minute, started.weekday()", (9, 30, 6)),
        ("deadline.isoformat()", "2027-03-01"),
        ("timedelta(hours=36).total_seconds()", 129600.0),
        ("sum(v for v in scores)", 6.5),
        ("sum(items, 10)", 16),
        ('f"{name} {count}"', "Школа №5 3"),
        ("f'{score:.2f}'", "0.70"),
        ("f'{count:>4}|{count!r}|{name!a}'", "   3|3|'\\u0428\\u043a\\u043e\\u043b\\u0430 \\u21165'"),
        ("f'{deadline:%d.%m.%Y}'", "01.03.2027"),
        ("f'{items}'", "[1, 2, 3]"),
        ("(level) == ('high')", True),
        ("(level) == ('low')", False),
        ("level in ('high', 'medium')", True),
        ("[i * 2 for i in items if i > 1]", [4, 6]),
        ("{i % 2 for i in items}", {0, 1}),
        ("{k: v.upper() for k, v in ratings.items()}", {"math": "HIGH", "art": "LOW"}),
        ("[a + b for a, b in zip(items, scores)]", [2, 4, 6.5]),
        ("[i for i, v in enumerate(items, start=1)]", [1, 2, 3]),
        ("any(v > 2 for v in items) and all(v > 0 for v in items)", True),
        ("min(items), max(items), abs(-x), round(score, 1), round(2.5)", (1, 3, 5, 0.7, 2)),
        ("max(*items)", 3),
        ("max([], default=0)", 0),
        ("int('42') + float('0.5') + int('ff', base=16)", 297.5),
        ("str(x) + '!'", "5!"),
        ("bool(items), list('ab'), tuple(items)", (True, ["a", "b"], (1, 2, 3))),
        ("set(items), dict(a=1), dict([('b', 2)])", ({1, 2, 3}, {"a": 1}, {"b": 2})),
        ("sorted(items, reverse=True)", [3, 2, 1]),
        ("list(range(2, 8, 3))", [2, 5]),
        ("items[1:], items[::-1], items[-1]", ([2, 3], [3, 2, 1], 3)),
        ("d['k']", 1),
        ("' a,b '.strip().split(',')", ["a", "b"]),
        ("', '.join(str(i) for i in items)", "1, 2, 3"),
        ("name.lower().startswith('школа')", True),
        ("'abc'.replace('b', 'x').title() + 'de'.capitalize() + str('AXC'.find('X'))", "AxcDe1"),
        ("'12'.isdigit() and 'a-b'.count('-') == 1", True),
        ("items.count(2) + items.index(3)", 3),
        ("x // 2, x % 3, x / 2, x ** 2, -x, +x, ~x", (2, 2, 2.5, 25, -5, 5, -6)),
        ("x << 2 | 1, x >> 1 & 3, x ^ 1", (21, 2, 4)),
        ("2 ** -1", 0.5),
        ("[1, 2] + [3] * 2", [1, 2, 3, 3]),
        ("None", None),
        ("\n    decision == 'accepted'\n  ", True),
    ],
)
def test_ordinary_expressions(source: str, expected: Any) -> None:
    check_expression(source)
    assert evaluate(source, data()) == expected


def test_generator_expressions_are_materialised_as_plain_lists() -> None:
    assert evaluate("(i for i in items)", data()) == [1, 2, 3]


def test_dict_views_become_plain_lists() -> None:
    assert evaluate("ratings.values()", data()) == ["high", "low"]


# --- run-time failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("unknown > 1", "неизвестная переменная «unknown»"),
        ("1 / 0", "деление на ноль в «1 / 0»"),
        ("x % y", "деление на ноль"),
        ("d['missing']", "нет ключа 'missing'"),
        ("indicators.missing", "нет ключа «missing»"),
        ("items[10]", "индекс за пределами"),
        ("'a' + 1", "неподходящий тип значения"),
        ("x < 'a'", "неподходящий тип значения"),
        ("int('abc')", "недопустимое значение"),
        ("date(2027, 13, 1)", "недопустимое значение"),
        ("2.0 ** 100000", "переполнение"),
        ("(-8) ** 0.5", "комплексное число"),
        ("len(x)", "неподходящий тип значения"),
        ("[a for a, b in items]", "неподходящий тип значения"),
        ("[a for a, b in [(1, 2, 3)]]", "нельзя разложить"),
        ("{[1]: 2}", "неподходящий тип значения"),
        ("f'{items:>5}'", "неподходящий тип значения"),
    ],
)
def test_run_time_failures(source: str, fragment: str) -> None:
    check_expression(source)
    with pytest.raises(ExpressionFailed) as caught:
        evaluate(source, data())
    assert fragment in caught.value.message


def test_formatting_arbitrary_objects_is_rejected() -> None:
    with pytest.raises(ExpressionRejected, match="f-строку"):
        evaluate("f'{thing}'", {"thing": object()})
    with pytest.raises(ExpressionRejected, match="f-строку"):
        evaluate("f'{items!r}'", data())  # conversions only apply to primitives


# --- validate_syntax (the DMN engine's probe) -----------------------------------------------------


@pytest.mark.parametrize("source", ["> 5", "< 3", "== 'a'", "", "(", "x >", "a\x00b"])
def test_validate_syntax_raises_builtin_syntax_error(source: str) -> None:
    with pytest.raises(SyntaxError):
        validate_syntax(source)


@pytest.mark.parametrize("source", ["x > 5", "v > 5", "'high'", "\"a\", \"b\"", "4 < dmninputexpr < 6"])
def test_validate_syntax_accepts_expressions(source: str) -> None:
    validate_syntax(source)


@pytest.mark.parametrize(
    "source", ['__import__("os")', "().__class__", "open('x')", "x" * 20_000, "[" * 150 + "]" * 150]
)
def test_validate_syntax_still_applies_the_whitelist(source: str) -> None:
    with pytest.raises(ExpressionRejected):
        validate_syntax(source)


# --- checks and the API contract ------------------------------------------------------------------


@pytest.mark.parametrize(("source", "line"), [("x ===", 1), ("a = 1\nb = (", 2), ("x = 1\n  y = 2", 2)])
def test_syntax_errors_become_rejections_with_the_line(source: str, line: int) -> None:
    with pytest.raises(ExpressionRejected, match=f"синтаксическая ошибка в строке {line}"):
        check_script(source)


def test_scripts_are_not_expressions() -> None:
    with pytest.raises(ExpressionRejected, match="синтаксическая ошибка"):
        check_expression("x = 1")


@pytest.mark.parametrize("source", [None, 42, b"x > 1", ["x"]])
def test_non_text_sources_are_rejected(source: Any) -> None:
    with pytest.raises(ExpressionRejected, match="ожидался текст"):
        evaluate(source, {})
    with pytest.raises(ExpressionRejected, match="ожидался текст"):
        execute(source, {})


def test_safe_functions_whitelist() -> None:
    expected = {
        "len", "min", "max", "sum", "abs", "round", "int", "float", "str", "bool", "list", "dict", "set",
        "tuple", "sorted", "any", "all", "range", "enumerate", "zip", "date", "datetime", "timedelta",
    }  # fmt: skip
    assert set(SAFE_FUNCTIONS) == expected
    with pytest.raises(TypeError):
        SAFE_FUNCTIONS["open"] = open  # type: ignore[index]


def test_only_engine_errors_escape() -> None:
    hostile = ["\x00", "'\\N{no such name}'", "1 if", "x." * 3000, "f'{'", "[i for i in 1]", "{}.get([])"]
    for source in hostile:
        with pytest.raises((ExpressionRejected, ExpressionFailed)):
            evaluate(source, data())
