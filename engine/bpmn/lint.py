"""Our rules for BPMN and DMN files, checked on the XML before SpiffWorkflow sees it.

Every rule reports a located ``Problem`` and moves on, so an admin sees all that is wrong at once.
Expressions are checked with the same safe evaluator that runs them, so a template that passes here
cannot smuggle code past it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn import safe_eval
from engine.bpmn.escalation import parse_escalation
from engine.bpmn.foreign_expressions import foreign_expression
from engine.bpmn.manifest import EscalationStep
from engine.bpmn.spec import UserTaskSpec
from engine.bpmn.xml import BPMN_NS, ROADMAP_NS, SPIFF_NS, XmlDocument, line_of, local_name, namespace, owner_id
from engine.errors import EngineError, ExpressionRejected, Problem
from engine.timing.due import DueRule

#: BPMN elements the engine runs. Anything else in the BPMN namespace is refused by name.
SUPPORTED_BPMN = frozenset({
    "definitions", "process", "collaboration", "participant", "laneSet", "lane", "childLaneSet",
    "flowNodeRef", "startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent",
    "intermediateThrowEvent", "userTask", "scriptTask", "businessRuleTask", "task", "subProcess",
    "callActivity", "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "sequenceFlow", "conditionExpression", "incoming", "outgoing", "documentation",
    "extensionElements", "textAnnotation", "text", "association", "group", "category", "categoryValue",
    "timerEventDefinition", "timeDuration", "timeDate", "timeCycle", "terminateEventDefinition",
    "errorEventDefinition", "error", "escalationEventDefinition", "escalation", "script",
    "multiInstanceLoopCharacteristics", "loopCardinality", "completionCondition",
    "standardLoopCharacteristics", "loopCondition", "dataObject", "dataObjectReference",
    "dataInputAssociation", "dataOutputAssociation", "sourceRef", "targetRef", "property",
    "ioSpecification", "dataInput", "dataOutput", "inputSet", "outputSet", "dataInputRefs",
    "dataOutputRefs", "extension", "import", "signal", "message", "loopDataInputRef", "loopDataOutputRef",
    "inputDataItem", "outputDataItem",
    # Descriptions that change nothing about a run: a data object's state label, the type of a data item,
    # monitoring and auditing hooks, a relationship that attaches other models' data (BPSim simulation
    # scenarios) to this one. Modelers write them freely; SpiffWorkflow ignores them.
    "dataState", "itemDefinition", "auditing", "monitoring", "categoryValueRef", "relationship", "source", "target",
})
#: What to use instead of BPMN elements that assign work another way than the engine does.
_BPMN_ADVICE = dict.fromkeys(
    ("performer", "humanPerformer", "potentialOwner", "resourceRole", "resourceAssignmentExpression"),
    "исполнителя задаёт дорожка (lane) с ролью",
)

_SCRIPT_EXTENSIONS = ("preScript", "postScript")
_EXPRESSION_TAGS = frozenset({"conditionExpression", "timeDuration", "timeDate", "timeCycle",
                              "loopCardinality", "completionCondition", "loopCondition"})


@dataclass
class LintContext:
    """What the rules need to know about the rest of the bundle."""

    roles: tuple[str, ...]
    stages: frozenset[str] | None  # None: a lone BPMN file, stages unknown
    forms: frozenset[str] | None  # None: a lone BPMN file, forms unknown
    deadlines: Mapping[str, str]
    decisions: frozenset[str] | None
    display: Callable[[str], str]
    problems: list[Problem] = field(default_factory=list)
    user_tasks: dict[str, UserTaskSpec] = field(default_factory=dict)
    process_ids: set[str] = field(default_factory=set)
    #: Tasks not to be told they have no deadline: manifest.json gave them one that was refused and reported
    #: there. None: every task (the manifest's deadlines could not be read at all).
    deadlines_reported: frozenset[str] | None = frozenset()

    def report(self, doc: XmlDocument, element: etree._Element | None, message: str) -> None:
        element_id = owner_id(element) if element is not None else None
        line = line_of(element) if element is not None else None
        self.problems.append(Problem(self.display(doc.path), line, element_id, message))


def _bpmn_elements(doc: XmlDocument) -> Iterator[etree._Element]:
    """BPMN elements of the model in document order, without what a modeler keeps inside ``extensionElements``
    (its metadata) and without the insides of an element the engine does not run (reported once, as a whole:
    a ``conditionalEventDefinition``, not also its ``condition``)."""
    stack = [doc.root]
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            continue
        if namespace(element) == BPMN_NS:
            yield element
            if local_name(element) == "extensionElements" or local_name(element) not in SUPPORTED_BPMN:
                continue
        stack.extend(reversed(element))


def lint_bpmn(doc: XmlDocument, ctx: LintContext) -> None:
    if local_name(doc.root) != "definitions" or namespace(doc.root) != BPMN_NS:
        ctx.report(doc, doc.root, "это не BPMN 2.0: корневой элемент должен быть bpmn:definitions")
        return
    check_foreign_extensions(doc, ctx)
    for element in _bpmn_elements(doc):
        _check_element(doc, element, ctx)
    processes = doc.root.findall(f"{{{BPMN_NS}}}process")
    if ctx.forms is None and processes and all(p.get("isExecutable") == "false" for p in processes):
        # A lone file runs its first executable process; modelers that draw for documentation
        # (Signavio, Bizagi, ADONIS …) mark every process non-executable by default.
        ctx.report(doc, processes[0], "процесс отмечен как неисполняемый (isExecutable=\"false\"): "
                                      "отметьте его исполняемым в моделере, иначе движку нечего запускать")
    for process in processes:
        ctx.process_ids.add(process.get("id", ""))
        _check_process(doc, process, ctx)


def _check_element(doc: XmlDocument, element: etree._Element, ctx: LintContext) -> None:
    tag = local_name(element)
    if tag in _BPMN_ADVICE:
        ctx.report(doc, element, f"элемент «{tag}» не поддерживается: {_BPMN_ADVICE[tag]}")
    elif tag not in SUPPORTED_BPMN:
        ctx.report(doc, element, f"элемент «{tag}» не поддерживается движком")
    elif tag == "timeCycle":
        ctx.report(doc, _owner(element), "повторяющиеся таймеры (timeCycle) не поддерживаются: "
                                         "используйте timeDuration в цикле процесса")
    elif tag == "timerEventDefinition" and local_name(element.getparent()) == "startEvent":
        ctx.report(doc, _owner(element), "таймер на стартовом событии не поддерживается: "
                                         "процессы запускаются движком (когорта, команда start)")
    elif tag in _EXPRESSION_TAGS:
        _check_text(doc, element, ctx, safe_eval.check_expression, "выражение")
    elif tag == "script":
        _check_text(doc, element, ctx, safe_eval.check_script, "скрипт")
    for extension in element.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}*"):
        if local_name(extension) in _SCRIPT_EXTENSIONS:
            _check_text(doc, extension, ctx, safe_eval.check_script, "скрипт", owner=element)


def _owner(element: etree._Element) -> etree._Element:
    """The element an admin would click: a condition's sequence flow, a timer's event, a script's task."""
    current: etree._Element | None = element
    while current is not None and (not current.get("id") or local_name(current).endswith("Definition")):
        current = current.getparent()
    return current if current is not None else element


def _check_text(doc: XmlDocument, element: etree._Element, ctx: LintContext,
                check: Callable[[str], None], what: str, owner: etree._Element | None = None) -> None:
    text = (element.text or "").strip()
    if not text:
        return
    try:
        check(text)
    except EngineError as err:
        where = owner if owner is not None else _owner(element)
        foreign = foreign_expression(text) if check is safe_eval.check_expression else None
        if foreign is not None:
            ctx.report(doc, where, f"{what} «{_shorten(text)}» {foreign}")
        else:
            ctx.report(doc, where, f"{what} «{_shorten(text)}» отклонено: {err.message}")


def _shorten(text: str, limit: int = 60) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _lane_roles(doc: XmlDocument, process: etree._Element, ctx: LintContext) -> dict[str, str | None]:
    """Map flow node id -> role, reporting lanes that are not known roles (their nodes map to None: the lane
    is the problem, already reported, not the tasks in it)."""
    roles: dict[str, str | None] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        role: str | None = lane.get(f"{{{ROADMAP_NS}}}role") or lane.get("id", "")
        if role not in ctx.roles:
            title = lane.get("name") or lane.get("id")
            ctx.report(doc, lane, f"дорожка «{title}» не соответствует известной роли "
                                  f"(roadmap:role или id дорожки: {', '.join(ctx.roles)})")
            role = None
        for ref in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef"):
            roles.setdefault((ref.text or "").strip(), role)
    return roles


def _check_process(doc: XmlDocument, process: etree._Element, ctx: LintContext) -> None:
    if process.find(f"{{{BPMN_NS}}}startEvent") is None:
        ctx.report(doc, process, "в процессе нет стартового события (startEvent)")
    roles = _lane_roles(doc, process, ctx)
    _check_flows(doc, process, ctx)
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        task_id = task.get("id", "")
        _check_user_task(doc, task, roles.get(task_id), task_id in roles, process.get("id", ""), ctx)
    for rule_task in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        _check_decision_ref(doc, rule_task, ctx)


def _check_flows(doc: XmlDocument, process: etree._Element, ctx: LintContext) -> None:
    ids = {e.get("id") for e in process.iter() if isinstance(e.tag, str) and e.get("id")}
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end, "")
            if ref not in ids:
                ctx.report(doc, flow, f"поток ссылается на несуществующий элемент «{ref}» ({end})")


def _check_user_task(doc: XmlDocument, task: etree._Element, role: str | None, in_lane: bool,
                     process_id: str, ctx: LintContext) -> None:
    task_id = task.get("id", "")
    problems_before = len(ctx.problems)
    if not in_lane:
        ctx.report(doc, task, "пользовательская задача вне дорожки: не определена роль исполнителя")
    stage = task.get(f"{{{ROADMAP_NS}}}stage", "")
    if not stage:
        ctx.report(doc, task, "не указан этап задачи (roadmap:stage)")
    elif ctx.stages is not None and stage not in ctx.stages:
        ctx.report(doc, task, f"этап «{stage}» не объявлен в manifest.json")
    form = task.get(f"{{{ROADMAP_NS}}}form", "") or foreign_form(task)
    if not form:
        ctx.report(doc, task, "у пользовательской задачи нет формы (roadmap:form)")
    elif ctx.forms is not None and form not in ctx.forms:
        ctx.report(doc, task, f"форма «{form}» не найдена: нет файла forms/{form}.form")
    deadline = task.get(f"{{{ROADMAP_NS}}}deadline") or ctx.deadlines.get(task_id, "")
    if not deadline:
        if ctx.deadlines_reported is not None and task_id not in ctx.deadlines_reported:
            ctx.report(doc, task, "не задано правило срока (roadmap:deadline или deadlines в manifest.json)")
    else:
        try:
            DueRule.parse(deadline)
        except ValueError as err:
            ctx.report(doc, task, str(err))
    subject = task.get(f"{{{ROADMAP_NS}}}subject", "")
    if subject:
        _check_attribute(doc, task, ctx, subject, "тема задачи (roadmap:subject)")
    escalation = _escalation(doc, task, ctx)
    if len(ctx.problems) == problems_before and role is not None:
        ctx.user_tasks[task_id] = UserTaskSpec(
            element_id=task_id, name=task.get("name") or task_id, role=role, stage=stage,
            form=form, deadline=deadline, process_id=process_id,
            documentation=_documentation(task), subject=subject, escalation=escalation,
        )


def _escalation(doc: XmlDocument, task: etree._Element, ctx: LintContext) -> tuple[EscalationStep, ...] | None:
    """The task's own escalation chain, or None when it has no roadmap:escalation (the manifest's applies)."""
    text = task.get(f"{{{ROADMAP_NS}}}escalation")
    if text is None:
        return None
    try:
        return parse_escalation(text)
    except ValueError as err:
        ctx.report(doc, task, f"эскалация (roadmap:escalation): {err}")
        return None


def _check_attribute(doc: XmlDocument, element: etree._Element, ctx: LintContext, text: str, what: str) -> None:
    try:
        safe_eval.check_expression(text)
    except EngineError as err:
        ctx.report(doc, element, f"{what} «{_shorten(text)}» отклонено: {err.message}")


def _documentation(element: etree._Element) -> str:
    doc = element.find(f"{{{BPMN_NS}}}documentation")
    return (doc.text or "").strip() if doc is not None else ""


def _check_decision_ref(doc: XmlDocument, task: etree._Element, ctx: LintContext) -> None:
    ref = task.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
    decision = (ref.text or "").strip() if ref is not None else ""
    if not decision:
        ctx.report(doc, task, "у задачи бизнес-правила не указана таблица решений "
                              "(spiffworkflow:calledDecisionId)")
    elif ctx.decisions is not None and decision not in ctx.decisions:
        ctx.report(doc, task, f"таблица решений «{decision}» не найдена среди DMN-файлов шаблона")


def decision_ids(doc: XmlDocument) -> set[str]:
    return {d.get("id", "") for d in doc.root.iter() if local_name(d) == "decision"}


def lint_dmn(doc: XmlDocument, ctx: LintContext) -> None:
    if local_name(doc.root) != "definitions":
        ctx.report(doc, doc.root, "это не DMN: корневой элемент должен быть definitions")
        return
    check_foreign_extensions(doc, ctx)
    for element in doc.root.iter():
        tag = local_name(element)
        if tag == "inputExpression" or tag == "outputEntry":
            text_element = element.find(f"{{{namespace(element)}}}text")
            if text_element is not None:
                _check_text(doc, text_element, ctx, safe_eval.check_expression, "выражение", owner=element)
        elif tag == "inputEntry":
            text_element = element.find(f"{{{namespace(element)}}}text")
            if text_element is not None:
                _check_text(doc, text_element, ctx, check_dmn_input_entry, "условие", owner=element)


def check_dmn_input_entry(text: str) -> None:
    """A DMN cell is an expression (``"high"``), a comparison tail (``< 30``) or uses ``?`` for the input."""
    cell = text.replace("?", "dmninputexpr")
    try:
        safe_eval.validate_syntax(cell)
    except SyntaxError:
        try:
            safe_eval.validate_syntax(f"dmninputexpr {cell}")
        except SyntaxError as err:
            raise ExpressionRejected(f"условие не разбирается: {err.msg}") from None


# --- files from other modelers (bpmn.io, Camunda Modeler 7 and 8) ---------------------------------------

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
CAMUNDA_DMN_NS = "http://camunda.org/schema/1.0/dmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_FOREIGN = {CAMUNDA_NS: "camunda", CAMUNDA_DMN_NS: "camunda", ZEEBE_NS: "zeebe"}

#: Modeler metadata that changes nothing about how a process runs: kept and never reported.
_HARMLESS = frozenset({
    "modelerTemplate", "modelerTemplateVersion", "modelerTemplateIcon", "historyTimeToLive", "versionTag",
    "isStartableInTasklist", "asyncBefore", "asyncAfter", "async", "exclusive", "jobPriority", "taskPriority",
    "failedJobRetryTimeCycle", "properties", "property", "userTask", "calledElementBinding",
    "calledElementVersion", "calledElementVersionTag", "decisionRefBinding", "decisionRefVersion",
    "diagramRelationId",
})
#: Ways other modelers name a user task's form; the engine reads them as ``roadmap:form``.
_FORM_ALIASES = frozenset({"formKey", "formRef", "formDefinition"})

_LANE = "исполнителя задаёт дорожка (lane) с ролью"
_CODE = ("движок не вызывает внешний код: используйте скрипт-задачу с безопасным выражением "
         "или действие движка (actions в manifest.json)")
_LISTENER = "вместо слушателя — скрипт-задача или spiffworkflow:preScript/postScript у задачи"
_DATA = "данные процесса общие для всех задач; значения готовит скрипт-задача"
_ADVICE = {
    "assignee": _LANE, "candidateUsers": _LANE, "candidateGroups": _LANE, "assignmentDefinition": _LANE,
    "dueDate": "срок задаётся атрибутом roadmap:deadline",
    "taskSchedule": "срок задаётся атрибутом roadmap:deadline",
    "followUpDate": ("эскалация задачи задаётся атрибутом roadmap:escalation, общие напоминания и эскалация — "
                     "разделом escalation в manifest.json"),
    "priority": "очерёдность задач задаётся их сроком (roadmap:deadline)",
    "class": _CODE, "delegateExpression": _CODE, "expression": _CODE, "type": _CODE, "topic": _CODE,
    "taskDefinition": _CODE, "taskHeaders": _CODE, "connector": _CODE, "field": _CODE,
    "variableMappingClass": _CODE, "variableMappingDelegateExpression": _CODE,
    "taskListener": _LISTENER, "executionListener": _LISTENER, "executionListeners": _LISTENER,
    "inputOutput": _DATA, "ioMapping": _DATA, "in": _DATA, "out": _DATA,
    "resultVariable": "результат скрипта задаётся присваиванием в самом скрипте (x = …)",
    "resource": "скрипт пишется прямо в bpmn:script (безопасное подмножество Python)",
    "script": "скрипт пишется прямо в bpmn:script (безопасное подмножество Python)",
    "decisionRef": "таблицу решений задаёт spiffworkflow:calledDecisionId",
    "calledDecision": "таблицу решений задаёт spiffworkflow:calledDecisionId",
    "calledElement": "вызываемый процесс задаётся атрибутом calledElement у bpmn:callActivity",
    "formData": "поля формы задаются файлом forms/ИМЯ.form (form-js) и атрибутом roadmap:form",
    "formField": "поля формы задаются файлом forms/ИМЯ.form (form-js) и атрибутом roadmap:form",
    "initiator": "процессы запускает движок (когорта, команда start), инициатора у них нет",
    "collection": "коллекция задаётся элементами bpmn:loopDataInputRef и bpmn:inputDataItem",
    "elementVariable": "коллекция задаётся элементами bpmn:loopDataInputRef и bpmn:inputDataItem",
    "loopCharacteristics": "коллекция задаётся элементами bpmn:loopDataInputRef и bpmn:inputDataItem",
    "inputVariable": "во входных ячейках таблицы значение входа обозначается «?»",
}


def _foreign_name(node: etree._Element | str) -> tuple[str, str] | None:
    """``(prefix, local name)`` of a Camunda/Zeebe element or attribute name; None for anything else."""
    qname = etree.QName(node)
    prefix = _FOREIGN.get(qname.namespace or "")
    return (prefix, qname.localname) if prefix else None


def check_foreign_extensions(doc: XmlDocument, ctx: LintContext) -> None:
    """One rule over Camunda/Zeebe attributes and extension elements: what the engine can use is used
    (a user task's form), harmless metadata is kept, everything else is reported with what to use instead."""
    for element in doc.root.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in element.attrib:
            _report_foreign(doc, ctx, element, _foreign_name(attribute), element)
        foreign = _foreign_name(element)
        parent = element.getparent()
        if foreign is not None and (parent is None or _foreign_name(parent) is None):
            _report_foreign(doc, ctx, parent if parent is not None else element, foreign, element)


def _report_foreign(doc: XmlDocument, ctx: LintContext, owner: etree._Element,
                    foreign: tuple[str, str] | None, where: etree._Element) -> None:
    if foreign is None or foreign[1] in _HARMLESS:
        return
    prefix, name = foreign
    target = _owner(owner)
    if name in _FORM_ALIASES:
        if local_name(target) == "userTask":
            return
        advice = "форма бывает только у пользовательской задачи (roadmap:form)"
    else:
        advice = _ADVICE.get(name, "удалите его или замените средствами шаблона (см. docs/templates.md)")
    message = f"{prefix}:{name} не поддерживается: {advice}"
    ctx.problems.append(Problem(ctx.display(doc.path), line_of(where), owner_id(target), message))


def foreign_form(task: etree._Element) -> str:
    """A user task's form as Camunda Modeler writes it (``camunda:formKey``, ``zeebe:formDefinition``),
    read as the name of ``forms/NAME.form``: ``camunda-forms:bpmn:review``, ``forms/review.form`` → review."""
    raw = task.get(f"{{{CAMUNDA_NS}}}formKey") or task.get(f"{{{CAMUNDA_NS}}}formRef") or ""
    definition = task.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}formDefinition")
    if not raw and definition is not None:
        raw = definition.get("formId") or definition.get("formKey") or ""
    name = raw.strip().rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    for suffix in (".form", ".html"):
        name = name.removesuffix(suffix)
    return name

