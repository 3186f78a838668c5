"""What several test modules share and none of them owns: signing in through the web client, the test
password, a real SMTP mailbox, a free port, the stored workflow format of before. Fixtures live in
conftest.py; a test module imports from here or from conftest, never from another test module."""

from __future__ import annotations

import functools
import json
import re
import secrets
import socket
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import update
from werkzeug.test import TestResponse

from engine.bpmn import runtime
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.models import User
from tests.conftest import Org

ROADMAP = Path(__file__).resolve().parents[1] / "workflows" / "roadmap-500"
PASSWORD = "пароль-для-тестов"
PDF = b"%PDF-1.4\n% test document\n"


# --- signing in -------------------------------------------------------------------------------------------


@functools.cache
def password_hash() -> str:
    """``PASSWORD`` as an argon2id hash, made once per run at argon2's lowest cost.

    Checking a password reads the cost from the stored hash, so the engine checks this one in microseconds
    where a production hash (engine/org/passwords.py, untouched) takes 0.4 s: with a hash per user and a check
    per sign-in, that was most of the integration tier's time. The tests of hashing itself — the stand-in
    hash, a reset or changed password signing in — still make and check production hashes."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def set_password(db: Database, *logins: str) -> None:
    """These users sign in with ``PASSWORD``."""
    with db.transaction() as session:
        session.execute(update(User).where(User.login.in_(logins)).values(password_hash=password_hash()))


def with_passwords(db: Database, org: Org) -> None:
    """Every user of ``org`` signs in with ``PASSWORD``."""
    set_password(db, org.school_user, org.curator, org.sibling_curator, org.municipal, org.other_municipal,
                 org.regional, org.federal, org.admin, org.foreign_school_user)


def signed_in(app: Flask, login: str) -> FlaskClient:
    """A client signed in as ``login`` from an address of its own: the sign-in and /q/ throttles count per
    address in a database the whole run shares, so one test's hostile requests must not throttle another's."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def meta_csrf_token(client: FlaskClient, url: str) -> str:
    """The CSRF token a page gives its scripts (``<meta name="csrf-token">``), for JSON requests."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(url).get_data(as_text=True))
    assert match, "no CSRF meta tag"
    return match.group(1)


def big_form(size: int) -> bytes:
    """A valid form-js file of exactly ``size`` bytes (its description pads it)."""
    head = {"type": "default", "id": "questionnaire", "components": [
        {"type": "number", "key": "coverage", "label": "Охват"}, {"type": "textarea", "key": "comment"}]}
    empty = json.dumps({**head, "description": ""}).encode()
    return json.dumps({**head, "description": "x" * (size - len(empty))}).encode()


def post(client: FlaskClient, url: str, data: dict[str, object], page: str = "/") -> tuple[int, str]:
    """Post a form as a browser would: with the CSRF token of ``page``."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    response = client.post(url, data={**data, "csrf_token": token})
    return response.status_code, response.get_data(as_text=True)


# --- mail and ports ---------------------------------------------------------------------------------------


class Mailbox:
    """A real SMTP server's handler (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = envelope.content.decode("utf-8", "replace")  # type: ignore[attr-defined]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), content))  # type: ignore[attr-defined]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the stored workflow format before process data was escaped (``roadmap-1``) ---------------------------


def v1_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = runtime._SpeclessWorkflowConverter  # noqa: SLF001 - the old format, rebuilt
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def v1_dump(run: WorkflowRun) -> str:
    """The workflow as a release before the escaping would have stored it."""
    serializer = v1_serializer()
    dct = serializer.to_dict(run._workflow)  # noqa: SLF001 - dumped as the old format did
    dct[serializer.VERSION_KEY] = serializer.VERSION
    return json.dumps(dct, ensure_ascii=False)


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The API's problem document (RFC 9457) of a refused request, with its status and a detail."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body is not None and body["status"] == status and body["detail"]
    return body
