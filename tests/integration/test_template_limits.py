"""Every way a template comes in refuses an oversize form with the same sentence: the CLI's validate and deploy,
the admin workspace (a file saved in the editor, a zip imported) and the API's upload. A 30 MB form once went
through the CLI (the database grew 126 MB) while the workspace refused anything over 5 MB."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.bpmn.bundle import MAX_FILE_BYTES, file_size_problem
from engine.db import Database
from engine.models import TemplateVersion
from engine.org.api_tokens import create_token
from engine.templates import versions, workspace
from tests.conftest import Org, make_org
from tests.helpers import big_form, csrf_token, meta_csrf_token, post, signed_in, with_passwords
from web.app import create_app
from web.cli import cli

SIZE = MAX_FILE_BYTES + 1
SENTENCE = file_size_problem(SIZE)
FORM = "forms/questionnaire.form"


def oversize(bundle_copy: Path) -> Path:
    (bundle_copy / FORM).write_bytes(big_form(SIZE))
    return bundle_copy


def as_zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def version_count(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(TemplateVersion)) or 0)


def test_cli_validate_and_deploy(db: Database, bundle_copy: Path) -> None:
    folder = oversize(bundle_copy)
    validated = CliRunner().invoke(cli, ["validate", str(folder)], obj=db)
    assert validated.exit_code == 1 and validated.stdout == f"{folder}/{FORM}:-: -: {SENTENCE}\n"
    before = version_count(db)
    deployed = CliRunner().invoke(cli, ["deploy", str(folder)], obj=db)
    assert deployed.exit_code == 1 and f"{folder}/{FORM}:-: -: {SENTENCE}" in deployed.stderr
    assert version_count(db) == before


def test_api_upload(db: Database, org: Org, bundle_copy: Path) -> None:
    client = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test"}).test_client()
    token = create_token(db, "тест", actor=org.admin)[1]
    before = version_count(db)
    answer = client.post("/api/v1/templates", data=as_zip(oversize(bundle_copy)), content_type="application/zip",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["problems"] == [f"bundle.zip/{FORM}:-: -: {SENTENCE}"]
    assert version_count(db) == before


def test_web_workspace_save_and_import(db: Database, bundle_copy: Path) -> None:
    org = make_org(db)
    with_passwords(db, org)
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    admin = signed_in(app, org.admin)
    draft_url = f"/admin/templates/{key}/draft"
    post(admin, f"{draft_url}/open", {}, f"/admin/templates/{key}")
    file_url = f"{draft_url}/files/{FORM}"
    original = admin.get(file_url).get_data(as_text=True)

    saved = admin.put(file_url, json={"content": big_form(SIZE).decode()},
                      headers={"X-CSRFToken": meta_csrf_token(admin, draft_url)})
    assert saved.status_code == 422 and saved.get_json()["saved"] is False
    assert [p["message"] for p in saved.get_json()["problems"]] == [f"{FORM}: {SENTENCE}"]
    assert admin.get(file_url).get_data(as_text=True) == original  # nothing of it was kept

    imported = admin.post(f"{draft_url}/import", data={
        "csrf_token": csrf_token(admin.get(draft_url).get_data(as_text=True)),
        "bundle": (io.BytesIO(as_zip(oversize(bundle_copy))), "mini.zip")}, content_type="multipart/form-data",
        follow_redirects=True)
    assert f"mini.zip/{FORM}:-: -: {SENTENCE}" in imported.get_data(as_text=True)
    assert admin.get(file_url).get_data(as_text=True) == original
    assert [f.size for f in workspace.draft_view(db, key,
                                                 actor=org.admin).files if f.path == FORM] == [len(original.encode())]
