"""Names of uploaded documents: control characters, line breaks, bidi overrides and path separators are
cleaned on the way in (an upload named ``evil\\r\\nSet-Cookie: pwn=1.pdf`` was stored, and its download then
failed with a 500 for everyone; a NUL in the name failed the upload itself), and on the way out for names
an older version stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import Attachment, Task
from engine.process import instances, tasks
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.helpers import PDF, csrf_token, signed_in, with_passwords
from web.app import create_app

BOUNDARY = "hostile-boundary"


@pytest.fixture
def desk(db: Database, bundle_copy: Path) -> tuple[Flask, Org, int]:
    """A school's ready task whose form has a document field."""
    form = bundle_copy / "forms" / "questionnaire.form"
    definition = json.loads(form.read_text(encoding="utf-8"))
    definition["components"].append({"type": "filepicker", "key": "doc", "label": "Документ"})
    form.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    org = make_org(db)
    with_passwords(db, org)
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "names", "SESSION_COOKIE_SECURE": False})
    return app, org, task.id


def _upload(client: FlaskClient, task_id: int, disposition_name: str) -> int:
    """A multipart upload written by hand: the test client cannot send RFC 2231 ``filename*`` itself."""
    token = csrf_token(client.get(f"/tasks/{task_id}").get_data(as_text=True))
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\ndoc\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; {disposition_name}\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + PDF + f"\r\n--{BOUNDARY}--\r\n".encode()
    response = client.post(f"/tasks/{task_id}/documents", data=body,
                           content_type=f"multipart/form-data; boundary={BOUNDARY}")
    return response.status_code


@pytest.mark.parametrize(("sent", "stored"), [
    ("filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20pwn%3D1.pdf", "evilSet-Cookie: pwn=1.pdf"),
    ("filename*=UTF-8''nul%00byte.pdf", "nulbyte.pdf"),
    ("filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%E2%80%AEfdp.exe%E2%80%AC.pdf", "отчётfdp.exe.pdf"),
    ("filename*=UTF-8''..%2F..%2Fetc%2Fpasswd.pdf", "passwd.pdf"),
    ("filename*=UTF-8''C%3A%5CUsers%5C%D0%BF%5C%D0%9F%D0%BB%D0%B0%D0%BD%202025.pdf", "План 2025.pdf"),
    ("filename*=UTF-8''%0D%0A%E2%80%A8.pdf", "документ.pdf"),
])
def test_upload_cleans_the_name_and_the_download_works(desk: tuple[Flask, Org, int], db: Database, sent: str,
                                                       stored: str) -> None:
    app, org, task_id = desk
    school = signed_in(app, org.school_user)
    assert _upload(school, task_id, sent) == 302
    with db.reading() as session:
        row = session.scalars(select(Attachment).where(Attachment.task_id == task_id)).one()
        attachment_id, name = row.id, row.filename
    assert name == stored
    download = school.get(f"/documents/{attachment_id}")
    assert download.status_code == 200 and download.data == PDF
    disposition = download.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "Set-Cookie" not in download.headers


def test_a_name_stored_by_an_older_version_downloads_cleaned(desk: tuple[Flask, Org, int], db: Database) -> None:
    app, org, task_id = desk
    with db.transaction() as session:
        task_row = session.get(Task, task_id)
        assert task_row is not None
        row = Attachment(instance_id=task_row.instance_id, task_id=task_id, element_id=task_row.element_id,
                         field_key="doc", version=1, filename="старый\r\nSet-Cookie: pwn=1\u202e.pdf",
                         content_type="application/pdf", size=len(PDF), sha256="0" * 64, content=PDF,
                         uploaded_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        attachment_id = row.id
    school = signed_in(app, org.school_user)
    for login in (org.school_user, org.curator):
        client = school if login == org.school_user else signed_in(app, login)
        download = client.get(f"/documents/{attachment_id}")
        assert download.status_code == 200, login
        assert "Set-Cookie" not in download.headers
        assert "\r" not in download.headers["Content-Disposition"]
        assert "Set-Cookie%3A%20pwn%3D1.pdf" in download.headers["Content-Disposition"]
    page = school.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "старыйSet-Cookie: pwn=1.pdf" in page  # the list of documents shows the cleaned name too
