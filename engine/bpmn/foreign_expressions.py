"""Expressions written for another engine: Camunda 7's JUEL (``${approved}``, ``#{x > 1}``) and Camunda 8's
FEEL (``=approved``). The engine runs neither; an admin who brings a diagram from Camunda Modeler is told which
language it is, what the engine expects instead and, when it can be guessed, the same condition written out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from engine.bpmn import safe_eval
from engine.errors import EngineError

_JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)
_FEEL = re.compile(r"^\s*=(?P<body>.*)$", re.DOTALL)
_STRING = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_JUEL_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "and": "and", "or": "or",
               "not": "not", "empty": "not", "div": "/", "mod": "%", "null": "None", "true": "True",
               "false": "False"}
_FEEL_WORDS = {"null": "None", "true": "True", "false": "False", "and": "and", "or": "or", "not": "not"}
_EXPRESSIONS_DOC = "движок понимает безопасные выражения в стиле Python (см. docs/templates.md)"


def foreign_expression(text: str) -> str | None:
    """What to say about an expression written for Camunda (``${approved}``, ``#{x > 1}``) or Zeebe
    (``=approved``, FEEL): which language it is, what the engine expects and, when it can be guessed,
    the same condition in the engine's language. None for anything else."""
    juel, feel = _JUEL.match(text), _FEEL.match(text)
    if juel is not None:
        language, guess = "языке выражений Camunda 7 (JUEL)", _rewritten(juel["body"], _juel_operators)
    elif feel is not None:
        language, guess = "языке FEEL (Camunda 8)", _rewritten(feel["body"], _feel_operators)
    else:
        return None
    advice = f"записано на {language}; {_EXPRESSIONS_DOC}"
    try:
        safe_eval.check_expression(guess)
    except EngineError:
        return f"{advice}: сравнения ==, !=, <, связки and, or, not, строки в кавычках"
    return f"{advice}: напишите «{guess}»"


def _rewritten(body: str, operators: Callable[[str], str]) -> str:
    """``body`` with the operators of its language replaced, string literals left as they are."""
    parts = _STRING.split(body)
    return "".join(part if index % 2 else re.sub(r"\s+", " ", operators(part))
                   for index, part in enumerate(parts)).strip()


def _words(code: str, table: Mapping[str, str]) -> str:
    return re.sub(r"\b[A-Za-z]+\b", lambda m: table.get(m.group(0), m.group(0)), code)


def _juel_operators(code: str) -> str:
    code = code.replace("&&", " and ").replace("||", " or ")
    code = re.sub(r"!(?!=)", " not ", code)
    return _words(code, _JUEL_WORDS)


def _feel_operators(code: str) -> str:
    code = re.sub(r"(?<![<>!=])=(?!=)", "==", code)  # FEEL compares with a single «=»
    return _words(code, _FEEL_WORDS)
