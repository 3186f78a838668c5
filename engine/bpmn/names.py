"""Names that a template's expressions read, checked against the names its process data can hold.

A condition naming ``pаrticipation`` (its «а» Cyrillic) passed validation and deploy, then stopped every
instance at that gateway with «неизвестная переменная «pаrticipation»» — a message that looks exactly
like the real name. So at validation every name read by a sequence flow condition, a script, a timer or
loop expression, a task's subject, a decision table's input expression or output entry, or a rule of
manifest.json is compared with what the process data can hold:

* the fields of the user tasks' forms (their top-level keys);
* what scripts assign (script tasks, pre- and post-scripts);
* what the engine actions named in manifest.json write (``ACTION_OUTPUTS``);
* the outputs of the decision tables;
* multi-instance collections and items, data objects and inputs, SpiffWorkflow event variables;
* what the engine gives every instance when it starts (``START_DATA``).

The check is deliberately blind to order (a name written anywhere counts everywhere): it catches names
nothing writes, not paths through the process. When the set cannot be known — a lone BPMN file without its
forms, a form, script or decision table that did not read, a manifest section that was refused — only names
mixing Latin and Cyrillic letters are reported: those are wrong whatever the data holds.
"""

from __future__ import annotations

import ast
import difflib
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

from engine import caches
from engine.bpmn import safe_eval
from engine.bpmn.lint import check_dmn_input_entry, foreign_form
from engine.bpmn.manifest import ACTION_OUTPUTS, ManifestSections
from engine.bpmn.xml import BPMN_NS, ROADMAP_NS, SPIFF_NS, XmlDocument, line_of, local_name
from engine.errors import EngineError, Problem
from engine.json_document import JsonDocument, JsonPath, format_path

#: What every instance's data holds from its start (engine.process.instances: the school and the cohort year).
START_DATA = ("school", "cohort")
#: The stand-in for «?» in a decision table's input cell (see lint.check_dmn_input_entry).
_CELL_INPUT = "dmninputexpr"
#: Expressions by the element that holds their text, with what a message calls them.
_EXPRESSIONS = {"conditionExpression": "условие", "timeDuration": "выражение таймера",
                "timeDate": "выражение таймера", "loopCardinality": "выражение цикла",
                "completionCondition": "условие завершения цикла", "loopCondition": "условие цикла"}
_DATA_ELEMENTS = frozenset({"dataObject", "dataObjectReference", "dataInput", "dataOutput", "property",
                            "inputDataItem", "outputDataItem"})
_SPIFF_VARIABLES = frozenset({"variableName", "messageVariable"})
#: Cyrillic letters that look like Latin ones, to name the name that was meant.
_LOOKALIKES = str.maketrans("аеорсухкмтвнАВЕКМНОРСТУХіјѕԁһ", "aeopcyxkmtbhABEKMHOPCTYXijsdh")


@dataclass(frozen=True)
class _Read:
    """One text that reads names, and where a problem about it is reported."""

    text: str
    kind: str  # "expression", "script", "cell" (a decision table's input entry) or "name"
    what: str
    path: str
    line: int | None
    element_id: str | None
    exempt: frozenset[str] = frozenset()  # names judged by another check (a rule's own field)


@dataclass
class _Known:
    names: set[str] = field(default_factory=lambda: set(START_DATA))
    complete: bool = True


def check_names(display: Callable[[str], str], bpmn_docs: list[XmlDocument], dmn_docs: list[XmlDocument],
                form_keys: Mapping[str, set[str]] | None, sections: ManifestSections | None,
                manifest: tuple[str, Mapping[str, object], JsonDocument] | None,
                complete: bool) -> list[Problem]:
    """Problems about names read but never written.

    ``form_keys``: the keys of every form that reads (None: a lone file, forms unknown); ``sections``: the
    manifest's sections as read; ``manifest``: (its path as shown, its raw JSON, the document) for the rules'
    checks; ``complete``: every file of the bundle read and every manifest section with it, so the names the
    data can hold are all known."""
    known = _Known(complete=complete and form_keys is not None and sections is not None)
    reads: list[_Read] = []
    for doc in bpmn_docs:
        _bpmn(doc, display(doc.path), form_keys or {}, known, reads)
    for doc in dmn_docs:
        _dmn(doc, display(doc.path), known, reads)
    if sections is not None:
        for actions in sections.actions.values():
            for action in actions:
                known.names.update(ACTION_OUTPUTS.get(action.action, ()))
    if manifest is not None:
        reads += _manifest_rules(*manifest)
    problems: list[Problem] = []
    for read in reads:
        problems += _check(read, known)
    return problems


# --- what writes names and what reads them ------------------------------------------------------------


def _owner(element: etree._Element) -> etree._Element:
    current: etree._Element | None = element
    while current is not None and not current.get("id"):
        current = current.getparent()
    return current if current is not None else element


def _read(doc_path: str, element: etree._Element, text: str, kind: str, what: str) -> _Read:
    return _Read(text.strip(), kind, what, doc_path, line_of(element), _owner(element).get("id"))


def _bpmn_elements(doc: XmlDocument) -> Iterator[tuple[str, etree._Element]]:
    for element in doc.root.iter():
        if isinstance(element.tag, str):
            yield local_name(element), element


def _bpmn(doc: XmlDocument, path: str, form_keys: Mapping[str, set[str]], known: _Known, reads: list[_Read]) -> None:
    for tag, element in _bpmn_elements(doc):
        text = (element.text or "").strip()
        namespace = etree.QName(element).namespace
        if namespace == SPIFF_NS:
            if tag in ("preScript", "postScript") and text:
                _script(element, text, path, known, reads)
            elif tag in _SPIFF_VARIABLES and text:
                known.names.add(text)
            continue
        if namespace != BPMN_NS:
            continue
        if tag in _EXPRESSIONS and text:
            reads.append(_read(path, element, text, "expression", _EXPRESSIONS[tag]))
        elif tag == "script" and text:
            _script(element, text, path, known, reads)
        elif tag == "loopDataInputRef" and text:
            reads.append(_read(path, element, text, "name", "коллекция цикла (loopDataInputRef)"))
        elif tag == "loopDataOutputRef" and text:
            known.names.add(text)
        elif tag in _DATA_ELEMENTS:
            known.names.update(n for n in (element.get("id"), element.get("name")) if n)
        elif tag == "userTask":
            _user_task(doc, element, path, form_keys, known, reads)
        if element.get("resultVariable"):
            known.names.add(element.get("resultVariable", ""))


def _user_task(doc: XmlDocument, task: etree._Element, path: str, form_keys: Mapping[str, set[str]],
               known: _Known, reads: list[_Read]) -> None:
    form = task.get(f"{{{ROADMAP_NS}}}form", "") or foreign_form(task)
    if form in form_keys:
        known.names.update(form_keys[form])
    else:
        known.complete = False  # no such form, or it did not read: reported on its own
    subject = task.get(f"{{{ROADMAP_NS}}}subject", "")
    if subject:
        reads.append(_read(path, task, subject, "expression", "тема задачи (roadmap:subject)"))


def _script(element: etree._Element, text: str, path: str, known: _Known, reads: list[_Read]) -> None:
    try:
        tree = safe_eval.script_tree(text)
    except EngineError:
        known.complete = False  # refused by the expression check; what it would assign is unknown
        return
    known.names.update(node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                       and isinstance(node.ctx, ast.Store))
    reads.append(_read(path, element, text, "script", "скрипт"))


def _dmn(doc: XmlDocument, path: str, known: _Known, reads: list[_Read]) -> None:
    for tag, element in _bpmn_elements(doc):
        if tag == "output":
            if element.get("name"):
                known.names.add(element.get("name", ""))
            else:
                known.complete = False
            continue
        text_element = next((c for c in element if isinstance(c.tag, str) and local_name(c) == "text"), None)
        text = (text_element.text or "").strip() if text_element is not None else ""
        if not text or tag not in ("inputExpression", "outputEntry", "inputEntry"):
            continue
        kind = "cell" if tag == "inputEntry" else "expression"
        reads.append(_Read(text, kind, "таблица решений", path, line_of(text_element), element.get("id")))


def _manifest_rules(where: str, raw: Mapping[str, object], document: JsonDocument) -> list[_Read]:
    reads = []
    rules = raw.get("rules")
    for task, items in (rules.items() if isinstance(rules, dict) else ()):
        for index, item in enumerate(items if isinstance(items, list) else ()):
            check = item.get("check") if isinstance(item, dict) else None
            if isinstance(check, str) and check.strip():
                at: JsonPath = ("rules", task, index, "check")
                field = item.get("field") if isinstance(item, dict) else None
                # The rule's field is checked against the task's form by manifest.cross_check.
                reads.append(_Read(check, "expression", "проверка правила", where, document.line(at),
                                   format_path(at), frozenset([field]) if isinstance(field, str) else frozenset()))
    return reads


# --- the check ----------------------------------------------------------------------------------------


@lru_cache(maxsize=2048)  # the workspace checks a draft on every view; its expressions rarely change
def _names_read(text: str, kind: str) -> tuple[str, ...] | None:
    """The names a text reads, in order, without repeats; None when it does not parse (reported elsewhere)."""
    if kind == "name":
        return (text,)
    try:
        if kind == "script":
            tree: ast.AST = safe_eval.script_tree(text)
        elif kind == "cell":
            check_dmn_input_entry(text)
            tree = _cell_tree(text)
        else:
            tree = safe_eval.expression_tree(text)
    except (EngineError, SyntaxError):
        return None
    bound = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    loop_targets = {node.id for c in ast.walk(tree) if isinstance(c, ast.comprehension)
                    for node in ast.walk(c.target) if isinstance(node, ast.Name)}
    names = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)]
    skip = loop_targets | (bound if kind != "script" else set()) | {_CELL_INPUT}
    return tuple(name for name in dict.fromkeys(names) if name not in skip and name not in safe_eval.SAFE_FUNCTIONS)


caches.register_lru("names_read", _names_read)


def _cell_tree(text: str) -> ast.AST:
    cell = text.replace("?", _CELL_INPUT)
    try:
        return safe_eval.expression_tree(cell)
    except EngineError:
        return safe_eval.expression_tree(f"{_CELL_INPUT} {cell}")


def _check(read: _Read, known: _Known) -> list[Problem]:
    problems = []
    for name in _names_read(read.text, read.kind) or ():
        if name in known.names or name in read.exempt:
            continue
        mixed = _mixed_scripts(name)
        if mixed:
            meant = next((k for k in sorted(known.names) if k.translate(_LOOKALIKES) == name.translate(_LOOKALIKES)
                          and not _mixed_scripts(k)), None)
            hint = f"; видимо, имелось в виду «{meant}»" if meant else ""
            message = f"{read.what}: в имени «{name}» смешаны латиница и кириллица: {mixed}{hint}"
        elif known.complete and read.kind != "cell":
            close = difflib.get_close_matches(name, sorted(known.names), n=1)
            hint = f"; похожее имя — «{close[0]}»" if close else ""
            message = (f"{read.what}: имени «{name}» нет в данных процесса — его не задают ни поля форм, "
                       f"ни скрипты, ни действия движка, ни таблицы решений{hint}")
        else:
            continue
        problems.append(Problem(read.path, read.line, read.element_id, message))
    return problems


def _mixed_scripts(name: str) -> str:
    """For a name with both Latin and Cyrillic letters, which letters are the odd ones: «а» — кириллическая."""
    scripts: dict[str, list[str]] = {"LATIN": [], "CYRILLIC": []}
    for char in name:
        script = unicodedata.name(char, "").split(" ", 1)[0]
        if script in scripts and char not in scripts[script]:
            scripts[script].append(char)
    latin, cyrillic = scripts["LATIN"], scripts["CYRILLIC"]
    if not latin or not cyrillic:
        return ""
    odd, word = (cyrillic, "кириллическ") if len(cyrillic) <= len(latin) else (latin, "латинск")
    letters = ", ".join(f"«{c}»" for c in odd)
    return f"{letters} — {word}{'ая' if len(odd) == 1 else 'ие'}"
