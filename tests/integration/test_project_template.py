"""Dashboards, the status API and the CLI follow the installation's project template (``PROJECT_TEMPLATE``)
and let a page or call name another deployed template, instead of a hard-coded ``roadmap-500``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from engine.actors import OPERATOR
from engine.db import Database
from engine.org.api_tokens import create_token
from engine.process import instances
from engine.templates import versions
from tests.conftest import Org
from tests.helpers import set_password, signed_in
from web.app import create_app
from web.cli import cli

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"


@pytest.fixture
def two_templates(db: Database, org: Org, bundle_copy: Path) -> str:
    """roadmap-500 and a private mini template, with one running mini instance in the org's school."""
    manifest = bundle_copy / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"title": "Анкетирование"',
                                                                     '"title": "Анкеты мини"'), encoding="utf-8")
    versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR)
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instances.start_instance(db, key, org.school, actor=OPERATOR)
    set_password(db, org.regional)
    return key


def app_for(db: Database, **config: Any) -> Flask:
    return create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": False,
                       **config})


def stage_titles(body: dict[str, Any]) -> list[str]:
    return [stage["title"] for stage in body["stages"]]


def test_the_status_api_follows_the_setting_and_the_parameter(db: Database, org: Org, two_templates: str) -> None:
    token = create_token(db, "тест", actor=org.regional)[1]
    headers = {"Authorization": f"Bearer {token}"}
    default = app_for(db).test_client()
    assert "Анкеты мини" not in stage_titles(default.get("/api/v1/status", headers=headers).json)
    chosen = default.get(f"/api/v1/status?template={two_templates}", headers=headers).json
    assert stage_titles(chosen) == ["Анкеты мини"] and chosen["at_stage"]["questionnaire"] == 1
    configured = app_for(db, PROJECT_TEMPLATE=two_templates).test_client()
    assert stage_titles(configured.get("/api/v1/status", headers=headers).json) == ["Анкеты мини"]
    missing = default.get("/api/v1/status?template=no-such-template", headers=headers)
    assert missing.status_code == 404


def test_dashboards_switch_between_deployed_templates(db: Database, org: Org, two_templates: str) -> None:
    client = signed_in(app_for(db), org.regional)
    page = client.get(f"/dashboard?region={org.region}").get_data(as_text=True)
    assert 'data-testid="template-switch"' in page and f'value="{two_templates}"' in page
    assert "Анкеты мини" not in page
    page = client.get(f"/dashboard?municipality={org.municipality}&template={two_templates}").get_data(as_text=True)
    assert "Анкеты мини" in page
    assert f"template={two_templates}" in page  # the page's own links keep the choice
    heat = client.get(f"/dashboard/heatmap?region={org.region}&template={two_templates}").get_data(as_text=True)
    assert 'data-process="mini"' in heat and '"fill_questionnaire": 1' in heat
    assert client.get(f"/dashboard?region={org.region}&template=no-such-template").status_code == 404


def test_the_cli_status_defaults_to_the_setting(db: Database, org: Org, two_templates: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECT_TEMPLATE", two_templates)
    result = CliRunner().invoke(cli, ["status", "--region", org.region, "--json"], obj=db)
    assert result.exit_code == 0, result.output
    assert stage_titles(json.loads(result.output)) == ["Анкеты мини"]
