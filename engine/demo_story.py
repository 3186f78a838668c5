"""The demo cohort's story: eight schools at different steps of the roadmap, some on time, some late and
escalated, so that every role has something to do the moment it signs in.

The story is played through the same services a browser uses, each step at a moment in the past (the
services read time from the clock of a ``Database`` sharing the real engine), with the deadline sweep
run at every step and every working morning in between — so reminders, overdue notices and escalations
are the ones the engine itself wrote, at the times it would have written them. The cohort's calendar is
moved with it: selection closed six weeks ago, the questionnaires closed four working days ago, the
concepts and programmes are due in the weeks ahead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from engine.actors import OPERATOR
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.process import attachments, measures, questionnaires, tasks, visits
from engine.process.cohorts import ensure_cohort
from engine.process.instances import CohortStart, start_cohort
from engine.timing.workdays import WorkCalendar

#: How many working days before today each step of a school was taken (``None``: not yet).
START = 40  # the cohort starts: every school's selection task reaches the regional coordinator
SELECTION_CLOSE = 30
CONFIRMED = 33
QUESTIONNAIRE_CLOSE = 4

#: Per school: the steps done and when, in working days before today. A step is an element id, or a
#: ``(element, data)`` pair where the data differs from the step's usual answer.
Step = str | tuple[str, dict[str, Any]]
PLOT: dict[str, list[tuple[int, Step]]] = {
    # Far ahead: the concept went back once for rework; programmes accepted, the roadmap of measures under
    # way — one measure done and accepted, one late (escalated); the municipal coordinator planned the curator's
    # visits: the first one done and its report filed, the next ones ahead.
    "42-TAI-01": [(CONFIRMED, "confirm_participation"), (31, "responses"), (25, "run_questionnaires"),
                  (24, "confirm_coverage"), (22, "choose_risk_directions"), (21, "approve_risk_profile"),
                  (17, "prepare_concept"),
                  (15, ("review_concept", {"concept_decision": "rework", "concept_review_comment":
                                           "Добавьте в концепцию показатели по каждому рисковому направлению "
                                           "и сроки их достижения."})),
                  (14, "prepare_concept"), (13, "review_concept"), (11, "prepare_antirisk"),
                  (10, "prepare_programme"), (9, "review_antirisk"), (8, "review_programme"),
                  (7, "plan_measures"), (6, "visits planned"), (4, "measure started"), (3, "measure done"),
                  (2, "visit report"), (2, "measure accepted")],
    # The concept is with the curator, on time.
    "42-PROM-01": [(CONFIRMED, "confirm_participation"), (30, "responses"), (20, "run_questionnaires"),
                   (18, "confirm_coverage"), (12, "choose_risk_directions"), (10, "approve_risk_profile"),
                   (2, "prepare_concept")],
    # The school finished its questionnaires, the curator has not confirmed the coverage: escalated.
    "42-PROM-02": [(CONFIRMED, "confirm_participation"), (25, "responses"), (13, "run_questionnaires")],
    # Few answers and the questionnaire window is past: the school is late.
    "42-PROM-03": [(CONFIRMED, "confirm_participation"), (20, "few responses")],
    # The risk profile waits for the curator's approval.
    "42-BEL-01": [(CONFIRMED, "confirm_participation"), (28, "responses"), (15, "run_questionnaires"),
                  (13, "confirm_coverage"), (2, "choose_risk_directions")],
    # The school chooses its risk directions.
    "42-BEL-02": [(CONFIRMED, "confirm_participation"), (26, "responses"), (9, "run_questionnaires"),
                  (7, "confirm_coverage")],
    # Questionnaires under way but late.
    "42-TAI-02": [(CONFIRMED, "confirm_participation"), (18, "few responses")],
    # Nobody confirmed the school's participation: the regional coordinator's task is weeks overdue.
    "42-TAI-03": [],
}
CURATOR_OF = {"42-PROM-01": "curator-1", "42-PROM-02": "curator-1", "42-PROM-03": "curator-2",
              "42-BEL-01": "curator-2", "42-BEL-02": "curator-3", "42-TAI-01": "curator-4",
              "42-TAI-02": "curator-4", "42-TAI-03": "curator-4"}
REGIONAL = "region-42"


@dataclass
class StoryClock:
    """The moment the story's services read as now."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Told:
    """What the story did: the cohort started, steps taken and deadline actions the sweeps fired."""

    cohort: CohortStart
    steps: int = 0
    fired: int = 0


def cohort_dates(today: datetime, workdays: WorkCalendar) -> dict[str, str]:
    """The cohort's calendar with today in the middle of the questionnaire and risk-profile stages."""
    def back(days: int) -> str:
        return workdays.subtract_working_days(today, days).date().isoformat()

    def ahead(days: int) -> str:
        return workdays.add_working_days(today, days).date().isoformat()

    return {"selection_close": back(SELECTION_CLOSE), "questionnaire_close": back(QUESTIONNAIRE_CLOSE),
            "concept_due": ahead(20), "programmes_due": ahead(45), "monitoring_report_due": ahead(160),
            "school_report_due": ahead(170), "decision_due": ahead(180)}


def tell(db: Database, template_key: str, year: int, region_code: str, zone: str,
         school_logins: dict[str, str]) -> Told:
    """Create the cohort of ``year`` with the story's calendar, start it for the region's schools
    :data:`START` working days ago, and play the story up to now, in the region's time ``zone``."""
    today = db.now()
    workdays = WorkCalendar().in_zone(zone)
    ensure_cohort(db, year, cohort_dates(today, workdays))
    clock = StoryClock(_morning(workdays, today, START))
    staged = Database(db.engine, clock, sessions=db.sessions)
    staged.caches = db.caches  # the same rows: one cache of live workflows, kept in step
    told = Told(start_cohort(staged, template_key, year, region_code=region_code, actor=OPERATOR))
    # The story's events in time order; a morning sweep on every working day in between.
    events: list[tuple[datetime, Callable[[], None]]] = []
    for code, plot in PLOT.items():
        for days_ago, step in plot:
            moment = _moment(workdays, today, days_ago, code)
            events.append((moment, _step_of(staged, told, workdays, code, school_logins[code], step)))
    mornings = [_morning(workdays, today, days) for days in range(START, -1, -1)]
    events += [(moment, lambda: None) for moment in mornings if moment < today]
    events.sort(key=lambda event: event[0])
    for moment, act in events:
        clock.now = moment
        told.fired += sweep(staged, now=moment).fired
        act()
    told.fired += sweep(db).fired  # and today's, at the real time
    return told


def _morning(workdays: WorkCalendar, today: datetime, days_ago: int) -> datetime:
    day = workdays.local_date(workdays.subtract_working_days(today, days_ago))
    return datetime.combine(day, time(9, 0), workdays.zone)


def _moment(workdays: WorkCalendar, today: datetime, days_ago: int, code: str) -> datetime:
    """A working hour of that local day, different per school so the history does not look machine-made."""
    hour = 10 + sum(map(ord, code)) % 7
    day = workdays.local_date(workdays.subtract_working_days(today, days_ago))
    moment = datetime.combine(day, time(hour, 15 + len(code)), workdays.zone)
    return min(moment, today - timedelta(minutes=5))


def _step_of(db: Database, told: Told, workdays: WorkCalendar, code: str, director: str,
             step: Step) -> Callable[[], None]:
    element, data = step if isinstance(step, tuple) else (step, None)

    def act() -> None:
        if element in ("responses", "few responses"):
            _answer(db, code, director, few=element == "few responses")
        elif element.startswith("measure "):
            _measure(db, code, director, element.removeprefix("measure "))
        elif element == "visits planned":
            _plan_visits(db, workdays, code)
        elif element == "visit report":
            _visit_report(db, workdays, code)
        else:
            _complete(db, workdays, code, director, element, data)
        told.steps += 1
    return act


def _complete(db: Database, workdays: WorkCalendar, code: str, director: str, element: str,
              data: dict[str, Any] | None) -> None:
    login = _who(element, code, director)
    found = [t for t in tasks.list_tasks(db, actor=login, school=code) if t.element_id == element]
    assert found, f"{code}: no open {element} for {login}"
    for task in found:  # the anti-risk programmes: one task per chosen direction, all done that day
        if element in ("prepare_concept", "prepare_programme"):
            _upload(db, task.id, element.removeprefix("prepare_"), login)
        answer = data if data is not None else _answer_of(db, workdays, element, code, task.id, login)
        tasks.complete_task(db, task.id, answer, actor=login)


def _who(element: str, code: str, director: str) -> str:
    if element == "confirm_participation":
        return REGIONAL
    if element.startswith(("confirm_coverage", "approve_", "review_")):
        return CURATOR_OF[code]
    return director


def _answer_of(db: Database, workdays: WorkCalendar, element: str, code: str, task_id: int,
               login: str) -> dict[str, Any]:
    if element == "confirm_participation":
        return {"participation": "confirmed", "curator_login": CURATOR_OF[code], "order_number": "106-р",
                "order_date": workdays.local_date(db.now()).isoformat()}
    if element == "choose_risk_directions":  # the form proposes the high risks; the school keeps three
        proposed = tasks.get_task(db, task_id, actor=login).values.get("risk_directions") or []
        return {"risk_directions": proposed[:3], "justification": "Выбраны факторы с высоким уровнем риска "
                                                                 "по результатам анкетирования."}
    if element == "plan_measures":
        today = workdays.local_date(db.now())
        chosen = tasks.get_task(db, task_id, actor=login).choices.get("direction_choices") or [{"value": None}]
        return {"measures": [{"title": title, "direction": chosen[index % len(chosen)]["value"],
                              "due_date": workdays.add_working_days(datetime.combine(today, time(12), workdays.zone),
                                                                    days).date().isoformat(), "owner": owner}
                for index, (title, days, owner) in enumerate(MEASURES)], "plan_comment": "Согласовано с куратором."}
    return dict(ANSWERS[element])


#: The school's roadmap of measures: title, working days from planning to its due date, who answers for it.
#: Planned seven working days ago: the first is done on its day, the second four working days late (escalated).
MEASURES = [
    ("Методический семинар «Работа с детьми с трудностями в обучении»", 4, "Заместитель директора по УВР"),
    ("Диагностика профессиональных дефицитов учителей", 3, "Руководитель методического объединения"),
    ("Курсы повышения квалификации для учителей математики", 17, "Заместитель директора по УВР"),
    ("Оснащение кабинета физики", 50, "Директор"),
]


def _measure(db: Database, code: str, director: str, what: str) -> None:
    """The first measure of the school's roadmap started, done with evidence, and accepted by the curator."""
    [first] = [m for m in measures.list_measures(db, code, actor=director).measures if m.title == MEASURES[0][0]]
    if what == "started":
        measures.update_measure(db, first.id, status="in_progress", actor=director)
    elif what == "done":
        measures.update_measure(db, first.id, status="done", actor=director,
                                evidence_link="https://school.example/seminar-2027",
                                evidence_note="Программа и лист регистрации участников семинара")
    else:
        measures.review_measure(db, first.id, accept=True, actor=CURATOR_OF[code])


MUNICIPAL_OF = {"42-PROM": "mun-prom", "42-BEL": "mun-bel", "42-TAI": "mun-tai"}
#: The curator's visits the municipal coordinator plans, in working days from planning: the first one is done
#: four working days later (its report links to it), the next ones lie ahead of today.
VISITS = [(4, "Посещение уроков математики, беседа с руководителями МО"), (20, "Мониторинг мероприятий дорожной карты"),
          (60, "Итоги полугодия: выполнение дорожной карты")]


def _plan_visits(db: Database, workdays: WorkCalendar, code: str) -> None:
    today = workdays.local_date(db.now())
    for days, note in VISITS:
        day = workdays.local_date(workdays.add_working_days(datetime.combine(today, time(12), workdays.zone), days))
        visits.plan_visit(db, code, planned_on=day, note=note, actor=MUNICIPAL_OF[code.rsplit("-", 1)[0]])


def _visit_report(db: Database, workdays: WorkCalendar, code: str) -> None:
    """The curator visited today and files the report: it links to the planned visit nearest to today."""
    curator = CURATOR_OF[code]
    [task] = [t for t in tasks.list_tasks(db, actor=curator, school=code) if t.element_id == "curator_visit"]
    today = workdays.local_date(db.now())
    tasks.complete_task(db, task.id, {"visit_term": "h1" if today.month >= 9 else "h2",
                                      "visit_date": today.isoformat(),
                                      "visit_findings": "Посещены уроки математики и физики; обсуждены итоги "
                                                        "диагностики профессиональных дефицитов.",
                                      "visit_recommendations": "Провести методический семинар по результатам "
                                                               "посещения."}, actor=curator)


ANSWERS: dict[str, dict[str, Any]] = {
    "run_questionnaires": {"questionnaires_done": True},
    "confirm_coverage": {"coverage_decision": "accepted"},
    "approve_risk_profile": {"risk_decision": "accepted"},
    "review_concept": {"concept_decision": "accepted"},
    "review_programme": {"programme_decision": "accepted"},
    "review_antirisk": {"antirisk_decision": "accepted"},
    "prepare_antirisk": {"antirisk_title": "Антирисковая программа",
                         "antirisk_goals": "Цели, задачи и мероприятия по снижению риска на три года."},
    "prepare_concept": {"concept_title": "Концепция развития школы на 2027–2029 годы",
                        "concept_summary": "Миссия, цели и задачи развития школы; ожидаемые результаты и "
                                           "показатели по выбранным рисковым направлениям."},
    "prepare_programme": {"programme_title": "Среднесрочная программа развития на 2027–2029 годы",
                          "programme_summary": "Цели, задачи и мероприятия на три года с показателями "
                                               "результативности и ответственными."},
}


def _upload(db: Database, task_id: int, prefix: str, login: str) -> None:
    """A small PDF for the document field, a new version each time the step is taken."""
    body = b"%PDF-1.4\n% demo\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    attachments.upload(db, task_id, f"{prefix}_files", f"{prefix}.pdf", body + db.now().isoformat().encode(),
                       actor=login)


def _answer(db: Database, code: str, director: str, *, few: bool) -> None:
    """Questionnaire answers through personal links, as respondents give them; ``few``: a slow start."""
    rng = random.Random(code)  # noqa: S311 - made-up answers, not secrets
    sizes = {"teacher": 1, "student": 3, "parent": 0} if few else \
        {"teacher": rng.randint(8, 14), "student": rng.randint(25, 40), "parent": rng.randint(12, 20)}
    questionnaires.submit_response(db, code, "director", _director(rng), actor=director)
    for group, count in sizes.items():
        if count == 0:
            continue
        for token in questionnaires.create_links(db, code, group, count, actor=director):
            questionnaires.submit_by_link(db, token, RESPONDENTS[group](rng))


def _director(rng: random.Random) -> dict[str, Any]:
    return {"equipment_level": rng.randint(1, 3), "teacher_vacancies": rng.randint(0, 4),
            "students_at_risk_share": rng.randint(15, 45), "non_native_share": rng.randint(0, 15)}


RESPONDENTS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "teacher": lambda rng: {"methodical_confidence": rng.choice([2, 2, 3, 3, 4]),
                            "differentiated_tasks": rng.choice(["often", "sometimes", "never", "never"]),
                            "pd_last_3y": rng.random() < 0.6,
                            "discipline_problems": rng.choice(["often", "sometimes", "rarely"])},
    "student": lambda rng: {"grade": rng.choice(["5", "6", "7", "8", "9"]),
                            "feel_safe": rng.choice(["yes", "yes", "mostly", "no"]),
                            "lessons_disrupted": rng.choice(["often", "sometimes", "rarely"]),
                            "learning_interest": rng.choice(["high", "medium", "low", "low"])},
    "parent": lambda rng: {"events_attended": rng.randint(0, 4),
                           "homework_help": rng.choice(["regularly", "sometimes", "never"])},
}
