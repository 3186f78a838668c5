"""Write the example reports of docs/reports/ from the demo region: a fresh SQLite database, `roadmap demo`, then
the most advanced demo school (42-TAI-01) taken on through its curator's visits and the monitoring to its own
report, submitted as its director would — the ``attach_school_report`` action makes the DOCX and the PDF. Then
the municipal (42-TAI) and regional (42) summaries, and the PDF's first page as PNG (pdftoppm) to look at.

Run: .venv/bin/python scripts/report_examples.py [OUTPUT_DIR]   (default docs/reports)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database, upgrade_schema
from engine.demo import load_demo
from engine.models import Attachment, School, Task, TaskStatus
from engine.process import tasks
from engine.reports.summaries import area_summary, summary_file
from engine.templates import versions

ROOT = Path(__file__).resolve().parent.parent
SCHOOL, MUNICIPALITY, REGION = "42-TAI-01", "42-TAI", "42"
STEPS = [
    ("curator_visit", "curator-4", {"visit_term": "h1", "visit_date": "2026-11-12",
                                    "visit_findings": "Посещены уроки математики в 5–7 классах; методический семинар "
                                                      "проведён, учителя работают с разноуровневыми заданиями.",
                                    "visit_recommendations": "Продолжить взаимопосещение уроков."}),
    ("curator_visit", "curator-4", {"visit_term": "h2", "visit_date": "2026-12-01", "visits_complete": True,
                                    "visit_findings": "Проверено оснащение кабинета физики: поставка ожидается в "
                                                      "феврале.",
                                    "visit_recommendations": "Перенести срок оснащения с обоснованием."}),
    ("municipal_monitoring", "mun-tai", {"monitoring_assessment": "on_track"}),
    ("regional_monitoring_report", "region-42", {"regional_summary": "Мониторинг проведён во всех школах региона."}),
    ("school_report", "school-42-tai-01", {
        "roadmap_completion": 50, "vpr_dynamics": "improved",
        "report_summary": "Методический семинар для учителей проведён в срок; диагностика профессиональных дефицитов "
                          "перенесена из-за болезни руководителя МО; курсы повышения квалификации и оснащение "
                          "кабинета физики идут по плану. Результаты ВПР по математике в 6 классах улучшились."}),
]


def _open_task(db: Database, element: str) -> int:
    with db.reading() as session:
        found = session.scalar(select(Task.id).join(School, School.id == Task.school_id)
                               .where(School.code == SCHOOL, Task.element_id == element,
                                      Task.status == TaskStatus.READY).order_by(Task.id).limit(1))
    if found is None:
        raise SystemExit(f"у школы {SCHOOL} нет открытой задачи {element}: демо изменилось")
    return found


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        db = Database.from_url(f"sqlite:///{folder}/demo.sqlite3")
        upgrade_schema(db)
        versions.deploy_bundled_templates(db, ROOT / "workflows")
        load_demo(db, "roadmap-500", None, story=True)
        for element, login, data in STEPS:
            tasks.complete_task(db, _open_task(db, element), data, actor=login)
        with db.reading() as session:
            files = session.execute(select(Attachment.filename, Attachment.content).join(School, School.id == (
                select(Task.school_id).where(Task.id == Attachment.task_id).scalar_subquery()))
                .where(School.code == SCHOOL, Attachment.field_key == "report_generated")).all()
        for name, content in files:
            (out / name).write_bytes(content)
            print(out / name)
        for kind, code in (("municipality", MUNICIPALITY), ("region", REGION)):
            summary = area_summary(db, "roadmap-500", kind, code, actor=OPERATOR)
            for fmt in ("docx", "xlsx"):
                name, _, content = summary_file(summary, fmt)
                (out / name).write_bytes(content)
                print(out / name)
        db.engine.dispose()
    pdf = out / f"otchet-{SCHOOL}.pdf"
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),  # noqa: S603, S607 - poppler-utils, fixed arguments
                    str(out / f"otchet-{SCHOOL}-page1")], check=True)
    print(out / f"otchet-{SCHOOL}-page1.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "reports")
