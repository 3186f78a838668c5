"""Admins' template workspace: templates and their versions, the draft and its editor page, the JSON the
browser editors talk to, export/import of bundle zips, version diffs. Every view calls one engine service
(``engine.templates.workspace``), which authorizes and audits."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from flask_wtf.csrf import CSRFError
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from werkzeug.wrappers import Response

from engine import labels
from engine.bpmn.manifest_schema import manifest_schema
from engine.errors import FileRejected, Problem, TemplateInvalid
from engine.templates import workspace
from engine.templates.diff import diff_versions
from web.i18n import gettext
from web.inputs import INT32_MAX, InputRejected, large_json_body, optional_int, parse_int
from web.session import db, me

blueprint = Blueprint("templates_admin", __name__, url_prefix="/admin/templates")

_MIMETYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json",
              "manifest": "application/json"}
EDITOR_KINDS = ("bpmn", "dmn", "form", "manifest")


@blueprint.context_processor
def _words() -> dict[str, Any]:
    return {"history_words": labels.TEMPLATE_HISTORY}


def problem_json(problem: Problem) -> dict[str, Any]:
    return {"path": problem.path, "line": problem.line, "element_id": problem.element_id,
            "message": problem.message}


def _draft_page(key: str) -> str:
    return url_for("templates_admin.draft", key=key)


@blueprint.route("")
@login_required
def index() -> str:
    return render_template("templates_admin/index.html", templates=workspace.list_templates(db(), actor=me()))


@blueprint.route("/import", methods=["POST"])
@login_required
def import_new() -> Any:
    return _import(None, url_for("templates_admin.index"))


@blueprint.route("/<key>")
@login_required
def template(key: str) -> str:
    detail = workspace.template_detail(db(), key, actor=me())
    deployed = optional_int(request.args, "deployed", minimum=1, maximum=INT32_MAX)
    previous = optional_int(request.args, "previous", minimum=1, maximum=INT32_MAX)
    migration = None
    if deployed is not None and previous:
        query: dict[str, Any] = {"key": key, "from": previous, "to": deployed}  # `from` is a Python keyword
        migration = url_for("migrations_admin.choose", **query)
    retired = optional_int(request.args, "retired", minimum=1, maximum=INT32_MAX)
    if retired is not None and not any(v.version == retired and v.status == "retired" for v in detail.versions):
        retired = None  # the undo is offered only while it applies
    return render_template("templates_admin/template.html", detail=detail, migration=migration, retired=retired)


@blueprint.route("/<key>/versions/<int32:version>/retire", methods=["POST"])
@login_required
def retire(key: str, version: int) -> Response:
    workspace.set_retired(db(), key, version, retired=True, actor=me())
    # The template page says so and offers the undo («Вернуть в использование») right there.
    return redirect(url_for("templates_admin.template", key=key, retired=version))


@blueprint.route("/<key>/versions/<int32:version>/restore", methods=["POST"])
@login_required
def restore(key: str, version: int) -> Response:
    workspace.set_retired(db(), key, version, retired=False, actor=me())
    flash(gettext("Версия {version} возвращена в работу.", version=version))
    return redirect(url_for("templates_admin.template", key=key))


@blueprint.route("/<key>/versions/<int32:version>/export.zip")
@login_required
def export_version(key: str, version: int) -> Response:
    name, data = workspace.export_version(db(), key, version, actor=me())
    return send_file(BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=name)


@blueprint.route("/<key>/versions/<int32:version>/diagram.bpmn")
@login_required
def version_diagram(key: str, version: int) -> Response:
    return Response(workspace.diagram_of(db(), key, version, actor=me()), mimetype="application/xml")


@blueprint.route("/<key>/draft/diagram.bpmn")
@login_required
def draft_diagram(key: str) -> Response:
    return Response(workspace.diagram_of(db(), key, None, actor=me()), mimetype="application/xml")


@blueprint.route("/<key>/diff")
@login_required
def diff(key: str) -> str:
    detail = workspace.template_detail(db(), key, actor=me())  # authorizes, and lists the versions to choose
    old, new = optional_int(request.args, "from", minimum=1, maximum=INT32_MAX), request.args.get("to", "")
    found = None
    if old and new == "draft":
        found = workspace.diff_draft(db(), key, old, actor=me())
    elif old and new:
        found = diff_versions(db(), key, old, parse_int(new, "to", minimum=1, maximum=INT32_MAX), actor=me())
    return render_template("templates_admin/diff.html", detail=detail, diff=found, old=old, new=new)


# --- the draft ---------------------------------------------------------------------------------------


@blueprint.route("/<key>/draft")
@login_required
def draft(key: str) -> str:
    return _draft_html(key)


def _draft_html(key: str) -> str:
    """The draft page; the newest version's running processes and their schools go to the confirmations of
    «Развернуть новую версию» and «Удалить черновик»."""
    found = workspace.draft_view(db(), key, actor=me())
    detail = workspace.template_detail(db(), key, actor=me())
    newest = next((v for v in detail.versions if v.status == "deployed"), None)
    return render_template("templates_admin/draft.html", draft=found, newest=newest)


@blueprint.route("/<key>/draft/open", methods=["POST"])
@login_required
def open_draft(key: str) -> Response:
    workspace.open_draft(db(), key, actor=me())
    return redirect(_draft_page(key))


@blueprint.route("/<key>/draft/discard", methods=["POST"])
@login_required
def discard(key: str) -> Response:
    workspace.discard_draft(db(), key, actor=me())
    flash(gettext("Черновик удалён."))
    return redirect(url_for("templates_admin.template", key=key))


@blueprint.route("/<key>/draft/deploy", methods=["POST"])
@login_required
def deploy(key: str) -> Any:
    try:
        done = workspace.deploy_draft(db(), key, actor=me())
    except TemplateInvalid:
        flash(gettext("Черновик содержит ошибки: исправьте их перед развёртыванием."), "error")
        return _draft_html(key), 422
    if done.created:
        flash(gettext("Развёрнута версия {version}", version=done.version))
    else:
        flash(gettext("Черновик совпал с версией {version}: новая версия не создана.", version=done.version))
    return redirect(url_for("templates_admin.template", key=key, deployed=done.version,
                            previous=done.previous if done.created and done.previous else None))


@blueprint.route("/<key>/draft/export.zip")
@login_required
def export_draft(key: str) -> Response:
    name, data = workspace.export_draft(db(), key, actor=me())
    return send_file(BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=name)


@blueprint.route("/<key>/draft/import", methods=["POST"])
@login_required
def import_draft(key: str) -> Any:
    return _import(key, _draft_page(key))


def _import(key: str | None, back: str) -> Any:
    upload = request.files.get("bundle")
    data, name = (upload.read(), upload.filename or "архив") if upload is not None else (b"", "архив")
    try:
        found = workspace.import_zip(db(), data, key=key, source=name, actor=me())
    except TemplateInvalid as err:
        for problem in err.problems:
            flash(problem.format(), "error")
        return redirect(back)
    if found.valid:
        flash(gettext("Архив импортирован в черновик; ошибок нет."))
    else:
        flash(gettext("Архив импортирован в черновик; найдено ошибок: {count}. Файлы сохранены.",
                      count=len(found.problems)), "error")
    return redirect(_draft_page(found.key))


@blueprint.route("/<key>/draft/forms", methods=["POST"])
@login_required
def add_form(key: str) -> Response:
    try:
        path = workspace.add_form(db(), key, request.form.get("name", "").strip(), actor=me())
    except FileRejected as err:
        flash(err.message, "error")
        return redirect(_draft_page(key))
    flash(gettext("Добавлена форма {path}.", path=path))
    return redirect(url_for("templates_admin.editor", key=key, path=path))


@blueprint.route("/<key>/draft/forms/delete", methods=["POST"])
@login_required
def delete_form(key: str) -> Response:
    try:
        workspace.delete_form(db(), key, request.form.get("path", ""), actor=me())
    except FileRejected as err:
        flash(err.message, "error")
    return redirect(_draft_page(key))


@blueprint.route("/<key>/draft/edit/<path:path>")
@login_required
def editor(key: str, path: str) -> str:
    content = workspace.read_draft_file(db(), key, path, actor=me())  # authorizes; 404 for an unknown file
    kind = workspace.file_kind(path)
    return render_template("template_editor.html", key=key, path=path, kind=kind, content=content,
                           rich=kind in EDITOR_KINDS, schema=manifest_schema_json() if kind == "manifest" else None)


def manifest_schema_json() -> Markup:
    """The manifest's schema for its editor's page; as written, not key-sorted as ``tojson`` would: the order
    of ``properties`` is the order of the tabs and of the fields."""
    return htmlsafe_json_dumps(manifest_schema(), dumps=json.dumps, ensure_ascii=False)


# --- JSON for the browser editors ----------------------------------------------------------------------


@blueprint.route("/<key>/draft/files/<path:path>", methods=["GET"])
@login_required
def draft_file(key: str, path: str) -> Response:
    content = workspace.read_draft_file(db(), key, path, actor=me())
    mimetype = _MIMETYPES.get(workspace.file_kind(path), "text/plain")
    return current_app.response_class(content, mimetype=mimetype)


@blueprint.route("/<key>/draft/files/<path:path>", methods=["PUT"])
@login_required
@large_json_body(3 * workspace.MAX_DRAFT_FILE_BYTES)  # a file's text, JSON-escaped
def save_file(key: str, path: str) -> tuple[Response, int]:
    body = request.get_json(silent=True)
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, str):
        return _unsaved(path, gettext("ожидается JSON вида {\"content\": \"текст файла\"}")), 422
    try:
        found = workspace.save_draft_file(db(), key, path, content, actor=me())
    except FileRejected as err:
        return _unsaved(path, err.message), 422
    return jsonify(saved=True, valid=found.valid, problems=[problem_json(p) for p in found.problems]), 200


@blueprint.route("/<key>/draft/files/<path:path>", methods=["POST"])
@login_required
def save_file_form(key: str, path: str) -> Response:
    """The editor page's plain-text fallback (no JavaScript, or a file without a visual editor)."""
    try:
        found = workspace.save_draft_file(db(), key, path, request.form.get("content", ""), actor=me())
    except FileRejected as err:
        flash(err.message, "error")
        return redirect(url_for("templates_admin.editor", key=key, path=path))
    saved = gettext("Файл {path} сохранён.", path=path)
    if found.valid:
        flash(saved)
    else:
        flash(saved + " " + gettext("В черновике есть ошибки."), "error")
    return redirect(_draft_page(key))


def _unsaved(path: str, message: str) -> Response:
    return jsonify(saved=False, problems=[{"path": path, "line": None, "element_id": None, "message": message}])


@blueprint.route("/<key>/draft/problems")
@login_required
def problems(key: str) -> Response:
    found = workspace.draft_view(db(), key, actor=me())
    return jsonify(valid=found.valid, problems=[problem_json(p) for p in found.problems])


@blueprint.route("/<key>/draft/context")
@login_required
def context(key: str) -> Response:
    found = workspace.editor_context(db(), key, actor=me())
    return jsonify(roles=found.roles, stages=found.stages, forms=found.forms, calendar=found.calendar,
                   deadlines=found.deadlines, references=found.references)


def _is_file_put() -> bool:
    return request.method == "PUT" and request.endpoint == "templates_admin.save_file"


@blueprint.errorhandler(InputRejected)
def _unstorable(err: InputRejected) -> Any:
    """Text PostgreSQL cannot store is refused before the view; the editor still gets its JSON answer."""
    if _is_file_put():
        return _unsaved((request.view_args or {}).get("path", ""), err.message), 422
    return render_template("error.html", message=err.message, status=400), 400


@blueprint.errorhandler(CSRFError)
def _csrf(err: CSRFError) -> Any:
    message = gettext("Форма устарела или отправлена не с этого сайта. Обновите страницу и попробуйте ещё раз.")
    if _is_file_put():
        return jsonify(saved=False, problems=[], message=message), 400
    return render_template("error.html", message=message, status=400), 400
