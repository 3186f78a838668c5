"""The form fields the manifest refers to, as the form editor gets them (engine.templates.workspace.form_references)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.templates.workspace import form_references

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"


def _files() -> dict[str, bytes]:
    return {p.relative_to(ROADMAP).as_posix(): p.read_bytes() for p in ROADMAP.rglob("*") if p.is_file()}


def test_rules_indicators_and_the_measures_list_name_their_form_fields() -> None:
    files = _files()
    found = form_references(files, json.loads(files["manifest.json"]))
    assert {"key": "coverage_comment", "by": "правило задачи «confirm_coverage»"} in found["confirm_coverage"]
    assert {"key": "equipment_level", "by": "показатель «equipment_level»"} in found["questionnaire_director"]
    manifest = json.loads(files["manifest.json"])
    measures_form = next(form for form, refs in found.items()
                         if {"key": manifest["measures"]["list"], "by": "раздел measures (мероприятия)"} in refs)
    assert measures_form


def test_a_broken_manifest_or_bpmn_gives_what_can_be_read() -> None:
    files = {**_files(), "roadmap-500.bpmn": b"<not xml"}
    found = form_references(files, {"rules": {"confirm_coverage": [{"field": "x"}]}, "indicators": [1, 2],
                                    "questionnaires": {"groups": {"g": {"form": "q"}}}, "measures": "no"})
    assert found == {}  # the rule's task has no form without a BPMN; nothing else is readable
    assert form_references({}, {"indicators": {"i": {"group": "g", "field": "f"}},
                                "questionnaires": {"groups": {"g": {"form": "q"}}}}) == {"q": [{"key": "f", "by": "показатель «i»"}]}
