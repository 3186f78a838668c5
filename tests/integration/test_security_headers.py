"""Every response carries the security headers: a Content-Security-Policy that runs this site's own
scripts only and refuses framing, nosniff, and a Referrer-Policy that keeps addresses (a respondent's
/q/<token>) on this site. The pages themselves hold no inline scripts for the policy to break."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from engine.db import Database
from web.app import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test"})


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("url", ["/login", "/", "/no-such-page", "/q/no-such-token", "/health", "/api/v1/docs",
                                 "/api/v1/openapi.json", "/api/v1/tasks", "/static/dist/app.css", "/lang/en"])
def test_every_response_has_the_security_headers(app: Flask, url: str) -> None:
    response = app.test_client().get(url)
    response.close()
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == "script-src 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["object-src"] == "object-src 'none'" and "default-src" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_template_has_an_inline_script() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            # A JSON data block (the manifest editor's schema) is never executed, so CSP allows it; any other
            # script must come from a file.
            assert "src=" in tag or 'type="application/json"' in tag, f"{template.name}: inline script {tag}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name}: an event handler attribute"
        assert "javascript:" not in text, template.name


def test_the_api_docs_page_loads_its_setup_from_a_file(app: Flask) -> None:
    page = app.test_client().get("/api/v1/docs").get_data(as_text=True)
    assert "<script>" not in page and "/static/swagger-init.js" in page
    assert 'data-spec-url="/api/v1/openapi.json"' in page
    script = app.test_client().get("/static/swagger-init.js")
    script.close()
    assert script.status_code == 200
