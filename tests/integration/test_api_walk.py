"""A school through all six stages of the «500+» roadmap using only /api/v1 (issue 17): a generic client that knows
no template. It reads each open task's form from the API and fills it from the definition alone — a choice from
the field's values (``x-allowed-values`` where the engine supplies them; for a person, its ``x-choices-url``), text, numbers and dates within
the field's limits, a file field by uploading a document, a list with one row — checks the template's rules it
is given where it can, and when the server refuses a field (422) tries that field's next value. The school's
questionnaires are answered the same way: links made through the API, each respondent's form read by its link,
the director's form read from the API. The only things outside HTTP are the server's own: its clock, and the
deadline sweep its cron runs every minute (a roadmap may wait on a date)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine.actors import OPERATOR
from engine.bpmn import safe_eval
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.errors import ExpressionFailed, ExpressionRejected
from engine.org import curator_pool
from engine.org.api_tokens import create_token
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process.cohorts import ensure_cohort
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Clock, make_org, unique
from tests.helpers import PDF, ROADMAP
from tests.roadmap_steps import COHORT, START
from web.app import create_app

STAGES = ["selection", "questionnaire", "risk_profile", "measures_program", "monitoring", "evaluation"]


@dataclass
class Walker:
    """The integration: tokens of the people it acts for, and what it learned about fields the server refused."""

    client: FlaskClient
    tokens: dict[str, str]
    school: str
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)  # (element, field) → values tried
    visits: dict[str, int] = field(default_factory=dict)  # element → times it was open
    documents: list[int] = field(default_factory=list)  # tasks it uploaded a document for

    def call(self, login: str | None, method: str, url: str, **kwargs: Any) -> TestResponse:
        headers = {**({"Authorization": f"Bearer {self.tokens[login]}"} if login else {}),
                   **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{url}", method=method, headers=headers, **kwargs)

    def get(self, login: str, url: str) -> Any:
        response = self.call(login, "GET", url)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        return response.json

    # --- filling a form from its definition -------------------------------------------------------------------

    def value(self, component: dict[str, Any], element: str, choices: list[Any] | None = None) -> Any:
        """A value for one field, from its definition only. The ``n``-th try takes the ``n``-th option: a field the
        server refused moves on, and so does every field of a step that comes round again (a rework, another visit)
        — what a person does who is sent back."""
        refused = self.attempts.get((element, component["key"]), 0)
        tried = refused + max(self.visits.get(element, 0) - 1, 0)
        kind = component.get("type")
        options = choices if choices is not None else (
            component.get("x-allowed-values") or [v["value"] for v in component.get("values") or []])
        limits = component.get("validate") or {}
        if kind == "checklist":
            return options[:1 + tried % max(len(options), 1)] if options else []
        if options:
            return options[tried % len(options)]
        if kind == "checkbox":
            return tried % 2 == 0
        if kind == "number":
            return max(int(limits.get("min", 0)), min(int(limits.get("max", 50)), 50 - tried))
        if kind == "datetime":
            return f"2027-{3 + tried % 9:02d}-15"
        if refused and not limits.get("required"):
            return None  # refused though optional: leave it empty
        text = "Заполнено интеграцией через API: цели, задачи, показатели."
        if "pattern" in limits:  # the first of a few plain shapes the field's pattern takes
            return next((t for t in (text, "https://example.org/документ.pdf", "123", "A-1")
                         if re.fullmatch(limits["pattern"], t)), None)
        return text[:int(limits.get("maxLength", len(text)))]

    def fill(self, login: str, task_id: int, detail: dict[str, Any]) -> dict[str, Any]:
        element = detail["task"]["element_id"]
        data: dict[str, Any] = {}
        for component in detail["form"]["components"]:
            key, kind = component.get("key"), component.get("type")
            if kind == "dynamiclist":
                row = {c["key"]: self.value(c, element) for c in component.get("components", []) if c.get("key")}
                data[component["path"]] = [row]
                continue
            if not key or kind in ("text", "button", "separator"):
                continue
            if kind == "filepicker":
                self.upload(login, task_id, key)
                continue
            first_time = self.visits.get(element, 0) <= 1 and not self.attempts.get((element, key))
            if first_time and detail["values"].get(key) not in (None, "", []):
                data[key] = detail["values"][key]  # what the process proposes (the risk directions) stands first
                continue
            url = component.get("x-choices-url")
            choices = [c["value"] for c in self.get(login, url.removeprefix("/api/v1"))] if url else None
            data[key] = self.value(component, element, choices)
        return data

    def upload(self, login: str, task_id: int, key: str) -> None:
        response = self.call(login, "POST", f"/tasks/{task_id}/documents", content_type="multipart/form-data",
                             data={"field": key, "file": (_pdf(), "документ.pdf", "application/pdf")})
        assert response.status_code == 201, response.get_data(as_text=True)
        self.documents.append(task_id)

    @staticmethod
    def breaks(rules: list[dict[str, Any]], names: dict[str, Any]) -> list[str]:
        """The fields whose rules fail on what the client knows; a rule naming process data it cannot see is
        left to the server."""
        broken = []
        for rule in rules:
            try:
                if not safe_eval.evaluate(rule["check"], names):
                    broken.append(rule["field"])
            except (ExpressionFailed, ExpressionRejected):
                continue
        return broken

    def complete(self, login: str, task_id: int) -> None:
        """Fill the task's form and submit it; a refused field gets its next value, as a person would try."""
        for _ in range(12):
            detail = self.get(login, f"/tasks/{task_id}")
            element = detail["task"]["element_id"]
            data = self.fill(login, task_id, detail)
            broken = self.breaks(detail.get("rules", []), {**detail["values"], **data})
            if not broken:
                response = self.call(login, "POST", f"/tasks/{task_id}/complete", json={"data": data},
                                     headers={"If-Match": str(detail["version"])})
                if response.status_code == 200:
                    return
                assert response.status_code == 422, (element, response.get_data(as_text=True))
                broken = list((response.json or {}).get("errors", {}))
            for name in broken:
                self.attempts[(element, name)] = self.attempts.get((element, name), 0) + 1
        raise AssertionError(f"{element}: no value the server accepts")

    # --- questionnaires: links and answers ---------------------------------------------------------------------

    def answer_questionnaires(self, login: str) -> None:
        """While the school's window is open: every group answered through the API (three per linked group)."""
        groups = self.call(login, "GET", f"/schools/{self.school}/questionnaires")
        if groups.status_code != 200:
            return
        for group in groups.json or []:
            if group["responses"]:
                continue
            if group["links"] is None:  # a named group: the director, as the school's user
                form = self.get(login, f"/schools/{self.school}/questionnaires/director")
                answers = self.answers(form["form"], group["group"])
                posted = self.call(login, "POST", f"/schools/{self.school}/questionnaires/director",
                                   json={"answers": answers})
                assert posted.status_code == 201, posted.get_data(as_text=True)
                continue
            made = self.call(login, "POST", f"/schools/{self.school}/questionnaires/links",
                             json={"group": group["group"], "count": 3})
            assert made.status_code == 201, made.get_data(as_text=True)
            for token in (made.json or {})["tokens"]:
                form = self.client.post("/api/v1/questionnaires/form", json={"token": token}).json or {}
                answered = self.client.post("/api/v1/questionnaires/answers",
                                            json={"token": token, "answers": self.answers(form["form"], token)})
                assert answered.status_code == 201, answered.get_data(as_text=True)

    def answers(self, form: dict[str, Any], who: str) -> dict[str, Any]:
        return {c["key"]: self.value(c, who) for c in form["components"]
                if c.get("key") and c.get("type") not in ("text", "filepicker")}


def _pdf() -> io.BytesIO:
    return io.BytesIO(PDF)


def test_a_school_goes_through_all_six_stages_by_http_only(pg_db: Database) -> None:
    clock = Clock(START)
    db = Database(pg_db.engine, clock=clock, sessions=pg_db.sessions)
    org, tag = make_org(db), unique()
    school, director, curator = f"W{tag}", f"director-{tag}", f"curator-{tag}"
    apply_org(db, OrgData(schools=[(school, "МБОУ «СОШ для интеграции»", org.municipality)],
                          users=[UserRow(director, "Директор"), UserRow(curator, "Куратор")],
                          grants=[GrantRow(director, Role.SCHOOL, school)]))
    curator_pool.add_to_pool(db, org.region, curator, actor=org.regional)
    ensure_cohort(db, COHORT)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    people = [director, curator, org.curator, org.sibling_curator, org.municipal, org.regional, org.federal]
    app: Flask = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "walk"})
    walker = Walker(app.test_client(), {login: create_token(db, "walk", actor=login)[1] for login in people}, school)

    started = walker.call(org.regional, "POST", "/instances", json={"template": key, "school": school,
                                                                     "cohort": COHORT})
    assert started.status_code == 201, started.get_data(as_text=True)
    instance_id = started.json["instance_id"] if started.json else 0
    stages_seen: list[str] = []
    for _ in range(200):
        roadmap = walker.get(org.regional, f"/instances/{instance_id}")
        if roadmap["current_stage"] and roadmap["current_stage"] not in stages_seen:
            stages_seen.append(roadmap["current_stage"])
        if roadmap["status"] == "completed":
            break
        acted = False
        for login in people:
            mine = [t for t in walker.get(login, "/tasks?page_size=100") if t["instance_id"] == instance_id]
            for task in mine[:1]:
                if login == director:
                    walker.answer_questionnaires(login)
                walker.visits[task["element_id"]] = walker.visits.get(task["element_id"], 0) + 1
                walker.complete(login, task["id"])
                acted = True
        if not acted:  # the roadmap waits on a date: time passes and the server's cron sweeps
            clock.advance(days=7)
            sweep(db)
    else:
        raise AssertionError(f"the walk did not finish: stages {stages_seen}")
    assert roadmap["status"] == "completed"
    assert stages_seen == STAGES, stages_seen
    assert all(count <= 6 for count in walker.visits.values()), walker.visits  # reworks end: the next value is taken
    assert {"confirm_participation", "run_questionnaires", "choose_risk_directions", "prepare_concept",
            "plan_measures", "curator_visit", "regional_decision"} <= set(walker.visits)
    counts = walker.get(director, f"/schools/{school}/questionnaires")
    assert counts and all(group["responses"] for group in counts), counts  # every group answered through the API
    documents = walker.get(director, f"/tasks/{walker.documents[0]}/documents")
    assert documents and documents[0]["filename"] == "документ.pdf"
