"""Diff between two deployed versions of a template."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine.actors import OPERATOR
from engine.db import Database
from engine.templates import versions
from engine.templates.diff import diff_versions
from web.cli import cli


def test_diff_names_changed_tasks_forms_rules_and_elements(db: Database, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    bpmn = bundle_copy / "mini.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace('roadmap:deadline="5WD"', 'roadmap:deadline="3WD"')
                    .replace('name="Готово"', 'name="Анкета принята"'), encoding="utf-8")
    form = bundle_copy / "forms" / "questionnaire.form"
    definition = json.loads(form.read_text(encoding="utf-8"))
    definition["components"].append({"type": "textfield", "key": "contact", "label": "Контакт"})
    relabelled = next(c for c in definition["components"] if c.get("key") and c.get("label"))
    old_label, relabelled["label"] = relabelled["label"], "Новая подпись"
    form.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    dmn = bundle_copy / "risk.dmn"
    dmn.write_text(dmn.read_text(encoding="utf-8").replace("&lt; 30", "&lt; 25"), encoding="utf-8")
    assert versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).version == 2

    found = diff_versions(db, key, 1, 2, actor=OPERATOR)
    assert found.tasks.changed == {"review": ["срок: «5WD» → «3WD»"]}
    assert found.forms.changed == {"questionnaire": [
        "+ поле «Контакт» (contact), textfield",
        f"~ поле «Новая подпись» ({relabelled['key']}): подпись «{old_label}» → «Новая подпись»"]}
    assert list(found.rules.changed) == ["r_high"] and "< 25" in found.rules.changed["r_high"][0]
    assert "end" in found.elements.changed and found.elements.added == found.elements.removed == []
    assert found.manifest == []

    result = CliRunner().invoke(cli, ["diff", key, "1", "2"], obj=db)
    assert result.exit_code == 0 and "~ review: срок: «5WD» → «3WD»" in result.stdout
    assert "Формы:" in result.stdout and "+ поле «Контакт» (contact), textfield" in result.stdout


def test_diff_of_unknown_version_is_one_line(db: Database, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    result = CliRunner().invoke(cli, ["diff", key, "1", "7"], obj=db)
    assert result.exit_code == 1 and "версии 7 не найден" in result.stderr
