"""Deploying a template through the API is for admins, and the check comes before the archive is opened:
a non-admin's upload is refused with 403 whatever it holds, without the server unpacking it."""

from __future__ import annotations

import io
import zipfile

import pytest
from flask.testing import FlaskClient

from engine.db import Database
from engine.org.api_tokens import create_token
from tests.conftest import Org
from web.app import create_app


def _broken_zip() -> bytes:
    """A zip whose only member claims to be a manifest but is not JSON: parsing it fails (422 for an admin)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", b"{not json")
    return buffer.getvalue()


@pytest.fixture
def client(db: Database) -> FlaskClient:
    return create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test"}).test_client()


def _upload(client: FlaskClient, db: Database, login: str, body: bytes) -> int:
    token = create_token(db, "тест", actor=login)[1]
    response = client.post("/api/v1/templates", data=body, content_type="application/zip",
                           headers={"Authorization": f"Bearer {token}"})
    return response.status_code


@pytest.mark.parametrize("body", [_broken_zip(), b"not a zip at all", b""])
def test_a_non_admin_upload_is_refused_before_parsing(client: FlaskClient, db: Database, org: Org,
                                                      body: bytes) -> None:
    for login in (org.regional, org.federal, org.school_user):
        assert _upload(client, db, login, body) == 403


def test_an_admin_upload_is_parsed(client: FlaskClient, db: Database, org: Org) -> None:
    assert _upload(client, db, org.admin, _broken_zip()) == 422
