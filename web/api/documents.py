"""A task's documents: upload a file for a form's document field (multipart), list every version, download one.
The same engine service as the task page (``engine.process.attachments``): 20 MiB, the accepted types checked
by extension and first bytes, a clean file name, every version kept, only while the task is open."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Response, send_file
from flask.views import MethodView

from engine.process import attachments
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.schemas import DocumentOut, DocumentUploadIn, Problem
from web.session import db

blp = Blueprint("api_documents", __name__, url_prefix="/api/v1", description="Documents of tasks")
blueprints = [blp]


@blp.route("/tasks/<id:task_id>/documents")
class Documents(MethodView):
    @blp.response(200, DocumentOut(many=True))
    @blp.alt_response(403, schema=Problem)
    def get(self, task_id: int) -> Any:
        """Every version of the documents of this task's step (across review cycles), by field, newest first."""
        return attachments.for_task(db(), task_id, actor=api_login())

    @blp.arguments(DocumentUploadIn, location="files")
    @blp.response(201, DocumentOut)
    @blp.alt_response(400, schema=Problem)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    @blp.alt_response(409, schema=Problem)
    @blp.alt_response(422, schema=Problem)
    def post(self, body: dict[str, Any], task_id: int) -> Any:
        """Attach a file to a document field of the task's form (`field`: a `filepicker` field's key) as that
        field's next version. 422 for a type not accepted, content that does not match its extension, an empty or
        too large file; 409 once the task is closed. Completing the task puts the ids into the field."""
        file = body["file"]
        return attachments.upload(db(), task_id, body["field"], file.filename or "", file.read(),
                                  actor=api_login())


@blp.route("/documents/<id:attachment_id>")
@blp.response(200, {"format": "binary", "type": "string"}, content_type="application/octet-stream")
@blp.alt_response(404, schema=Problem)
def download(attachment_id: int) -> Response:
    """The document's bytes, with its content type and file name (Content-Disposition)."""
    view, content = attachments.download(db(), attachment_id, actor=api_login())
    return send_file(BytesIO(content), mimetype=view.content_type, as_attachment=True, download_name=view.filename)
