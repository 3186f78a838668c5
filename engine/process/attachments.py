"""Documents attached to task forms: size and type limits, a checksum, and every version kept.

Attachments belong to a (process, task element, form field): a concept returned for rework and
uploaded again becomes version 2, and version 1 — the one the curator reviewed — stays. When the task
is completed, the form's document fields receive the ids of the documents uploaded for that task.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.db import Database
from engine.errors import EngineError, FormInvalid, NotAllowed, NotFound, TaskAlreadyCompleted
from engine.forms import FormDefinition
from engine.models import Attachment, Task, TaskStatus, User
from engine.org.core import load_user
from engine.process.task_access import authorize, form_of, place_of_task

MAX_BYTES = 20 * 1024 * 1024
MAX_NAME = 255
DEFAULT_NAME = "документ"
#: Extension → (content type, a check of the first bytes): a renamed executable is not a PDF.
_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", (b"PK\x03\x04",)),
    ".odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    ".ods": ("application/vnd.oasis.opendocument.spreadsheet", (b"PK\x03\x04",)),
    ".doc": ("application/msword", (b"\xd0\xcf\x11\xe0",)),
    ".xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".zip": ("application/zip", (b"PK\x03\x04",)),
}


@dataclass(frozen=True)
class AttachmentView:
    id: int
    task_id: int
    field_key: str
    version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str | None


def _view(row: Attachment, login: str | None) -> AttachmentView:
    # Cleaned on the way out too: a name stored by an older version may still hold a line break, which
    # would fail the download's Content-Disposition header for everyone.
    return AttachmentView(row.id, row.task_id, row.field_key, row.version, clean_filename(row.filename),
                          row.content_type, row.size, row.sha256, row.uploaded_at, login)


def _kept(char: str) -> bool:
    """Printable characters stay (Cyrillic included); controls (C0, C1, DEL), format characters (bidi
    overrides that make «exe.pdf» read backwards, zero-width marks), line and paragraph separators and
    lone surrogates go."""
    return unicodedata.category(char) not in {"Cc", "Cf", "Zl", "Zp", "Cs"}


def clean_filename(name: str) -> str:
    """A document's name as it is stored and sent back: the last part of a path (browsers used to send
    C:\\Users\\…), without characters that break a header or mislead a reader, at most MAX_NAME long
    with its extension kept, and «документ» where nothing is left."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join("".join(char for char in name if _kept(char)).split()).rstrip(" .") if name else ""
    if not name or name.startswith("."):
        name = DEFAULT_NAME + name
    suffix = PurePath(name).suffix[:MAX_NAME // 2]
    return name[:MAX_NAME - len(suffix)].rstrip(" .") + suffix if len(name) > MAX_NAME else name


def document_fields(form: FormDefinition) -> list[str]:
    return [f.key for f in form.fields if f.type == "filepicker"]


def _checked_type(field_key: str, filename: str, content: bytes) -> str:
    suffix = PurePath(filename).suffix.lower()
    if not content:
        raise FormInvalid({field_key: ["Файл пуст."]})
    if len(content) > MAX_BYTES:
        raise FormInvalid({field_key: [f"Файл больше {MAX_BYTES // 1024 // 1024} МБ."]})
    if suffix not in _TYPES:
        allowed = ", ".join(sorted(_TYPES))
        raise FormInvalid({field_key: [f"Этот тип файла не принимается; можно: {allowed}."]})
    content_type, signatures = _TYPES[suffix]
    if not content.startswith(signatures):
        raise FormInvalid({field_key: ["Содержимое файла не соответствует его расширению."]})
    return content_type


def upload(db: Database, task_id: int, field_key: str, filename: str, content: bytes, *, actor: Who) -> AttachmentView:
    """Attach a document to a task's form field (as the next version of that field's document)."""
    with db.transaction() as session:
        user = load_user(session, actor)
        task = session.get(Task, task_id)
        if task is None:
            raise NotFound(f"задача {task_id} не найдена")
        authorize(user, task)
        if task.status is not TaskStatus.READY:
            raise TaskAlreadyCompleted(f"задача {task_id} уже закрыта: документы к ней не добавить")
        if field_key not in document_fields(form_of(session, task)):
            raise EngineError(f"в форме задачи нет поля для документов «{field_key}»")
        filename = clean_filename(filename)
        content_type = _checked_type(field_key, filename, content)
        latest = session.scalar(select(func.max(Attachment.version)).where(
            Attachment.instance_id == task.instance_id, Attachment.element_id == task.element_id,
            Attachment.field_key == field_key)) or 0
        row = Attachment(instance_id=task.instance_id, task_id=task.id, element_id=task.element_id,
                         field_key=field_key, version=latest + 1, filename=filename,
                         content_type=content_type, size=len(content),
                         sha256=hashlib.sha256(content).hexdigest(), content=content, uploaded_at=db.now(),
                         uploaded_by_id=user.user_id)
        session.add(row)
        session.flush()
        audit.record(session, db.now(), "attachment.uploaded", actor_id=user.user_id, instance_id=task.instance_id,
                     task_id=task.id, field=field_key, version=row.version, sha256=row.sha256, size=row.size)
        return _view(row, user.login)


def for_task(db: Database, task_id: int, *, actor: Who) -> list[AttachmentView]:
    """Every version of the documents of this task's step (across review cycles), newest first."""
    with db.reading() as session:
        user = load_user(session, actor)
        task = session.get(Task, task_id)
        if task is None or not user.scope.sees(place_of_task(task)):
            raise NotAllowed("эта задача вне вашей зоны ответственности")
        rows = session.execute(select(Attachment, User.login).outerjoin(User, User.id == Attachment.uploaded_by_id)
                               .where(Attachment.instance_id == task.instance_id,
                                      Attachment.element_id == task.element_id)
                               .order_by(Attachment.field_key, Attachment.version.desc()))
        return [_view(row, uploader) for row, uploader in rows]


def download(db: Database, attachment_id: int, *, actor: Who) -> tuple[AttachmentView, bytes]:
    with db.reading() as session:
        user = load_user(session, actor)
        row = session.get(Attachment, attachment_id)
        task = session.get(Task, row.task_id) if row is not None else None
        if row is None or task is None or not user.scope.sees(place_of_task(task)):
            raise NotFound("документ не найден")
        return _view(row, None), row.content


def field_values(session: Session, task: Task, form: FormDefinition) -> dict[str, list[int]]:
    """On completion: each document field holds the ids of the documents uploaded for this task."""
    values: dict[str, list[int]] = {}
    for key in document_fields(form):
        ids = list(session.scalars(select(Attachment.id).where(Attachment.task_id == task.id,
                                                               Attachment.field_key == key)
                                   .order_by(Attachment.version)))
        if ids:
            values[key] = ids
    return values


def document_fields_of(form: dict[str, object]) -> list[tuple[str, str]]:
    """(key, label) of a form definition's document fields, for the upload widget beside the form."""
    return [(f.key, f.label) for f in FormDefinition.from_json(form).fields if f.type == "filepicker"]
