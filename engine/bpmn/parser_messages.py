"""What the BPMN schema (libxml2) and SpiffWorkflow's parser say, in the words of our messages.

Both speak English and name elements by Clark notation (``{http://www.omg.org/…/MODEL}task``). The messages
admins meet most are rewritten in Russian with the namespaces shortened to the usual prefixes; anything
else is kept whole, in the original, never cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

_PREFIXES = {
    "http://www.omg.org/spec/BPMN/20100524/MODEL": "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
}
_CLARK = re.compile(r"\{([^}]*)\}([\w.-]+)")


def short_names(text: str) -> str:
    """``{http://www.omg.org/spec/BPMN/20100524/MODEL}task`` → ``bpmn:task``; other namespaces stay whole."""
    def shorten(match: re.Match[str]) -> str:
        prefix = _PREFIXES.get(match[1])
        return f"{prefix}:{match[2]}" if prefix else match[0]
    return _CLARK.sub(shorten, text)


def _expected(listing: str) -> str:
    names = [name.strip() for name in listing.split(",") if name.strip()]
    return ", ".join(name.replace("##other{", "элемент не из пространства имён {") for name in names)


# --- the BPMN schema -------------------------------------------------------------------------------------

_ELEMENT = r"Element '(?P<element>[^']+)'"
_ATTRIBUTE = _ELEMENT + r", attribute '(?P<attribute>[^']+)'"
_XSD_ID = re.compile(_ATTRIBUTE + r": '(?P<value>[^']*)' is not a valid value of the atomic type 'xs:ID'\.$")
_XSD_RULES: Sequence[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = (
    (re.compile(_ELEMENT + r": This element is not expected\. Expected is (?:one of )?\( (?P<expected>.*) \)\.$"),
     lambda m: f"элемент «{m['element']}» здесь не ожидается (ожидается: {_expected(m['expected'])})"),
    (re.compile(_ELEMENT + r": This element is not expected\.$"),
     lambda m: f"элемент «{m['element']}» здесь не ожидается"),
    (re.compile(_ELEMENT + r": Missing child element\(s\)\. Expected is (?:one of )?\( (?P<expected>.*) \)\.$"),
     lambda m: f"в элементе «{m['element']}» не хватает вложенного элемента ({_expected(m['expected'])})"),
    (re.compile(_ATTRIBUTE + r": The attribute '[^']+' is not allowed\.$"),
     lambda m: f"атрибут «{m['attribute']}» не допускается у элемента «{m['element']}»"),
    (re.compile(_ELEMENT + r": The attribute '(?P<attribute>[^']+)' is required but missing\.$"),
     lambda m: f"у элемента «{m['element']}» нет обязательного атрибута «{m['attribute']}»"),
    (re.compile(_ATTRIBUTE + r": \[facet 'enumeration'\] The value '(?P<value>[^']*)' is not an element of the set "
                             r"\{(?P<allowed>.*)\}\.$"),
     lambda m: f"значение «{m['value']}» атрибута «{m['attribute']}» у элемента «{m['element']}» не из списка "
               f"допустимых: {m['allowed']}"),
    (re.compile(_ATTRIBUTE + r": '(?P<value>[^']*)' is not a valid value of the atomic type '(?P<type>[^']+)'\.$"),
     lambda m: f"значение «{m['value']}» атрибута «{m['attribute']}» у элемента «{m['element']}» не подходит "
               f"(нужен тип {m['type']})"),
    (re.compile(_ELEMENT + r": Character content other than whitespace is not allowed because the content type "
                           r"is 'element-only'\.$"),
     lambda m: f"в элементе «{m['element']}» не может быть текста, только вложенные элементы"),
)


_UNEXPECTED = re.compile(r"^Element '\{(?P<namespace>[^}]*)\}(?P<name>[^']+)': This element is not expected\b")


def unexpected_element(raw: str) -> tuple[str, str] | None:
    """``(namespace, local name)`` of the element a «This element is not expected» schema error is about."""
    found = _UNEXPECTED.match(raw)
    return (found["namespace"], found["name"]) if found else None


def schema_message(raw: str, line: int | None, id_lines: Mapping[str, Sequence[int]]) -> str:
    """One schema error in Russian. ``id_lines`` gives the lines of every element id, so a repeated id
    is named with both places instead of libxml2's «is not a valid value of the atomic type 'xs:ID'»."""
    text = short_names(raw)
    repeated = _XSD_ID.match(text)
    if repeated is not None:
        value = repeated["value"]
        others = sorted(n for n in id_lines.get(value, ()) if n != line)
        if others:
            where = f"строки {others[0]} и {line}" if line else f"строка {others[0]}"
            return f"идентификатор «{value}» повторяется ({where})"
        return (f"«{value}» не годится как идентификатор (id): он начинается с буквы или «_» и состоит из букв, "
                "цифр, «_», «-», «.» без пробелов и двоеточий")
    for pattern, russian in _XSD_RULES:
        found = pattern.match(text)
        if found is not None:
            return f"нарушена схема BPMN: {russian(found)}"
    return f"нарушена схема BPMN: {text}"


# --- SpiffWorkflow's parser --------------------------------------------------------------------------------

_SPIFF_RULES: Sequence[tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]] = (
    # Spiff's own text stops after «of type» (it never names the type); the element's tag completes it.
    (re.compile(r"^Multiple outgoing flows are not supported for tasks of type\b.*", re.DOTALL),
     lambda m, tag: f"у элемента «{tag}» несколько исходящих потоков: ветвление задаётся шлюзом "
                    "(exclusiveGateway, parallelGateway, inclusiveGateway)"),
    (re.compile(r"^Non-default exclusive outgoing sequence flow without condition$"),
     lambda m, tag: "у исходящего потока шлюза нет условия, и он не отмечен как поток по умолчанию (default)"),
    (re.compile(r"^No start event found$"), lambda m, tag: "в процессе нет стартового события (startEvent)"),
    (re.compile(r"^Process (?P<id>.+) is not executable\.$"),
     lambda m, tag: f"процесс «{m['id']}» отмечен как неисполняемый (isExecutable=\"false\")"),
    (re.compile(r"^The process '(?P<id>.+)' was not found\. Did you mean one of the following: (?P<ids>.*)\?$"),
     lambda m, tag: f"процесс «{m['id']}» не найден; в файлах есть: {m['ids'] or 'ни одного'}"),
    (re.compile(r"^Duplicate process ID: (?P<id>.+)$"),
     lambda m, tag: f"идентификатор процесса «{m['id']}» повторяется"),
    (re.compile(r"^Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)\.$"),
     lambda m, tag: f"в подпроцессе должно быть ровно одно стартовое событие, а их {m['n']}"),
    (re.compile(r"^A SubWorkflow Must contain an End event$"),
     lambda m, tag: "в подпроцессе нет завершающего события (endEvent)"),
    (re.compile(r"^No \"calledElement\" attribute for Call Activity\.$"),
     lambda m, tag: "у вызова процесса (callActivity) не указан атрибут calledElement"),
    (re.compile(r"^There is no support implemented for this task type\.$"),
     lambda m, tag: f"элемент «{tag}» не поддерживается движком"),
    (re.compile(r"^Unknown Time Specification$"),
     lambda m, tag: "у таймера не задано ни timeDuration, ни timeDate"),
    (re.compile(r"^Time Specification Error\. (?P<detail>.*)$", re.DOTALL),
     lambda m, tag: f"выражение таймера не разобрано: {m['detail']}"),
    (re.compile(r"^Cannot resolve data(?P<way>Input|Output)Association (?P<name>.*)$"),
     lambda m, tag: f"связь с данными «{m['name']}» (data{m['way']}Association) ведёт к несуществующему объекту"),
    (re.compile(r"^When looking for a task spec, we found two items, perhaps a form has the same ID\? \((?P<id>.*)\)$"),
     lambda m, tag: f"поток ведёт к элементу «{m['id']}», которого нет в процессе (или его id повторяется)"),
    (re.compile(r"^Invalid Script Task\.\s+No Script Provided\..*$", re.DOTALL),
     lambda m, tag: "у скрипт-задачи нет скрипта (bpmn:script)"),
    (re.compile(r"^No decisions found$"), lambda m, tag: "в DMN-файле нет ни одной таблицы решений"),
    (re.compile(r"^Multiple decision tables are not current supported\.$"),
     lambda m, tag: "в DMN-файле больше одной таблицы решений: движок читает по одной на файл"),
    (re.compile(r"^No DMN Diagram available with id \"(?P<id>[^\"]*)\", Available DMN ids are: (?P<ids>.*)$"),
     lambda m, tag: f"таблица решений «{m['id']}» не найдена; есть: {m['ids'] or 'ни одной'}"),
    (re.compile(r"^Conditional event definition with missing condition$"),
     lambda m, tag: "у условного события нет условия"),
)


def spiff_message(message: str, tag: str) -> str:
    """A SpiffWorkflow parser message in Russian when we know it, else whole and marked as Spiff's."""
    text = message.strip()
    for pattern, russian in _SPIFF_RULES:
        found = pattern.match(text)
        if found is not None:
            return russian(found, tag or "?")
    return f"SpiffWorkflow: {short_names(text)}"
