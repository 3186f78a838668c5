"""«Отчёт о выполнении дорожной карты»: one school's report, from the roadmap's own data.

Its structure follows the appendix of the regional order (seed 000): since when the school takes part, who
coordinates it (regional and municipal coordinators) and who its curator is, the risk directions it works
on, its measures with their status and evidence, the curator's visits, and the results (the execution of the
measures, the indicators of the questionnaires and what the school wrote in its ``school_report`` form).

``build_report`` reads it for a reader already authorized (an engine action, a summary); ``school_report``
checks the reader's scope first: a school sees its own report only, a curator the schools they curate,
coordinators those of their area. The DOCX and PDF renderings are engine/process/report_docx.py and
engine/process/report_pdf.py; both take the plain ``context()`` of a ``SchoolReport``, so the DOCX template an admin
uploads names the same placeholders the PDF shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Who, is_operator
from engine.bpmn.manifest import ManifestSections
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.errors import NotFound
from engine.models import (
    AuditRecord,
    InstanceStatus,
    ProcessInstance,
    RoleGrant,
    School,
    Task,
    User,
    VisitStatus,
)
from engine.org.core import load_user
from engine.org.scopes import OrgPlace
from engine.process.measures import Execution, school_measures
from engine.process.visits import visits_of_school
from engine.roles import Role
from engine.templates.versions import compiled_version
from engine.timing.zones import zone

#: The tasks of the curator's visit reports and of the school's own report, when the template does not say: the
#: task that declares ``attach_school_report`` is the report's, its ``visits`` parameter names the visits' task.
VISIT_ELEMENT = "curator_visit"
REPORT_ELEMENT = "school_report"
ACTION = "attach_school_report"
_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря")
_TERMS = {"h1": "I полугодие", "h2": "II полугодие"}
_TIMING = {"on_time": "в срок", "late": "с опозданием", "overdue": "просрочено", "planned": "в работе"}
_VPR = {"improved": "Результаты ВПР улучшились", "same": "Без изменений", "worse": "Результаты ухудшились"}


@dataclass(frozen=True)
class ReportMeasure:
    number: int
    title: str
    direction: str
    due_date: str  # dd.mm.yyyy
    responsible: str
    status: str  # the template's title of the status
    timing: str  # в срок, с опозданием, просрочено, в работе
    done_on: str
    evidence: tuple[str, ...]  # «note — link», newest last
    accepted: str  # «принято куратором 01.12.2026» or ""


@dataclass(frozen=True)
class ReportVisit:
    date: str
    term: str
    curator: str
    findings: str
    recommendations: str
    status: str = "проведено"  # or «запланировано»: a visit on the schedule not yet made


@dataclass(frozen=True)
class ReportIndicator:
    title: str
    value: str


@dataclass(frozen=True)
class SchoolReport:
    school_code: str
    school_name: str
    municipality: str
    region: str
    since: str  # «декабря 2026 года»: the month the roadmap started
    year: str  # the cohort's year, or the start's
    generated_on: str
    regional_coordinators: tuple[str, ...]
    municipal_coordinators: tuple[str, ...]
    curators: tuple[str, ...]
    director: str
    risk_directions: tuple[str, ...]
    measures: tuple[ReportMeasure, ...]
    execution: Execution
    visits: tuple[ReportVisit, ...]
    indicators: tuple[ReportIndicator, ...]
    completion: str  # what the school stated in its report form, %; "" before it reported
    vpr_dynamics: str
    summary: str

    @property
    def file_stem(self) -> str:
        return f"otchet-{self.school_code}"

    def context(self) -> dict[str, Any]:
        """The report as plain names for a DOCX template (and what the PDF shows): strings, lists, dicts."""
        execution = self.execution
        return {
            "school": {"code": self.school_code, "name": self.school_name, "municipality": self.municipality,
                       "region": self.region, "director": self.director},
            "since": self.since,
            "year": self.year,
            "generated_on": self.generated_on,
            "regional_coordinators": ", ".join(self.regional_coordinators) or "не назначен",
            "municipal_coordinators": ", ".join(self.municipal_coordinators) or "не назначен",
            "curators": ", ".join(self.curators) or "не назначен",
            "risk_directions": list(self.risk_directions),
            "measures": [{**asdict(m), "evidence": "; ".join(m.evidence)} for m in self.measures],
            "execution": {"on_time": execution.on_time, "late": execution.late, "overdue": execution.overdue,
                          "planned": execution.planned, "total": execution.due + execution.planned,
                          "percent": "—" if execution.percent is None else f"{execution.percent}%"},
            "visits": [asdict(v) for v in self.visits],
            "indicators": [asdict(i) for i in self.indicators],
            "results": {"completion": self.completion or "—", "vpr_dynamics": self.vpr_dynamics or "—",
                        "summary": self.summary or "Школа ещё не представила отчёт."},
        }


def report_elements(sections: ManifestSections) -> tuple[str, str]:
    """(the task whose submission is the school's report, the task of the curator's visit reports), as the
    template declares them: the task with the ``attach_school_report`` action and that action's ``visits``."""
    for task, actions in sections.actions.items():
        for action in actions:
            if action.action == ACTION:
                return task, action.params.get("visits") or VISIT_ELEMENT
    return REPORT_ELEMENT, VISIT_ELEMENT


def ru_date(day: date | datetime | None) -> str:
    return day.strftime("%d.%m.%Y") if day is not None else ""


def school_report(db: Database, school_code: str, *, actor: Who) -> SchoolReport:
    """The school's report for anyone whose scope covers the school (its own users, curators, coordinators)
    and for the operator (the CLI)."""
    with db.reading() as session:
        school = session.scalar(select(School).where(School.code == school_code))
        sees = is_operator(actor) or (school is not None and load_user(session, actor).scope.sees(
            OrgPlace(school.id, school.municipality_id, school.region_id)))
        if school is None or not sees:
            raise NotFound(f"школа «{school_code}» не найдена")
        return build_report(session, school, db.now())


def latest_instance(session: Session, school: School) -> ProcessInstance | None:
    """The roadmap the report is about: the school's newest that is not cancelled."""
    return session.scalar(select(ProcessInstance).where(ProcessInstance.school_id == school.id,
                                                        ProcessInstance.status != InstanceStatus.CANCELLED)
                          .order_by(ProcessInstance.id.desc()).limit(1))


def build_report(session: Session, school: School, now: datetime, *,
                 submitted: Mapping[str, Any] | None = None) -> SchoolReport:
    """The report of ``school`` as of ``now``. ``submitted``: the school's report form being submitted (the
    ``attach_school_report`` action), used instead of its last stored submission."""
    instance = latest_instance(session, school)
    local = zone(school.municipality.region.time_zone)
    people = _people(session, school)
    measures: tuple[ReportMeasure, ...] = ()
    execution = Execution()
    directions: tuple[str, ...] = ()
    indicators: tuple[ReportIndicator, ...] = ()
    since, year = "момента запуска дорожной карты (ещё не запущена)", ""
    report_data: Mapping[str, Any] = submitted or {}
    if instance is not None:
        started = instance.started_at.astimezone(local)
        since = f"{_MONTHS[started.month - 1]} {started.year} года"
        year = str(instance.cohort.year) if instance.cohort is not None else str(started.year)
        _, views, execution = school_measures(session, instance.id, now)
        measures = tuple(_measure(n, view) for n, view in enumerate((v for v in views if not v.proposed), 1))
        spec = compiled_version(session, instance.template_version_id)
        data = WorkflowRun.restore(spec, instance.workflow_json).data
        titles = {f.key: f.title for f in spec.spec.sections.risk_factors}
        directions = tuple(titles.get(str(key), str(key)) for key in data.get("risk_directions") or ())
        values = data.get("indicators") or {}
        indicators = tuple(ReportIndicator(ind.title, _number(values.get(key), ind.aggregate))
                           for key, ind in spec.spec.sections.indicators.items() if key in values)
        if submitted is None:
            report_data = _last_submission(session, instance.id, report_elements(spec.spec.sections)[0])
    completion = report_data.get("roadmap_completion")
    return SchoolReport(
        school_code=school.code, school_name=school.name, municipality=school.municipality.name,
        region=school.municipality.region.name, since=since, year=year,
        generated_on=ru_date(now.astimezone(local)),
        regional_coordinators=people[Role.REGIONAL_COORDINATOR], municipal_coordinators=people[
            Role.MUNICIPAL_COORDINATOR], curators=people[Role.CURATOR],
        director=(people[Role.SCHOOL] or ("",))[0], risk_directions=directions, measures=measures,
        execution=execution, visits=tuple(report_visits(session, school)), indicators=indicators,
        completion="" if completion is None else f"{completion:g}%" if isinstance(completion, float | int)
        else str(completion),
        vpr_dynamics=_VPR.get(str(report_data.get("vpr_dynamics") or ""), str(report_data.get("vpr_dynamics") or "")),
        summary=str(report_data.get("report_summary") or ""))


def report_visits(session: Session, school: School) -> list[ReportVisit]:
    """The curator's visits to the school for its report: the visit reports done so far (the template's
    ``curator_visit`` task, or the one ``attach_school_report`` names as ``visits``), oldest first.

    Then the visits still planned on the schedule (``status="запланировано"``), by date."""
    instance = latest_instance(session, school)
    if instance is None:
        return []
    _, element = report_elements(compiled_version(session, instance.template_version_id).spec.sections)
    rows = session.execute(
        select(AuditRecord.details, User.full_name).join(Task, Task.id == AuditRecord.task_id)
        .outerjoin(User, User.id == AuditRecord.actor_id)
        .where(AuditRecord.instance_id == instance.id, AuditRecord.action == "task.completed",
               Task.element_id == element).order_by(AuditRecord.id))
    visits = []
    for details, curator in rows:
        data = (details or {}).get("data") or {}
        day = str(data.get("visit_date") or "")[:10]
        try:
            shown = ru_date(date.fromisoformat(day))
        except ValueError:
            shown = day
        visits.append(ReportVisit(shown, _TERMS.get(str(data.get("visit_term")), str(data.get("visit_term") or "")),
                                  curator or "", str(data.get("visit_findings") or ""),
                                  str(data.get("visit_recommendations") or "")))
    # Visits still ahead on the municipal coordinator's schedule (engine/process/visits.py); done ones are the
    # reports above, cancelled ones are not the school's to report.
    visits.extend(ReportVisit(ru_date(planned["planned_on"]), planned["half_year_title"], "", planned["note"], "",
                              status="запланировано")
                  for planned in visits_of_school(session, school.id) if planned["status"] == VisitStatus.PLANNED)
    return visits


def _last_submission(session: Session, instance_id: int, element_id: str) -> Mapping[str, Any]:
    details = session.scalar(
        select(AuditRecord.details).join(Task, Task.id == AuditRecord.task_id)
        .where(AuditRecord.instance_id == instance_id, AuditRecord.action == "task.completed",
               Task.element_id == element_id).order_by(AuditRecord.id.desc()).limit(1))
    data = (details or {}).get("data")
    return data if isinstance(data, dict) else {}


def _people(session: Session, school: School) -> dict[Role, tuple[str, ...]]:
    """Who holds each role over the school: its own users, curators and the coordinators above it."""
    grants = session.execute(
        select(RoleGrant.role, User.full_name).join(User, User.id == RoleGrant.user_id)
        .where(User.is_active.is_(True),
               ((RoleGrant.school_id == school.id) & RoleGrant.role.in_([Role.SCHOOL, Role.CURATOR]))
               | ((RoleGrant.municipality_id == school.municipality_id)
                  & (RoleGrant.role == Role.MUNICIPAL_COORDINATOR))
               | ((RoleGrant.region_id == school.region_id) & (RoleGrant.role == Role.REGIONAL_COORDINATOR)))
        .order_by(User.full_name))
    found: dict[Role, list[str]] = {role: [] for role in Role}
    for role, name in grants:
        if name not in found[role]:
            found[role].append(name)
    return {role: tuple(names) for role, names in found.items()}


def _measure(number: int, view: Any) -> ReportMeasure:
    evidence = tuple(" — ".join(part for part in (str(e.get("note") or ""), str(e.get("link") or "")) if part)
                     for e in view.evidence)
    accepted = f"принято куратором {ru_date(view.accepted_at)}" if view.accepted_at else ""
    return ReportMeasure(number, view.title, view.direction or "", ru_date(view.due_date), view.responsible,
                         view.status_title, _TIMING.get(view.timing, view.timing), ru_date(view.done_on),
                         evidence, accepted)


def _number(value: Any, aggregate: str) -> str:
    if not isinstance(value, int | float):
        return "нет данных"
    if aggregate == "share":
        return f"{100 * value:.0f}%"
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sample_report() -> SchoolReport:
    """A report with every part filled, to try a replacement DOCX template on before it is accepted."""
    measure = ReportMeasure(1, "Курсы повышения квалификации по формирующему оцениванию", "k3", "30.04.2027",
                            "Заместитель директора по УВР", "Выполнено", "в срок", "28.04.2027",
                            ("Удостоверения — https://school.example/pk",), "принято куратором 05.05.2027")
    return SchoolReport(
        "sample", "МБОУ «Образцовая СОШ»", "Образцовый муниципальный округ", "Образцовая область",
        "января 2027 года", "2027", "10.12.2027", ("Регионова Р. Р.",), ("Муниципалова М. М.",),
        ("Кураторова К. К.",), "Директорова Д. Д.",
        ("Недостаточная предметная и методическая компетентность педагогических работников",), (measure,),
        Execution(on_time=1), (ReportVisit("15.03.2027", "II полугодие", "Кураторова К. К.", "Посещены уроки.",
                                           "Продолжить работу."),),
        (ReportIndicator("Методическая уверенность учителей (1–5)", "3.4"),), "100%", _VPR["improved"],
        "Все мероприятия выполнены в срок.")

