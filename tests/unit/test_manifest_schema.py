"""The manifest's JSON Schema (engine/bpmn/manifest_schema.py), which the admin's manifest editor draws its
forms from and checks before saving, against the readers that judge a manifest on the server: both accept
the «500+» manifest, and both refuse each bad value below at the same JSON path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from engine.bpmn.bundle import BASIC_KEYS, MANIFEST, Bundle, manifest_notes, read_manifest
from engine.bpmn.manifest import SECTION_NAMES, check_sections
from engine.bpmn.manifest_schema import manifest_schema
from engine.json_document import format_path
from engine.roles import LANE_ROLES

ROADMAP_MANIFEST = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500" / "manifest.json"


def roadmap() -> dict[str, Any]:
    return dict(json.loads(ROADMAP_MANIFEST.read_text(encoding="utf-8")))


def engine_paths(document: dict[str, Any]) -> set[str]:
    """Where the server's readers put each problem of the manifest on its own (no BPMN, no forms)."""
    text = json.dumps(document, ensure_ascii=False, indent=1)
    manifest, problems = read_manifest(Bundle("t", {MANIFEST: text.encode()}), tuple(LANE_ROLES))
    assert manifest is not None
    problems += manifest_notes(manifest, BASIC_KEYS + SECTION_NAMES)
    problems += check_sections(manifest.where, manifest.raw, manifest.document)[1]
    return {p.element_id or "" for p in problems}


def _error_path(error: ValidationError) -> str:
    """The path of the value at fault: an unknown key is at its own path, not its object's."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in known and not k.startswith(("$", "_"))]
        return format_path([*path, *extra[:1]])
    return format_path(path)


def schema_paths(document: dict[str, Any]) -> set[str]:
    validator = Draft202012Validator(manifest_schema())
    # An error inside allOf/if-then is reported once per branch; the path is what counts.
    return {_error_path(error) for error in validator.iter_errors(document)}


def test_the_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(manifest_schema())


def test_both_accept_the_roadmap_manifest() -> None:
    assert schema_paths(roadmap()) == set()
    assert engine_paths(roadmap()) == set()


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return change


def _drop(path: tuple[str | int, ...], name: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path:
            target = target[part]
        del target[name]
    return change


BAD = {
    "an escalation step after «3 дня»": (_set(("escalation",), {"steps": [{"after": "3 дня", "levels_up": 1}]}),
                                          "escalation.steps[0].after"),
    "an escalation step five levels up": (_set(("escalation",), {"steps": [{"after": "3WD", "levels_up": 5}]}),
                                          "escalation.steps[0].levels_up"),
    "a deadline in words": (_set(("deadlines", "review_concept"), "через неделю"), "deadlines.review_concept"),
    "a cohort date as 15.04": (_set(("cohort_calendar", "concept_due"), "15.04"), "cohort_calendar.concept_due"),
    "an unknown aggregate": (_set(("indicators", "equipment_level", "aggregate"), "median"),
                             "indicators.equipment_level.aggregate"),
    "an unknown action": (_set(("actions", "confirm_coverage", 0, "action"), "send_sms"),
                          "actions.confirm_coverage[0].action"),
    "an unknown panel": (_set(("context", "review_concept", 1, "kind"), "chart"), "context.review_concept[1].kind"),
    "a stage without a title": (_set(("stages", 1), {"key": "questionnaire"}), "stages[1]"),
    "a misspelt section": (_set(("deadline",), {}), "deadline"),
    "a measure status with an unknown outcome": (_set(("measures", "statuses", 2, "outcome"), "ok"),
                                                 "measures.statuses[2].outcome"),
    "a visit escalation three levels up": (_set(("visits", "escalation", 0, "levels_up"), 3),
                                           "visits.escalation[0].levels_up"),
    "a risk factor without its indicator": (_drop(("risk_catalogue", "factors", 0), "indicator"),
                                            "risk_catalogue.factors[0]"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_both_refuse_a_bad_value_at_the_same_path(case: str) -> None:
    change, path = BAD[case]
    document = copy.deepcopy(roadmap())
    change(document)
    assert engine_paths(document) == {path}
    assert schema_paths(document) == {path}
