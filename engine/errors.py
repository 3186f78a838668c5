"""The engine's error tree.

Every failure a user can cause is an ``EngineError`` with a message meant for people (Russian, like the
UI).  The web layer maps these classes to HTTP codes in one table (web/errors.py); the CLI prints them;
nothing here knows about HTTP.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: Characters that reorder or hide text around them (Trojan Source, CVE-2021-42574): shown by code point.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` on one line with nothing hidden: line breaks, control characters (NUL …) and bidi overrides
    from a file (a lane's name, a form key, an id) are written out as ``\\n``, ``\\x00``, ``\\u202e``."""
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


@dataclass(frozen=True)
class Problem:
    """One validation finding, located as precisely as we can: file, line, element.

    Whatever a file puts into the path, the element id or the message is made printable here, once, so a
    problem is one line wherever it is shown (CLI, API, the admin workspace) and cannot hide or reorder text."""

    path: str
    line: int | None
    element_id: str | None
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", printable(self.path))
        object.__setattr__(self, "message", printable(self.message))
        if self.element_id is not None:
            object.__setattr__(self, "element_id", printable(self.element_id))

    def format(self) -> str:
        """``PATH:LINE: ELEMENT_ID: MESSAGE`` with ``-`` for what is unknown."""
        line = str(self.line) if self.line else "-"
        return f"{self.path}:{line}: {self.element_id or '-'}: {self.message}"


class TemplateInvalid(EngineError):
    """A template bundle or BPMN file failed validation; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0].format() if self.problems else "шаблон некорректен"
        more = f" (и ещё {len(self.problems) - 1})" if len(self.problems) > 1 else ""
        super().__init__(f"Шаблон не прошёл проверку: {first}{more}")


class TemplateNotFound(EngineError):
    pass


class ExpressionRejected(EngineError):
    """An expression or script uses something the safe evaluator does not allow."""


class ExpressionFailed(EngineError):
    """An allowed expression failed while being evaluated (bad data, division by zero, ...)."""


class WorkflowFailed(EngineError):
    """The workflow could not advance (a failing gateway condition, a broken script task, ...).

    ``element_id`` and ``element_name`` name the BPMN element that failed, when it is known: an incident
    is recorded on it."""

    def __init__(self, message: str, *, element_id: str | None = None, element_name: str | None = None) -> None:
        super().__init__(message)
        self.element_id = element_id
        self.element_name = element_name


class NotFound(EngineError):
    pass


class TaskNotFound(NotFound):
    pass


class InstanceNotFound(NotFound):
    pass


class IncidentNotFound(NotFound):
    pass


class OrgUnitNotFound(NotFound):
    """An unknown region, municipality, school or user."""


class NotAllowed(EngineError):
    """The acting user has no role or scope for this action."""


class TooManyAttempts(EngineError):
    """A rate limit refuses the request for now (too many failed sign-ins, too many unknown links)."""


class Conflict(EngineError):
    """The state changed under us: somebody else acted first."""


class TaskAlreadyCompleted(Conflict):
    pass


class StepFailed(Conflict):
    """A completion could not run the engine's own step on the form (an engine action): nothing was
    completed, the submitted data was kept as the task's draft, and the failure is an incident."""

    def __init__(self, message: str, incident_id: int | None = None) -> None:
        super().__init__(message)
        self.incident_id = incident_id


class TaskClaimed(Conflict):
    """Another user has already taken the task."""


class SendBackRefused(Conflict):
    """A roadmap cannot safely go back to that step (a parallel branch, a multi-instance, never done)."""


class ConcurrentUpdate(Conflict):
    """Optimistic lock failure: the instance was changed by a concurrent transaction."""


class FormInvalid(EngineError):
    """Submitted data does not satisfy the task's form. ``errors`` maps field key -> messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {key: list(messages) for key, messages in errors.items()}
        fields = ", ".join(sorted(self.errors))
        super().__init__(f"Форма заполнена с ошибками: {fields}")


class FormDefinitionInvalid(EngineError):
    """A form definition (form-js JSON) itself is broken; carries human-readable problems."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("Описание формы некорректно: " + "; ".join(self.problems))


class MigrationImpossible(Conflict):
    """A running process cannot move to another template version; one Russian sentence per obstacle."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons) or "процесс нельзя перенести на новую версию")


class MigrationRunNotFound(NotFound):
    pass


class TemplateRetired(Conflict):
    """A retired template version is asked to start a new instance (running ones go on)."""


class DraftNotFound(NotFound):
    """The template has no draft to edit, deploy or export."""


class FileRejected(EngineError):
    """A draft file that cannot be stored at all (not UTF-8 text, too large, a bad name); nothing is kept."""


class LetterNotBuildable(EngineError):
    """An outbox letter that cannot be turned into an e-mail (a broken address, unencodable text): it is
    marked failed with this reason; building it again would fail the same way."""
