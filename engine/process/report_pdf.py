"""The school report as PDF (fpdf2), with DejaVu fonts for the Cyrillic text.

The font is a TrueType file: ``REPORT_FONT`` names it (default: Debian's fonts-dejavu-core,
/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf); its bold face is the file beside it with ``-Bold`` before
the extension, and the regular face stands in when there is none. Without the font the PDF cannot be made:
``ReportUnavailable`` (HTTP 503) says so and what to install, while the DOCX still works. scripts/report_tools.sh
installs the fonts (``make services``).

The PDF shows what the default DOCX template shows, from the same ``SchoolReport.context()``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from engine.errors import EngineError
from engine.process.school_report import SchoolReport

DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PDF_TYPE = "application/pdf"


class ReportUnavailable(EngineError):
    """A report format that this installation cannot make now (the PDF without its font)."""


def font_paths(env: dict[str, str] | None = None) -> tuple[Path, Path]:
    """(regular, bold) TrueType files; ``ReportUnavailable`` when the regular one is missing."""
    regular = Path((env if env is not None else os.environ).get("REPORT_FONT") or DEFAULT_FONT)
    if not regular.is_file():
        raise ReportUnavailable(f"отчёт в PDF недоступен: нет файла шрифта {regular} (установите пакет "
                                "fonts-dejavu-core или укажите шрифт TrueType в REPORT_FONT); отчёт в DOCX доступен")
    bold = regular.with_name(f"{regular.stem}-Bold{regular.suffix}")
    return regular, bold if bold.is_file() else regular


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("Report", size=8)
        self.cell(0, 5, f"{self.footer_text} — стр. {self.page_no()}/{{nb}}", align="R")


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.will_page_break(30):  # a heading is not left alone at the foot of a page
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font("Report", "B", 12)
    pdf.multi_cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Report", size=10)


def _line(pdf: FPDF, text: str) -> None:
    pdf.multi_cell(0, 5.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
    pdf.set_font("Report", size=9)
    with pdf.table(col_widths=tuple(widths), text_align="LEFT", line_height=4.8,
                   headings_style=_bold_headings()) as table:
        table.row(list(headers))
        for values in rows:
            table.row([str(value) for value in values])
    pdf.set_font("Report", size=10)


def _bold_headings() -> FontFace:
    return FontFace(emphasis="BOLD", fill_color=(230, 236, 245))


def school_report_pdf(report: SchoolReport, env: dict[str, str] | None = None) -> bytes:
    regular, bold = font_paths(env)
    ctx = report.context()
    pdf = _Pdf(f"Отчёт о выполнении дорожной карты «500+» — {report.school_name}")
    pdf.add_font("Report", "", str(regular))
    pdf.add_font("Report", "B", str(bold))
    pdf.set_title(f"Отчёт о выполнении дорожной карты — {report.school_name}")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_margins(15, 12, 15)
    pdf.add_page()
    pdf.set_font("Report", "B", 14)
    pdf.multi_cell(0, 7, "Отчёт о выполнении дорожной карты проекта адресной методической помощи «500+»",
                   align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Report", "B", 12)
    pdf.multi_cell(0, 6, report.school_name, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Report", size=10)
    pdf.multi_cell(0, 5.5, f"{report.municipality}, {report.region}; {report.year} год", align="C",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    _heading(pdf, "1. Участие в проекте")
    _line(pdf, f"Реализация проекта адресной методической помощи «500+» в школе осуществляется с {ctx['since']} "
               f"(муниципалитет: {report.municipality}).")
    _line(pdf, f"Региональный координатор проекта — {ctx['regional_coordinators']}")
    _line(pdf, f"Муниципальный координатор проекта — {ctx['municipal_coordinators']}")
    _line(pdf, f"Куратор школы — {ctx['curators']}")

    _heading(pdf, "2. Рисковые направления")
    for direction in report.risk_directions or ("Рисковые направления ещё не выбраны.",):
        _line(pdf, f"• {direction}")

    _heading(pdf, "3. Мероприятия дорожной карты")
    if report.measures:
        _table(pdf, ["№", "Мероприятие", "Срок", "Ответственный", "Статус", "Выполнено", "Подтверждение"],
               [[str(m["number"]), m["title"], m["due_date"], m["responsible"], f"{m['status']} ({m['timing']})",
                 m["done_on"], " ".join(part for part in (m["evidence"], m["accepted"]) if part)]
                for m in ctx["measures"]], [8, 64, 24, 38, 36, 24, 73])
    else:
        _line(pdf, "Мероприятия ещё не запланированы.")
    e = ctx["execution"]
    _line(pdf, f"Исполнение дорожной карты: {e['percent']} (выполнено в срок — {e['on_time']}, с опозданием — "
               f"{e['late']}, просрочено — {e['overdue']}, в работе — {e['planned']}; всего мероприятий — "
               f"{e['total']}).")

    _heading(pdf, "4. Посещения школы куратором")
    if report.visits:
        _table(pdf, ["Дата", "Полугодие", "Куратор", "Итоги", "Рекомендации", "Состояние"],
               [[v["date"], v["term"], v["curator"], v["findings"], v["recommendations"], v["status"]]
                for v in ctx["visits"]], [24, 24, 40, 80, 73, 26])
    else:
        _line(pdf, "Посещений пока не было.")

    _heading(pdf, "5. Результаты")
    if report.indicators:
        _table(pdf, ["Показатель анкетирования", "Значение"],
               [[i["title"], i["value"]] for i in ctx["indicators"]], [200, 67])
    results = ctx["results"]
    _line(pdf, f"Выполнение дорожной карты по оценке школы: {results['completion']}.")
    _line(pdf, f"Динамика результатов ВПР: {results['vpr_dynamics']}.")
    _line(pdf, results["summary"])
    pdf.ln(8)
    _line(pdf, f"Отчёт сформирован по данным дорожной карты в информационной системе «500+» {report.generated_on}; "
               f"представил(а): {report.director}.")
    pdf.ln(4)
    _line(pdf, "Директор школы ____________________ / ____________________ /")
    return bytes(pdf.output())
