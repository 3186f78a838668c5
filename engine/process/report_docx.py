"""The school report as DOCX, from a template admins can replace (docxtpl: Jinja placeholders in a Word file).

The default template is engine/process/report_templates/school_report.docx, made by scripts/make_report_template.py.
An admin may upload a replacement (``replace_template``): it is rendered against a sample report first
(``sample_report``, every part filled) with undefined names an error, so a template naming a placeholder the
report does not have (``{{ school.nmae }}``) is refused with that name, never accepted and then failing for
every school. ``reset_template`` goes back to the default. Each step is audited.

Placeholders (``SchoolReport.context``): ``school.name|code|municipality|region|director``, ``since``,
``year``, ``generated_on``, ``regional_coordinators``, ``municipal_coordinators``, ``curators``,
``risk_directions`` (list), ``measures`` (rows: number, title, direction, due_date, responsible, status,
timing, done_on, evidence, accepted), ``execution.on_time|late|overdue|planned|total|percent``, ``visits``
(rows: date, term, curator, findings, recommendations, status), ``indicators`` (rows: title, value),
``results.completion|vpr_dynamics|summary``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import jinja2
from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.db import Database
from engine.errors import FileRejected
from engine.models import ReportTemplate, User
from engine.org.core import operator_or_admin
from engine.process.school_report import SchoolReport, sample_report

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SCHOOL_REPORT = "school_report"
DEFAULT_TEMPLATES = {SCHOOL_REPORT: Path(__file__).parent / "report_templates" / "school_report.docx"}
MAX_TEMPLATE_BYTES = 5 * 1024 * 1024
_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


class TemplateRejected(FileRejected):
    """A replacement report template that does not render the sample report; nothing is stored."""


@dataclass(frozen=True)
class TemplateInfo:
    kind: str
    replaced: bool  # an admin's template is in use (else the default)
    filename: str
    sha256: str
    uploaded_at: datetime | None
    uploaded_by: str | None


def _env() -> jinja2.Environment:
    # Strict: a placeholder the report does not have is an error, not an empty cell in every school's report.
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)


def render_docx(template: bytes, context: dict[str, Any]) -> bytes:
    """Render a DOCX template with a report's context."""
    doc = DocxTemplate(BytesIO(template))
    doc.render(context, _env(), autoescape=True)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()


def template_in_use(session: Session, kind: str = SCHOOL_REPORT) -> bytes:
    """An admin's replacement of the template, or the default."""
    row = session.get(ReportTemplate, kind)
    return row.content if row is not None else DEFAULT_TEMPLATES[kind].read_bytes()


def school_report_docx(session: Session, report: SchoolReport) -> bytes:
    """The report as DOCX, with the template in use."""
    return render_docx(template_in_use(session), report.context())


def check_template(content: bytes) -> None:
    """Render the sample report with ``content``; raise ``TemplateRejected`` saying what is wrong."""
    if not content:
        raise TemplateRejected("файл шаблона пуст")
    if len(content) > MAX_TEMPLATE_BYTES:
        raise TemplateRejected(f"шаблон больше {MAX_TEMPLATE_BYTES // 1024 // 1024} МБ")
    if not content.startswith(b"PK\x03\x04"):
        raise TemplateRejected("это не файл DOCX (Word 2007 и новее)")
    try:
        render_docx(content, sample_report().context())
    except jinja2.UndefinedError as err:
        match = _UNDEFINED.search(str(err))
        name = next((g for g in match.groups() if g), str(err)) if match else str(err)
        raise TemplateRejected(f"шаблон не подходит: неизвестная подстановка «{name}» — такого поля в отчёте нет "
                               "(список полей — в docs/guide-admin.md, «Шаблон отчёта школы»)") from err
    except jinja2.TemplateSyntaxError as err:
        raise TemplateRejected(f"шаблон не подходит: ошибка в подстановке — {err.message}") from err
    except (BadZipFile, PackageNotFoundError, KeyError, ValueError) as err:
        raise TemplateRejected(f"это не файл DOCX, который можно прочитать: {err}") from err
    except jinja2.TemplateError as err:
        raise TemplateRejected(f"шаблон не подходит: {err}") from err


_REFUSAL = "шаблоны отчётов меняет администратор"


def template_info(db: Database, kind: str = SCHOOL_REPORT, *, actor: Who) -> TemplateInfo:
    with db.reading() as session:
        operator_or_admin(session, actor, _REFUSAL)
        row = session.get(ReportTemplate, kind)
        if row is None:
            default = DEFAULT_TEMPLATES[kind].read_bytes()
            return TemplateInfo(kind, False, DEFAULT_TEMPLATES[kind].name, hashlib.sha256(default).hexdigest(),
                                None, None)
        login = session.scalar(select(User.login).where(User.id == row.uploaded_by_id))
        return TemplateInfo(kind, True, row.filename, row.sha256, row.uploaded_at, login)


def template_file(db: Database, kind: str = SCHOOL_REPORT, *, actor: Who) -> tuple[str, bytes]:
    """The template in use (to download, edit in Word and upload back)."""
    with db.reading() as session:
        operator_or_admin(session, actor, _REFUSAL)
        row = session.get(ReportTemplate, kind)
        if row is None:
            return DEFAULT_TEMPLATES[kind].name, DEFAULT_TEMPLATES[kind].read_bytes()
        return row.filename, row.content


def replace_template(db: Database, filename: str, content: bytes, kind: str = SCHOOL_REPORT, *,
                     actor: Who) -> TemplateInfo:
    """Check the file against the sample report, then use it for every report of ``kind`` from now on."""
    check_template(content)
    with db.transaction() as session:
        user_id = operator_or_admin(session, actor, _REFUSAL)
        row = session.get(ReportTemplate, kind)
        digest = hashlib.sha256(content).hexdigest()
        name = (Path(filename.replace("\\", "/")).name or f"{kind}.docx")[:255]
        if row is None:
            row = ReportTemplate(kind=kind, filename=name, content=content, sha256=digest, uploaded_at=db.now(),
                                 uploaded_by_id=user_id)
            session.add(row)
        else:
            row.filename, row.content, row.sha256, row.uploaded_at, row.uploaded_by_id = (
                name, content, digest, db.now(), user_id)
        audit.record(session, db.now(), "report_template.replaced", actor_id=user_id, kind=kind, sha256=digest,
                     filename=name)
        login = session.scalar(select(User.login).where(User.id == user_id)) if user_id else None
        return TemplateInfo(kind, True, name, digest, row.uploaded_at, login)


def reset_template(db: Database, kind: str = SCHOOL_REPORT, *, actor: Who) -> bool:
    """Back to the default template; False when it was in use already."""
    with db.transaction() as session:
        user_id = operator_or_admin(session, actor, _REFUSAL)
        row = session.get(ReportTemplate, kind)
        if row is None:
            return False
        session.delete(row)
        audit.record(session, db.now(), "report_template.reset", actor_id=user_id, kind=kind)
        return True
