"""The school report made into files: DOCX and PDF for a download, and attached to the ``school_report`` task.

``attach_school_report`` is the manifest action of the task on which the school submits its report: in the
completion's transaction it renders the report (with what the form submits as its results), stores the DOCX
and the PDF as the task's documents (field ``report_generated``, each submission a new version) and tells the
school's municipal coordinators — in the app and by e-mail through the outbox, as every notification — that
the report is there, with the link to the task. Without the PDF's font the DOCX is still attached and sent
(and the audit says the PDF was not made): a missing font must not stop a school's submission.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.config import Settings
from engine.db import Database
from engine.models import Attachment, RoleGrant, School, Task, User
from engine.process.notifications import Message, notify
from engine.process.report_docx import DOCX_TYPE, school_report_docx
from engine.process.report_pdf import PDF_TYPE, ReportUnavailable, school_report_pdf
from engine.process.school_report import SchoolReport, build_report, school_report
from engine.roles import Role

GENERATED_FIELD = "report_generated"
FORMATS = ("docx", "pdf")


@dataclass(frozen=True)
class ReportFile:
    filename: str
    content_type: str
    content: bytes


def render(session: Session, report: SchoolReport, fmt: str) -> ReportFile:
    """``fmt``: docx or pdf (``ReportUnavailable`` for a PDF without its font)."""
    if fmt == "docx":
        return ReportFile(f"{report.file_stem}.docx", DOCX_TYPE, school_report_docx(session, report))
    if fmt == "pdf":
        return ReportFile(f"{report.file_stem}.pdf", PDF_TYPE, school_report_pdf(report))
    raise ValueError(fmt)


def school_report_file(db: Database, school_code: str, fmt: str, *, actor: Who) -> ReportFile:
    """The school's report as of now, for anyone whose scope covers the school."""
    report = school_report(db, school_code, actor=actor)
    with db.reading() as session:
        return render(session, report, fmt)


def attach(session: Session, now: datetime, actor_id: int | None, task: Task,
           submitted: Mapping[str, Any] | None, field_key: str = GENERATED_FIELD) -> list[Attachment]:
    """Render the school's report and store it as the task's documents (DOCX, and PDF when it can be made)."""
    school = session.get(School, task.school_id)
    assert school is not None
    report = build_report(session, school, now, submitted=submitted)
    files = [render(session, report, "docx")]
    try:
        files.append(render(session, report, "pdf"))
    except ReportUnavailable as err:
        audit.record(session, now, "report.pdf_unavailable", actor_id=actor_id, instance_id=task.instance_id,
                     task_id=task.id, reason=err.message)
    latest = session.scalar(select(func.max(Attachment.version)).where(
        Attachment.instance_id == task.instance_id, Attachment.element_id == task.element_id,
        Attachment.field_key == field_key)) or 0
    rows = []
    for n, file in enumerate(files, start=1):
        row = Attachment(instance_id=task.instance_id, task_id=task.id, element_id=task.element_id,
                         field_key=field_key, version=latest + n, filename=file.filename,
                         content_type=file.content_type, size=len(file.content),
                         sha256=hashlib.sha256(file.content).hexdigest(), content=file.content, uploaded_at=now,
                         uploaded_by_id=actor_id)
        session.add(row)
        rows.append(row)
    session.flush()
    audit.record(session, now, "report.attached", actor_id=actor_id, instance_id=task.instance_id, task_id=task.id,
                 files=[{"id": r.id, "name": r.filename, "sha256": r.sha256} for r in rows])
    return rows


def send_to_municipality(session: Session, now: datetime, task: Task, rows: list[Attachment],
                         base_url: str | None = None) -> int:
    """Tell the school's municipal coordinators the report is submitted; returns how many were told."""
    school = session.get(School, task.school_id)
    assert school is not None
    coordinators = list(session.scalars(
        select(User).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == Role.MUNICIPAL_COORDINATOR, RoleGrant.municipality_id == school.municipality_id,
               User.is_active.is_(True)).order_by(User.id)))
    base = Settings.from_env().base_url if base_url is None else base_url
    names = ", ".join(r.filename for r in rows)
    message = Message("report", f"Отчёт о выполнении дорожной карты — {school.name}",
                      f"{school.name} представила отчёт о выполнении дорожной карты «500+». Файлы отчёта ({names}) "
                      "приложены к задаче; их можно скачать по ссылке.", f"{base}/tasks/{task.id}")
    notify(session, coordinators, message, now=now, key=f"school_report:{task.id}:{rows[0].id if rows else 0}",
           task_id=task.id)
    return len(coordinators)
