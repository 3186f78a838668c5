"""Write the default DOCX template of the school report: engine/process/report_templates/school_report.docx.

The template is a Word file with docxtpl (Jinja) placeholders, built here with python-docx so its source is
code under review; an admin may replace it (admin page «Шаблон отчёта», API, `roadmap report-template`). Its
structure follows the appendix of the regional order (seed 000): participation, coordinators and curator,
risk directions, measures with status and evidence, the curator's visits, results; then the signature.

Run: .venv/bin/python scripts/make_report_template.py [OUTPUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

OUTPUT = Path(__file__).resolve().parent.parent / "engine" / "process" / "report_templates" / "school_report.docx"


def _table(doc, headers: list[str], loop: str, cells: list[str], widths: list[float]) -> None:
    """A table whose middle row repeats for each item of ``loop`` (docxtpl's ``{%tr %}`` rows)."""
    table = doc.add_table(rows=4, cols=len(headers))
    table.style = "Table Grid"
    for i, text in enumerate(headers):
        run = table.rows[0].cells[i].paragraphs[0].add_run(text)
        run.bold = True
    table.rows[1].cells[0].text = f"{{%tr for row in {loop} %}}"
    for i, text in enumerate(cells):
        table.rows[2].cells[i].text = text
    table.rows[3].cells[0].text = "{%tr endfor %}"
    for row in table.rows:
        for i, width in enumerate(widths):
            row.cells[i].width = Cm(width)


def build(path: Path) -> None:
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(11)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("Отчёт о выполнении дорожной карты проекта адресной методической помощи «500+»")
    run.bold = True
    run.font.size = Pt(14)
    school = doc.add_paragraph()
    school.alignment = WD_ALIGN_PARAGRAPH.CENTER
    school.add_run("{{ school.name }}").bold = True
    doc.add_paragraph("{{ school.municipality }}, {{ school.region }}; {{ year }} год").alignment = (
        WD_ALIGN_PARAGRAPH.CENTER)

    doc.add_heading("1. Участие в проекте", level=2)
    doc.add_paragraph("Реализация проекта адресной методической помощи «500+» в школе осуществляется "
                      "с {{ since }} (муниципалитет: {{ school.municipality }}).")
    doc.add_paragraph("Региональный координатор проекта — {{ regional_coordinators }}")
    doc.add_paragraph("Муниципальный координатор проекта — {{ municipal_coordinators }}")
    doc.add_paragraph("Куратор школы — {{ curators }}")

    doc.add_heading("2. Рисковые направления", level=2)
    doc.add_paragraph("{%p for direction in risk_directions %}")
    doc.add_paragraph("{{ direction }}", style="List Bullet")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p if not risk_directions %}")
    doc.add_paragraph("Рисковые направления ещё не выбраны.")
    doc.add_paragraph("{%p endif %}")

    doc.add_heading("3. Мероприятия дорожной карты", level=2)
    _table(doc, ["№", "Мероприятие", "Срок", "Ответственный", "Статус", "Выполнено", "Подтверждение"], "measures",
           ["{{ row.number }}", "{{ row.title }}", "{{ row.due_date }}", "{{ row.responsible }}",
            "{{ row.status }} ({{ row.timing }})", "{{ row.done_on }}", "{{ row.evidence }} {{ row.accepted }}"],
           [1.0, 7.5, 2.3, 4.0, 3.8, 2.3, 5.8])
    doc.add_paragraph(
        "Исполнение дорожной карты: {{ execution.percent }} (выполнено в срок — {{ execution.on_time }}, "
        "с опозданием — {{ execution.late }}, просрочено — {{ execution.overdue }}, в работе — "
        "{{ execution.planned }}; всего мероприятий — {{ execution.total }}).")

    doc.add_heading("4. Посещения школы куратором", level=2)
    _table(doc, ["Дата", "Полугодие", "Куратор", "Итоги", "Рекомендации", "Состояние"], "visits",
           ["{{ row.date }}", "{{ row.term }}", "{{ row.curator }}", "{{ row.findings }}", "{{ row.recommendations }}",
            "{{ row.status }}"], [2.3, 2.5, 4.0, 8.0, 7.0, 2.9])
    doc.add_paragraph("{%p if not visits %}")
    doc.add_paragraph("Посещений пока не было.")
    doc.add_paragraph("{%p endif %}")

    doc.add_heading("5. Результаты", level=2)
    _table(doc, ["Показатель анкетирования", "Значение"], "indicators", ["{{ row.title }}", "{{ row.value }}"],
           [18.0, 8.7])
    doc.add_paragraph("Выполнение дорожной карты по оценке школы: {{ results.completion }}.")
    doc.add_paragraph("Динамика результатов ВПР: {{ results.vpr_dynamics }}.")
    doc.add_paragraph("{{ results.summary }}")

    doc.add_paragraph()
    doc.add_paragraph("Отчёт сформирован по данным дорожной карты в информационной системе «500+» {{ generated_on }}; "
                      "представил(а): {{ school.director }}.")
    doc.add_paragraph("Директор школы ____________________ / ____________________ /")
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    build(target)
    print(target)
