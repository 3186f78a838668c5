"""Reports: a school's «Отчёт о выполнении дорожной карты» (DOCX, PDF), the municipal and regional summaries
(DOCX, XLSX), and the school report's DOCX template (admins). The same engine services as the pages
(web/reports.py) and the CLI (`roadmap report`, `roadmap report-template`)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Response, send_file
from flask.views import MethodView

from engine.process import report_docx
from engine.process.report_files import school_report_file
from engine.reports import summaries
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import Problem, ReportTemplateIn, ReportTemplateOut, SchoolReportQuery, SummaryQuery
from web.session import chosen_template, db

blp = Blueprint("api_reports", __name__, url_prefix="/api/v1", description="Reports")
blueprints = [blp]
_BINARY = {"format": "binary", "type": "string"}


def _file(name: str, content_type: str, content: bytes) -> Response:
    return send_file(BytesIO(content), mimetype=content_type, as_attachment=True, download_name=name)


@blp.route("/schools/<code>/report")
@blp.arguments(SchoolReportQuery, location="query")
@blp.response(200, _BINARY, content_type="application/octet-stream")
@blp.alt_response(404, schema=Problem)
@blp.alt_response(503, schema=Problem)
def school_report(query: dict[str, Any], code: str) -> Response:
    """The school's report as of now (its own users, its curators, the coordinators above it). 503 for a PDF when
    the installation lacks its font (the DOCX still works)."""
    found = school_report_file(db(), code, query["format"], actor=api_login())
    return _file(found.filename, found.content_type, found.content)


@blp.route("/municipalities/<code>/summary")
@blp.arguments(SummaryQuery, location="query")
@blp.response(200, _BINARY, content_type="application/octet-stream")
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def municipality_summary(query: dict[str, Any], code: str) -> Response:
    """The municipality's summary: every school's stage, overdue tasks, measures, visits and report."""
    found = summaries.area_summary(db(), chosen_template(query.get("template")), "municipality", code,
                                   actor=api_login())
    return _file(*summaries.summary_file(found, query["format"]))


@blp.route("/regions/<code>/summary")
@blp.arguments(SummaryQuery, location="query")
@blp.response(200, _BINARY, content_type="application/octet-stream")
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def region_summary(query: dict[str, Any], code: str) -> Response:
    """The region's summary: per municipality, then every school."""
    found = summaries.area_summary(db(), chosen_template(query.get("template")), "region", code, actor=api_login())
    return _file(*summaries.summary_file(found, query["format"]))


@blp.route("/report-template")
class ReportTemplate(MethodView):
    @blp.response(200, ReportTemplateOut)
    @blp.alt_response(403, schema=Problem)
    def get(self) -> Any:
        """Which DOCX template the school report uses (admins)."""
        return report_docx.template_info(db(), actor=api_login())

    @blp.arguments(ReportTemplateIn, location="files")
    @blp.response(200, ReportTemplateOut)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(422, schema=Problem)
    def put(self, body: dict[str, Any]) -> Any:
        """Replace the template (admins). It is rendered against a sample report first: 422 naming the placeholder
        the report does not have, or what else is wrong, and nothing is stored."""
        file = body["file"]
        return report_docx.replace_template(db(), file.filename or "", file.read(), actor=api_login())

    @blp.response(200, ReportTemplateOut)
    @blp.alt_response(403, schema=Problem)
    def delete(self) -> Any:
        """Back to the default template (admins)."""
        report_docx.reset_template(db(), actor=api_login())
        return report_docx.template_info(db(), actor=api_login())


@blp.route("/report-template/file")
@blp.response(200, _BINARY, content_type="application/octet-stream")
@blp.alt_response(403, schema=Problem)
def template_file() -> Response:
    """The template in use, to edit in Word and upload back (admins)."""
    name, content = report_docx.template_file(db(), actor=api_login())
    return _file(name, report_docx.DOCX_TYPE, content)
