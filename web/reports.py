"""Reports people sign and send: a school's «Отчёт о выполнении дорожной карты» (DOCX, PDF), the municipal and
regional summaries (DOCX, XLSX), and the admins' page for the school report's DOCX template (download the one
in use, upload a replacement — checked against a sample report first — or go back to the default)."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from werkzeug.exceptions import NotFound as HttpNotFound
from werkzeug.wrappers import Response

from engine.errors import FileRejected
from engine.org import areas
from engine.process import report_docx
from engine.process.report_files import FORMATS, school_report_file
from engine.reports import summaries
from web.i18n import gettext
from web.session import chosen_template, db, me

blueprint = Blueprint("reports", __name__)


@blueprint.route("/schools/<code>/report.<fmt>")
@login_required
def school(code: str, fmt: str) -> Response:
    """The school's report as of now, for anyone who sees the school (its own users, curators, coordinators)."""
    if fmt not in FORMATS:
        raise HttpNotFound()
    found = school_report_file(db(), code, fmt, actor=me())
    return send_file(BytesIO(found.content), mimetype=found.content_type, as_attachment=True,
                     download_name=found.filename)


@blueprint.route("/dashboard/summary.<fmt>")
@login_required
def summary(fmt: str) -> Response:
    """The summary of the dashboard's area: a municipality (its schools) or a region (per municipality too)."""
    if fmt not in summaries.FORMATS:
        raise HttpNotFound()
    area = areas.area_for(db(), request.args.get("region") or None, request.args.get("municipality") or None,
                          actor=me())
    kind, code = (("municipality", area.municipality_code) if area.municipality_code
                  else ("region", area.region_code))
    if code is None:  # the country: one summary per region, from each region's dashboard
        raise HttpNotFound()
    found = summaries.area_summary(db(), chosen_template(request.args.get("template")), kind, code, actor=me())
    name, content_type, content = summaries.summary_file(found, fmt)
    return send_file(BytesIO(content), mimetype=content_type, as_attachment=True, download_name=name)


@blueprint.route("/admin/report-template")
@login_required
def template_page() -> str:
    return render_template("admin_report_template.html", info=report_docx.template_info(db(), actor=me()),
                           error=None)


@blueprint.route("/admin/report-template/file")
@login_required
def template_download() -> Response:
    name, content = report_docx.template_file(db(), actor=me())
    return send_file(BytesIO(content), mimetype=report_docx.DOCX_TYPE, as_attachment=True, download_name=name)


@blueprint.route("/admin/report-template", methods=["POST"])
@login_required
def template_upload() -> Response | tuple[str, int]:
    file = request.files.get("file")
    try:
        report_docx.replace_template(db(), file.filename or "" if file else "", file.read() if file else b"",
                                     actor=me())
    except FileRejected as err:
        return render_template("admin_report_template.html", info=report_docx.template_info(db(), actor=me()),
                               error=err.message), 422
    flash(gettext("Шаблон отчёта заменён: проверен на образце отчёта и действует для всех школ."))
    return redirect(url_for("reports.template_page"))


@blueprint.route("/admin/report-template/reset", methods=["POST"])
@login_required
def template_reset() -> Response:
    if report_docx.reset_template(db(), actor=me()):
        flash(gettext("Восстановлен шаблон отчёта по умолчанию."))
    return redirect(url_for("reports.template_page"))
