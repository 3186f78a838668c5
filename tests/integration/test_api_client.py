"""A client generated from /api/v1/openapi.json with openapi-python-client, as an integrator would make one:
its package imports by name, its functions are the operationIds, and it drives a task against a live server."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.actors import OPERATOR
from engine.db import Database
from engine.org.api_tokens import create_token
from engine.process import instances
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import make_org
from tests.helpers import ROADMAP
from web.app import create_app


def test_every_operation_has_a_unique_snake_case_id_and_the_title_is_importable(db: Database) -> None:
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "client"})
    document = app.test_client().get("/api/v1/openapi.json").json
    ids = [op["operationId"] for ops in document["paths"].values() for method, op in ops.items()
           if method != "parameters"]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(i.isidentifier() and i == i.lower() for i in ids)
    assert {"list_tasks", "get_task", "complete_task", "list_respondent_links", "upload_task_document"} <= set(ids)
    assert document["info"]["title"] == "Roadmap API"


@pytest.fixture
def live(pg_db: Database) -> Iterator[dict[str, Any]]:
    org = make_org(pg_db)
    ensure_cohort(pg_db, 2041)
    key = versions.deploy_template(pg_db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance = instances.start_instance(pg_db, key, org.school, cohort_year=2041, actor=OPERATOR).instance_id
    app = create_app({"DATABASE": pg_db, "TESTING": True, "SECRET_KEY": "client"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"app": app, "url": f"http://127.0.0.1:{server.server_port}", "instance": instance,
               "token": create_token(pg_db, "client", actor=org.regional)[1], "curator": org.curator}
    finally:
        server.shutdown()


def test_a_generated_client_drives_a_task(live: dict[str, Any], tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(live["app"].test_client().get("/api/v1/openapi.json").json))
    (tmp_path / "config.yml").write_text("post_hooks: []\n")
    subprocess.run([str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(spec),
                    "--config", str(tmp_path / "config.yml"), "--output-path", str(tmp_path / "client")],
                   check=True, capture_output=True, cwd=tmp_path)
    sys.path.insert(0, str(tmp_path / "client"))
    try:
        package = importlib.import_module("roadmap_api_client")
        list_tasks = importlib.import_module("roadmap_api_client.api.api_tasks.list_tasks")
        get_task = importlib.import_module("roadmap_api_client.api.api_tasks.get_task")
        complete_task = importlib.import_module("roadmap_api_client.api.api_tasks.complete_task")
        form_data = importlib.import_module("roadmap_api_client.models.form_data")
        client = package.AuthenticatedClient(base_url=live["url"], token=live["token"])

        mine = [t for t in list_tasks.sync(client=client, page_size=100) if t.instance_id == live["instance"]]
        [confirm] = [t for t in mine if t.element_id == "confirm_participation"]
        detail = get_task.sync(client=client, task_id=confirm.id)
        curators = [c["value"] for c in detail.choices.additional_properties["curator_candidates"]]
        assert live["curator"] in curators
        data = form_data.FormData.from_dict({"data": {"participation": "confirmed", "curator_login": live["curator"],
                                                      "order_number": "7"}})
        done = complete_task.sync(client=client, task_id=confirm.id, body=data)
        assert done.task_id == confirm.id and done.next_task_ids
    finally:
        sys.path.remove(str(tmp_path / "client"))
        for name in [m for m in sys.modules if m.startswith("roadmap_api_client")]:
            del sys.modules[name]
