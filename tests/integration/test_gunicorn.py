"""The production way to serve: gunicorn with web/gunicorn_conf.py and the app factory, as a real process on a
free port, answering a real page and the health check from PostgreSQL; and the app behind a reverse proxy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sqlalchemy import select

from engine.db import Database
from engine.models import SignInAttempt
from tests.conftest import unique
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status, answer.read().decode()


def _wait_for(url: str, server: subprocess.Popen[str]) -> tuple[int, str]:
    deadline = time.monotonic() + 60
    while True:
        try:
            return _get(url)
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_gunicorn_serves_the_app_with_the_production_config(postgres_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": postgres_url, "ROADMAP_SECRET_KEY": "gunicorn-test", "WEB_CONCURRENCY": "2"}
    env.pop("REDIS_URL", None)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen([gunicorn, "-c", "python:web.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
                               "web.app:create_app()"], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        status, body = _wait_for(f"http://127.0.0.1:{port}/health", server)
        assert status == 200 and '"database":"ok"' in body.replace(" ", "")
        status, page = _get(f"http://127.0.0.1:{port}/login")
        assert status == 200 and 'name="csrf_token"' in page
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "gthread" in output and '"GET /login HTTP/1.1" 200' in output, output


def test_behind_a_trusted_proxy_sign_in_sees_the_clients_address(pg_db: Database) -> None:
    app = create_app({"DATABASE": pg_db, "SECRET_KEY": "proxy-test", "WTF_CSRF_ENABLED": False,
                      "TRUSTED_PROXIES": 1})
    login = unique("nobody-")
    answer = app.test_client().post("/login", data={"login": login, "password": "wrong-password"},
                                    headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.status_code == 401
    with pg_db.reading() as session:
        assert session.scalar(select(SignInAttempt.address).where(SignInAttempt.login == login)) == "203.0.113.7"
