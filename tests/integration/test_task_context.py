"""«Для решения»: the context panels the «500+» template declares, read from a real roadmap as it moves on —
response counts against the links handed out, the risk profile with its indicator values, the document
under review with its previous version and what changed, the reviewer's last remarks."""

from __future__ import annotations

from typing import TypeVar

import pytest
from sqlalchemy import event

from engine.actors import OPERATOR
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.errors import NotAllowed
from engine.models import Task
from engine.process import attachments, instances, questionnaires, tasks
from engine.process.cohorts import ensure_cohort
from engine.process.task_context import (
    CommentsPanel,
    DocumentsPanel,
    Panel,
    ResponsesPanel,
    RiskProfilePanel,
    TaskContext,
    ValuesPanel,
    read_context,
    task_context,
)
from engine.templates import versions
from engine.templates.versions import compiled_version
from tests.conftest import Clock
from tests.helpers import ROADMAP
from tests.roadmap_steps import (
    COHORT,
    DIRECTOR,
    EXPECTED_PROFILE,
    START,
    STUDENTS,
    TEACHERS,
    School,
    act,
    new_school,
    only_for,
    run_selection,
)

PDF = b"%PDF-1.4 concept"
P = TypeVar("P")


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def started(timed: Database) -> tuple[School, int]:
    ensure_cohort(timed, COHORT)
    key = versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    school = new_school(timed)
    instance_id = instances.start_instance(timed, key, school.code, cohort_year=COHORT, actor=OPERATOR).instance_id
    run_selection(timed, school, instance_id)
    return school, instance_id


def _context(db: Database, school: School, instance_id: int, element: str, login: str) -> TaskContext:
    [task_id] = only_for(db, school, instance_id, element, login)
    return task_context(db, task_id, actor=login)


def _one(context: TaskContext, kind: type[P]) -> P:
    [panel] = [p for p in context.panels if isinstance(p, kind)]
    return panel


def _queries_for_panels(db: Database, task_id: int) -> tuple[int, TaskContext]:
    """Statements the panels cost on top of what the task page reads anyway (``get_task`` calls ``read_context``
    with its own session, task, template and data)."""
    with db.reading() as session:
        task = session.get(Task, task_id)
        assert task is not None
        compiled = compiled_version(session, task.instance.template_version_id)
        data = WorkflowRun.restore(compiled, task.instance.workflow_json).task_data(task.spiff_task_id)
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            context = read_context(session, task, compiled, data)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen), context


def _kinds(context: TaskContext) -> list[str]:
    return [panel.kind for panel in context.panels]


def _counts(panel: ResponsesPanel) -> dict[str, tuple[int, int | None, bool]]:
    return {g.key: (g.responses, g.expected, g.short) for g in panel.groups}


def test_coverage_is_judged_with_the_counts_in_sight(timed: Database, started: tuple[School, int],
                                                     clock: Clock) -> None:
    school, instance_id = started
    links = questionnaires.create_links(timed, school.code, "teacher", 3, actor=school.director)
    questionnaires.submit_by_link(timed, links[0], TEACHERS[0])

    seen = _context(timed, school, instance_id, "run_questionnaires", school.director)
    assert _kinds(seen) == ["responses"]  # no curator's remark yet: that panel stays away
    responses = _one(seen, ResponsesPanel)
    # One teacher of three; the director (named, expected once) and the groups with no links yet answered nobody.
    assert _counts(responses) == {"director": (0, 1, True), "teacher": (1, 3, True), "student": (0, None, True),
                                  "parent": (0, None, True)}
    assert [g.title for g in responses.short][:2] == ["Анкета директора", "Анкета учителя"]
    [task_id] = only_for(timed, school, instance_id, "run_questionnaires", school.director)
    with pytest.raises(NotAllowed):
        task_context(timed, task_id, actor=school.org.foreign_school_user)

    act(timed, school, instance_id, "run_questionnaires", school.director,
        {"questionnaires_done": True, "comment": "Родители пока не ответили"})
    seen = _context(timed, school, instance_id, "confirm_coverage", school.curator)
    assert _counts(_one(seen, ResponsesPanel))["teacher"] == (1, 3, True)
    [coverage] = only_for(timed, school, instance_id, "confirm_coverage", school.curator)
    assert _queries_for_panels(timed, coverage) == (2, seen)  # answers and links, each counted by group
    [said] = _one(seen, ValuesPanel).values
    assert (said.label, said.value) == ("Комментарий", "Родители пока не ответили")

    clock.advance(days=1)
    act(timed, school, instance_id, "confirm_coverage", school.curator,
        {"coverage_decision": "rework", "coverage_comment": "Нужны ответы родителей и учителей"})
    remark = _one(_context(timed, school, instance_id, "run_questionnaires", school.director), CommentsPanel)
    [comment] = remark.comments
    assert (comment.text, comment.by, comment.at) == ("Нужны ответы родителей и учителей", "Куратор Новый",
                                                      clock.now)
    assert comment.task_name == "Подтвердить охват анкетирования"

    for token, answers in zip(links[1:], TEACHERS[1:3], strict=True):
        questionnaires.submit_by_link(timed, token, answers)
    questionnaires.submit_response(timed, school.code, "director", DIRECTOR, actor=school.director)
    assert _counts(_one(_context(timed, school, instance_id, "run_questionnaires", school.director),
                        ResponsesPanel))["teacher"] == (3, 3, False)


def _through_questionnaires(db: Database, school: School, instance_id: int) -> None:
    questionnaires.submit_response(db, school.code, "director", DIRECTOR, actor=school.director)
    for group, rows in (("teacher", TEACHERS), ("student", STUDENTS),
                        ("parent", [{"events_attended": n, "homework_help": "never"} for n in (0, 2, 1)])):
        for i, answers in enumerate(rows):
            questionnaires.submit_response(db, school.code, group, answers, token=f"{school.code}-{group}{i}",
                                           actor=OPERATOR)
    act(db, school, instance_id, "run_questionnaires", school.director, {"questionnaires_done": True})
    act(db, school, instance_id, "confirm_coverage", school.curator, {"coverage_decision": "accepted"})


def test_risk_directions_are_chosen_seeing_levels_and_indicators(timed: Database,
                                                                 started: tuple[School, int]) -> None:
    school, instance_id = started
    _through_questionnaires(timed, school, instance_id)
    seen = _context(timed, school, instance_id, "choose_risk_directions", school.director)
    assert _kinds(seen) == ["risk_profile"]
    profile = _one(seen, RiskProfilePanel)
    assert {f.key: f.level for f in profile.factors} == EXPECTED_PROFILE
    by_key = {f.key: f for f in profile.factors}
    k3 = by_key["k3"]  # methodical confidence 2, 3, 2, 2
    assert (k3.indicator_title, k3.value, k3.aggregate) == ("Методическая уверенность учителей (1–5)", 2.25, "mean")
    assert (by_key["k4"].value, by_key["k4"].aggregate) == (0.5, "share")  # «never» 2 of 4 teachers
    assert by_key["k1"].title == "Низкий уровень оснащения школы" and by_key["k1"].value == 2
    assert {f.key for f in profile.factors if f.chosen} == {"k1", "k3", "k4"}  # the pre-ticked ones
    assert profile.catalogue_version == "2022"

    act(timed, school, instance_id, "choose_risk_directions", school.director,
        {"risk_directions": ["k1", "k3", "k8"], "justification": "Оснащение и кадры"})
    seen = _context(timed, school, instance_id, "approve_risk_profile", school.curator)
    assert _kinds(seen) == ["risk_profile", "values"]
    assert {f.key for f in _one(seen, RiskProfilePanel).factors if f.chosen} == {"k1", "k3", "k8"}
    assert [(v.label, v.value) for v in _one(seen, ValuesPanel).values] == [("Обоснование выбора", "Оснащение и кадры")]

    act(timed, school, instance_id, "approve_risk_profile", school.curator,
        {"risk_decision": "rework", "risk_comment": "Замените k8 на k4"})
    seen = _context(timed, school, instance_id, "choose_risk_directions", school.director)
    assert [c.text for c in _one(seen, CommentsPanel).comments] == ["Замените k8 на k4"]


def _documents(panel: Panel) -> DocumentsPanel:
    assert isinstance(panel, DocumentsPanel)
    return panel


def test_a_reviewer_sees_the_document_its_previous_version_and_the_last_remarks(
        timed: Database, started: tuple[School, int], clock: Clock) -> None:
    school, instance_id = started
    _through_questionnaires(timed, school, instance_id)
    act(timed, school, instance_id, "choose_risk_directions", school.director, {"risk_directions": ["k1", "k3"]})
    act(timed, school, instance_id, "approve_risk_profile", school.curator, {"risk_decision": "accepted"})
    assert _context(timed, school, instance_id, "prepare_concept", school.director).panels == ()  # nothing yet

    concept = {"concept_title": "Концепция 2027", "concept_summary": "Цели и задачи развития школы на три года."}
    [prepare] = only_for(timed, school, instance_id, "prepare_concept", school.director)
    attachments.upload(timed, prepare, "concept_files", "концепция.pdf", PDF, actor=school.director)
    act(timed, school, instance_id, "prepare_concept", school.director, concept)
    first = _documents(_one(_context(timed, school, instance_id, "review_concept", school.curator), DocumentsPanel))
    assert (first.rounds, first.previous, first.task_name) == (1, None, "Разработать концепцию развития")
    assert first.current is not None and first.current.by == "Маслов Г. Г."
    assert [(f.filename, f.version, f.size) for f in first.current.files] == [("концепция.pdf", 1, len(PDF))]
    assert [(v.key, v.value, v.changed) for v in first.fields] == [
        ("concept_title", "Концепция 2027", False), ("concept_summary", concept["concept_summary"], False),
        ("concept_link", None, False)]
    assert first.field_label == "Файлы концепции"

    clock.advance(days=2)
    act(timed, school, instance_id, "review_concept", school.curator,
        {"concept_decision": "rework", "concept_review_comment": "Добавьте показатели результативности"})
    [remark] = _one(_context(timed, school, instance_id, "prepare_concept", school.director), CommentsPanel).comments
    assert (remark.text, remark.by, remark.at, remark.label) == (
        "Добавьте показатели результативности", "Куратор Новый", clock.now, "Замечания и рекомендации")

    [prepare] = only_for(timed, school, instance_id, "prepare_concept", school.director)
    attachments.upload(timed, prepare, "concept_files", "концепция-2.pdf", PDF + b" v2", actor=school.director)
    act(timed, school, instance_id, "prepare_concept", school.director,
        {**concept, "concept_title": "Концепция 2027, с показателями"})
    seen = _context(timed, school, instance_id, "review_concept", school.curator)
    second = _documents(_one(seen, DocumentsPanel))
    assert second.rounds == 2 and second.current is not None and second.previous is not None
    assert [f.version for f in second.current.files] == [2] and [f.version for f in second.previous.files] == [1]
    title = second.fields[0]
    assert (title.value, title.changed, title.before) == ("Концепция 2027, с показателями", True, "Концепция 2027")
    assert second.fields[1].changed is False
    assert [c.text for c in _one(seen, CommentsPanel).comments] == ["Добавьте показатели результативности"]
    [review] = only_for(timed, school, instance_id, "review_concept", school.curator)
    queries, context = _queries_for_panels(timed, review)
    assert queries <= 2 and context == seen  # the submissions once for both panels, and the files
    assert tasks.get_task(timed, review, actor=school.curator).context == seen

    # One antirisk programme per chosen direction: each review reads its own direction's programme.
    act(timed, school, instance_id, "review_concept", school.curator, {"concept_decision": "accepted"})
    for task_id in only_for(timed, school, instance_id, "prepare_antirisk", school.director):
        name = tasks.get_task(timed, task_id, actor=school.director).task.name
        tasks.complete_task(timed, task_id, {"antirisk_title": "Программа: " + name.split(": ", 1)[1],
                                             "antirisk_goals": "Цели и мероприятия на год."}, actor=school.director)
    reviews = only_for(timed, school, instance_id, "review_antirisk", school.curator)
    assert len(reviews) == 2
    for task_id in reviews:
        name = tasks.get_task(timed, task_id, actor=school.curator).task.name
        panel = _documents(_one(task_context(timed, task_id, actor=school.curator), DocumentsPanel))
        assert panel.rounds == 1 and panel.fields[0].value == "Программа: " + name.split(": ", 1)[1]
