"""Summaries of the school reports for a municipality (all its schools) and a region (per municipality, then every
school), as DOCX and XLSX: what the dashboards show (engine/reports/status.py: stage, overdue tasks, the execution
of the measures), with the curator's visits done and whether the school has submitted its report.

Who may have one: whoever may see the area's dashboard (``areas.area_for``: the municipal coordinator their
municipality, the regional coordinator their region and its municipalities, federal users and admins any), and the
operator (the CLI). A summary of the country is not offered: it is the regional ones side by side.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.shared import Cm, Pt
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import func, select

from engine.actors import Who, is_operator
from engine.bpmn.spec import TemplateSpec
from engine.db import Database
from engine.errors import NotFound
from engine.models import Municipality, Region, School, Task, TaskStatus
from engine.org.areas import Area, area_for
from engine.process.measures import Execution
from engine.process.school_report import report_elements
from engine.reports.dashboards import _text_cells
from engine.reports.status import SchoolStatus, stage_status
from engine.templates.versions import find_version
from engine.timing.zones import zone

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("docx", "xlsx")


@dataclass(frozen=True)
class SummaryRow:
    code: str
    name: str
    municipality: str
    stage: str
    overdue_tasks: int
    measures: Execution
    visits: int
    reported: bool


@dataclass(frozen=True)
class MunicipalityTotal:
    code: str
    name: str
    schools: int
    reported: int
    visits: int
    measures: Execution


@dataclass(frozen=True)
class Summary:
    kind: str  # municipality or region
    code: str
    title: str  # the area's name
    generated_on: str
    schools: tuple[SummaryRow, ...]
    municipalities: tuple[MunicipalityTotal, ...] = field(default_factory=tuple)

    @property
    def measures(self) -> Execution:
        total = Execution()
        for row in self.schools:
            total = total + row.measures
        return total

    @property
    def heading(self) -> str:
        what = "муниципалитета" if self.kind == "municipality" else "региона"
        return f"Сводный отчёт {what} о выполнении дорожных карт «500+»: {self.title}"

    @property
    def file_stem(self) -> str:
        return f"svodka-{self.code}"


def area_summary(db: Database, template_key: str, kind: str, code: str, *, actor: Who) -> Summary:
    """The summary of a municipality or a region (``kind``) by its code, for a reader who may see it."""
    if kind not in ("municipality", "region"):
        raise NotFound(f"сводный отчёт «{kind}» не бывает: municipality или region")
    region_code, municipality_code = (None, code) if kind == "municipality" else (code, None)
    if is_operator(actor):
        area = _area_by_code(db, region_code, municipality_code)
    else:
        area = area_for(db, region_code, municipality_code, actor=actor)
    report = stage_status(db, template_key, region_code=area.region_code, municipality_code=area.municipality_code)
    with db.reading(replica=True) as session:
        report_element, visit_element = report_elements(
            TemplateSpec.from_dict(find_version(session, template_key, include_retired=True).spec).sections)
        codes = [row.school_code for row in report.schools]
        names = dict(session.execute(select(Municipality.code, Municipality.name)
                                     .join(School, School.municipality_id == Municipality.id)
                                     .where(School.code.in_(codes))).all()) if codes else {}
        done = session.execute(
            select(School.code, Task.element_id, func.count()).join(Task, Task.school_id == School.id)
            .where(School.code.in_(codes), Task.status == TaskStatus.COMPLETED,
                   Task.element_id.in_([visit_element, report_element]))
            .group_by(School.code, Task.element_id)).all() if codes else []
        time_zone = session.scalar(select(Region.time_zone).join(Municipality, Municipality.region_id == Region.id)
                                   .join(School, School.municipality_id == Municipality.id)
                                   .where(School.code.in_(codes)).limit(1)) if codes else None
    counts = {(school, element): n for school, element, n in done}
    titles = {stage.key: stage.title for stage in report.stages}
    rows = tuple(_row(row, names, titles, {(school, "visit" if element == visit_element else "report"): n
                                           for (school, element), n in counts.items()}) for row in report.schools)
    today = db.now().astimezone(zone(time_zone)).strftime("%d.%m.%Y")
    return Summary(kind, code, area.title, today, rows, _totals(rows, names) if kind == "region" else ())


def _area_by_code(db: Database, region_code: str | None, municipality_code: str | None) -> Area:
    with db.reading(replica=True) as session:
        if municipality_code:
            found = session.scalar(select(Municipality).where(Municipality.code == municipality_code))
            if found is None:
                raise NotFound(f"муниципалитет «{municipality_code}» не найден")
            return Area(None, found.code, found.name)
        region = session.scalar(select(Region).where(Region.code == region_code))
        if region is None:
            raise NotFound(f"регион «{region_code}» не найден")
        return Area(region.code, None, region.name)


def _row(row: SchoolStatus, names: dict[str, str], titles: dict[str, str],
         counts: dict[tuple[str, str], int]) -> SummaryRow:
    if row.status == "not_started":
        stage = "не начат"
    elif row.status == "completed":
        stage = "завершён"
    elif row.status == "cancelled":
        stage = "снят с проекта"
    else:
        stage = titles.get(row.current_stage or "", row.current_stage or "")
    return SummaryRow(row.school_code, row.school_name, names.get(row.municipality_code, row.municipality_code), stage,
                      row.overdue_tasks, row.measures, counts.get((row.school_code, "visit"), 0),
                      counts.get((row.school_code, "report"), 0) > 0)


def _totals(rows: Iterable[SummaryRow], names: dict[str, str]) -> tuple[MunicipalityTotal, ...]:
    by_name: dict[str, list[SummaryRow]] = {}
    for row in rows:
        by_name.setdefault(row.municipality, []).append(row)
    codes = {name: code for code, name in names.items()}
    totals = []
    for name, members in sorted(by_name.items()):
        measures = Execution()
        for member in members:
            measures = measures + member.measures
        totals.append(MunicipalityTotal(codes.get(name, ""), name, len(members), sum(m.reported for m in members),
                                        sum(m.visits for m in members), measures))
    return tuple(totals)


def _percent(execution: Execution) -> str:
    return "—" if execution.percent is None else f"{execution.percent}%"


_SCHOOL_HEADER = ["Код", "Школа", "Муниципалитет", "Этап", "Просрочено задач", "Мероприятий", "Выполнено в срок",
                  "С опозданием", "Просрочено", "В работе", "Исполнение", "Посещений куратора", "Отчёт школы"]
_AREA_HEADER = ["Муниципалитет", "Школ", "Отчётов представлено", "Посещений куратора", "Мероприятий",
                "Выполнено в срок", "С опозданием", "Просрочено", "В работе", "Исполнение"]


def _school_cells(row: SummaryRow) -> list[object]:
    m = row.measures
    return [row.code, row.name, row.municipality, row.stage, row.overdue_tasks, m.due + m.planned, m.on_time, m.late,
            m.overdue, m.planned, _percent(m), row.visits, "представлен" if row.reported else "нет"]


def _area_cells(total: MunicipalityTotal) -> list[object]:
    m = total.measures
    return [total.name, total.schools, total.reported, total.visits, m.due + m.planned, m.on_time, m.late, m.overdue,
            m.planned, _percent(m)]


def summary_xlsx(summary: Summary) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Школы"
    sheet.append([summary.heading])
    sheet.append([f"Сформирован {summary.generated_on}; исполнение всего: {_percent(summary.measures)}"])
    sheet.append(_SCHOOL_HEADER)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in summary.schools:
        sheet.append(_school_cells(row))
    sheet.freeze_panes = "C4"
    sheets = [sheet]
    if summary.municipalities:
        areas = book.create_sheet("Муниципалитеты", 0)
        areas.append([summary.heading])
        areas.append(_AREA_HEADER)
        for cell in areas[2]:
            cell.font = Font(bold=True)
        for total in summary.municipalities:
            areas.append(_area_cells(total))
        sheets.append(areas)
    for each in sheets:
        for cells in each.iter_rows():
            _text_cells(cells)
        each.column_dimensions["B"].width = 40
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def summary_docx(summary: Summary) -> bytes:
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    doc.styles["Normal"].font.size = Pt(9)
    doc.add_heading(summary.heading, level=1)
    m = summary.measures
    doc.add_paragraph(f"Сформирован {summary.generated_on}. Школ: {len(summary.schools)}; отчётов представлено: "
                      f"{sum(r.reported for r in summary.schools)}; посещений куратора: "
                      f"{sum(r.visits for r in summary.schools)}. Исполнение дорожных карт: {_percent(m)} "
                      f"(в срок — {m.on_time}, с опозданием — {m.late}, просрочено — {m.overdue}, "
                      f"в работе — {m.planned}).")
    if summary.municipalities:
        doc.add_heading("Муниципалитеты", level=2)
        _docx_table(doc, _AREA_HEADER, [_area_cells(t) for t in summary.municipalities])
    doc.add_heading("Школы", level=2)
    _docx_table(doc, _SCHOOL_HEADER, [_school_cells(r) for r in summary.schools])
    doc.add_paragraph()
    coordinator = "Муниципальный координатор" if summary.kind == "municipality" else "Региональный координатор"
    doc.add_paragraph(f"{coordinator} ____________________")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _docx_table(doc: DocxDocument, header: list[str], rows: list[list[object]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.paragraphs[0].add_run(text).bold = True
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = str(value)


def summary_file(summary: Summary, fmt: str) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of the summary as ``fmt`` (docx or xlsx)."""
    if fmt == "xlsx":
        return f"{summary.file_stem}.xlsx", XLSX_TYPE, summary_xlsx(summary)
    if fmt == "docx":
        return f"{summary.file_stem}.docx", DOCX_TYPE, summary_docx(summary)
    raise NotFound(f"формат «{fmt}» не бывает: docx или xlsx")

