"""The production way to serve: gunicorn with web/gunicorn_conf.py and the app factory, as a real process on a
free port, answering a real page and the health check from PostgreSQL; and the app behind a reverse proxy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.models import SignInAttempt
from tests.conftest import unique
from tests.helpers import free_port
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str, timeout: float = 30) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.status, answer.read().decode()


def _wait_for(url: str, server: subprocess.Popen[str], *, within: float = 90.0, attempt: float = 5.0) -> tuple[int, str]:
    """The first answer from a server that is still starting. Under load (2 shared cores) a worker can
    accept the connection and answer late: a read timeout is "not yet", like a refused connection."""
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    while server.poll() is None and time.monotonic() < deadline:
        try:
            return _get(url, attempt)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:  # socket.timeout is TimeoutError
            last_error = err
            time.sleep(0.2)
    output = server.stdout.read() if server.poll() is not None and server.stdout else "(still running)"
    pytest.fail(f"gunicorn did not answer {url} within {within:.0f} s (exit code {server.returncode}); "
                f"last error: {last_error!r}; output: {output}")


def test_gunicorn_serves_the_app_with_the_production_config(postgres_url: str) -> None:
    port = free_port()
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


# Accepts its first connection and says nothing (a worker busy starting), then answers like a server.
_SLOW_STARTER = """
import socket, sys, time
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
first, _ = listener.accept()
time.sleep(3)
first.close()
while True:
    client, _ = listener.accept()
    client.recv(65536)
    client.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
    client.close()
"""


def test_waiting_for_a_server_survives_a_first_answer_that_times_out() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", _SLOW_STARTER, str(port)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/health", server, within=30, attempt=0.5) == (200, "ok")
    finally:
        server.kill()
        server.communicate(timeout=10)


def test_behind_a_trusted_proxy_sign_in_sees_the_clients_address(pg_db: Database) -> None:
    app = create_app({"DATABASE": pg_db, "SECRET_KEY": "proxy-test", "WTF_CSRF_ENABLED": False,
                      "TRUSTED_PROXIES": 1})
    login = unique("nobody-")
    answer = app.test_client().post("/login", data={"login": login, "password": "wrong-password"},
                                    headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.status_code == 401
    with pg_db.reading() as session:
        assert session.scalar(select(SignInAttempt.address).where(SignInAttempt.login == login)) == "203.0.113.7"
