"""The template editors (web/assets/template-editor.js) in a real browser, on a stand-in page.

The real editor pages belong to the admin's draft screens; here a small blueprint registered only in
this module serves the same contract (file, problems and context URLs) from memory, so the editors
are tested against the real app's CSRF protection (the token from a hidden input, as on the draft
pages), static files and the real «500+» template.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, abort, jsonify, render_template_string, request
from lxml import etree
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from engine.bpmn.bundle import Bundle
from engine.bpmn.compiler import validate_bundle
from engine.bpmn.xml import ROADMAP_NS
from engine.db import Database
from engine.templates.workspace import form_references
from tests.e2e.conftest import _free_port, csp_violations, screenshot
from web.app import create_app
from web.templates_admin import manifest_schema_json

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"
BPMN = "roadmap-500.bpmn"
TASK = "confirm_coverage"  # a user task of the curator, stage «questionnaire»
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/dist/template-editor-{{ kind }}.css"><link rel="stylesheet" href="/static/dist/app.css">
</head><body><main class="container container-wide">
<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"></form>
<div id="template-editor" data-kind="{{ kind }}" data-path="{{ path }}" data-file-url="/stand-in/files/{{ path }}"
     data-problems-url="/stand-in/problems" data-context-url="/stand-in/context" data-draft-url="/stand-in/draft"></div>
{% if schema %}<script type="application/json" id="manifest-schema">{{ schema }}</script>{% endif %}
</main><script type="module" src="/static/dist/template-editor.js"></script></body></html>"""


@dataclass
class Draft:
    """What the stand-in endpoints serve: the draft's files, the problems to report, the PUTs received."""

    files: dict[str, str] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    saved: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def stand_in(draft: Draft) -> Blueprint:
    pages = Blueprint("editor_stand_in", __name__, url_prefix="/stand-in")
    manifest = json.loads((ROADMAP / "manifest.json").read_text(encoding="utf-8"))

    @pages.get("/<kind>/<path:path>")
    def editor(kind: str, path: str) -> str:
        return render_template_string(PAGE, kind=kind, path=path,
                                      schema=manifest_schema_json() if kind == "manifest" else None)

    @pages.route("/files/<path:path>", methods=["GET", "PUT"])
    def file(path: str) -> Any:
        with draft.lock:
            if path not in draft.files:
                abort(404)
            if request.method == "GET":
                return draft.files[path], 200, {"Content-Type": "text/plain; charset=utf-8"}
            content = request.get_json()["content"]
            draft.files[path] = content
            draft.saved.append((path, content))
            return jsonify(saved=True, valid=not draft.problems, problems=draft.problems)

    @pages.get("/problems")
    def problems() -> Any:
        return jsonify(valid=not draft.problems, problems=draft.problems)

    @pages.get("/context")
    def context() -> Any:
        files = {p.relative_to(ROADMAP).as_posix(): p.read_bytes() for p in ROADMAP.rglob("*") if p.is_file()}
        return jsonify(roles=manifest["roles"], stages=manifest["stages"],
                       forms=sorted(p.stem for p in (ROADMAP / "forms").glob("*.form")),
                       calendar=sorted(manifest["cohort_calendar"]), references=form_references(files, manifest))

    return pages


@dataclass
class EditorServer:
    url: str
    draft: Draft


@pytest.fixture(scope="module")
def editors(sqlite_url: str) -> Iterator[EditorServer]:
    draft = Draft()
    db = Database.from_url(sqlite_url)
    app: Flask = create_app({"DATABASE": db, "SECRET_KEY": "e2e-editors", "SESSION_COOKIE_SECURE": False})
    app.register_blueprint(stand_in(draft))
    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield EditorServer(f"http://127.0.0.1:{server.server_port}", draft)
    finally:
        server.shutdown()
        db.engine.dispose()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    refused = csp_violations(opened)
    yield opened
    context.close()
    assert not errors, errors
    assert not refused, refused


def open_editor(page: Page, editors: EditorServer, kind: str, path: str) -> None:
    page.goto(f"{editors.url}/stand-in/{kind}/{path}")
    page.wait_for_selector("#template-editor[data-ready='1']")


def leaving_is_questioned(page: Page) -> bool:
    """Whether leaving the page now would ask «leave the page?» (the beforeunload handler cancels)."""
    return bool(page.evaluate("() => { const e = new Event('beforeunload', {cancelable: true});"
                              " window.dispatchEvent(e); return e.defaultPrevented; }"))


def select_element(page: Page, element_id: str) -> None:
    """Select a BPMN element as a click would (the middle of a lane is covered by its tasks)."""
    page.evaluate("(id) => { const modeler = document.getElementById('template-editor').templateEditor.editor.modeler;"
                  " modeler.get('selection').select(modeler.get('elementRegistry').get(id)); }", element_id)


def roadmap_attributes(xml: str) -> dict[tuple[str, str], str]:
    root = etree.fromstring(xml.encode("utf-8"))
    return {(element.get("id", ""), name): value for element in root.iter() if isinstance(element.tag, str)
            for name, value in element.attrib.items() if name.startswith(f"{{{ROADMAP_NS}}}")}


def test_bpmn_editor_edits_roadmap_attributes_and_shows_problems(page: Page, editors: EditorServer) -> None:
    original = (ROADMAP / BPMN).read_text(encoding="utf-8").replace(
        f'id="{TASK}" ', f'id="{TASK}" roadmap:deadline="5WD" ', 1)
    editors.draft.files[BPMN] = original
    editors.draft.problems = [
        {"path": f"draft/{BPMN}", "line": 86, "element_id": TASK, "message": "срок короче, чем у предыдущей задачи"},
        {"path": "draft/forms/confirm_coverage.form", "line": None, "element_id": None, "message": "нет поля coverage"},
        {"path": "draft/manifest.json", "line": None, "element_id": "run_questionnaires",
         "message": "правило ссылается на поле «groups», которого нет в форме задачи"},
    ]
    open_editor(page, editors, "bpmn", BPMN)
    task = page.locator(f".djs-element[data-element-id='{TASK}']")
    expect(task).to_be_visible()

    task.click()
    group = page.locator("[data-group-id='group-roadmap']")
    expect(group).to_contain_text("«500+»")
    expect(page.locator("[data-group-id='group-general']")).to_contain_text("Общее")
    expect(page.locator(".bio-properties-panel-header")).to_contain_text("Задача пользователя")
    expect(page.locator("#bio-properties-panel-roadmap-stage")).to_have_value("questionnaire")
    expect(page.locator("#bio-properties-panel-roadmap-form")).to_have_value("confirm_coverage")
    deadline = page.locator("#bio-properties-panel-roadmap-deadline")
    expect(deadline).to_have_value("5WD")
    deadline.fill("7WD")
    expect(page.locator("#editor-status")).to_have_text("Есть несохранённые изменения")
    assert leaving_is_questioned(page)
    escalation = page.locator("#bio-properties-panel-roadmap-escalation")
    escalation.fill("5WD:9")
    expect(page.locator("[data-entry-id='roadmap-escalation']")).to_contain_text("через:уровней[:federal]")
    escalation.fill("2WD:1, 5WD:3:federal")
    select_element(page, "roadmap_500_curator")  # a lane: its role
    expect(page.locator("#bio-properties-panel-roadmap-role")).to_have_value("curator")
    page.locator("[data-group-id='group-general'] .bio-properties-panel-group-header").click()
    page.locator("#bio-properties-panel-name").fill("Куратор школы")  # a library field, applied after a pause
    page.locator("#editor-save").click()

    expect(page.locator("#editor-status")).to_have_text("Сохранено. Есть ошибки: 3")
    [(path, saved)] = editors.draft.saved
    assert path == BPMN
    before, after = roadmap_attributes(original), roadmap_attributes(saved)
    deadline_key = (TASK, f"{{{ROADMAP_NS}}}deadline")
    assert after.pop(deadline_key) == "7WD"
    assert after.pop((TASK, f"{{{ROADMAP_NS}}}escalation")) == "2WD:1, 5WD:3:federal"
    assert before.pop(deadline_key) == "5WD"
    assert after == before  # every other roadmap attribute as it was
    assert 'id="roadmap_500_curator" name="Куратор школы"' in saved  # typed just before the click: saved
    assert f'xmlns:roadmap="{ROADMAP_NS}"' in saved and f'xmlns:spiffworkflow="{SPIFF_NS}"' in saved and "<spiffworkflow:calledDecisionId>" in saved
    files = {p.relative_to(ROADMAP).as_posix(): p.read_bytes() for p in ROADMAP.rglob("*") if p.is_file()}
    assert validate_bundle(Bundle("draft", {**files, BPMN: saved.encode("utf-8")})) == []

    assert not leaving_is_questioned(page)
    expect(page.locator(f".djs-overlays[data-container-id='{TASK}'] .problem-badge")).to_be_visible()
    expect(task).to_have_class(re.compile(r"\bhas-problem\b"))
    here = page.locator(f"#editor-problems li.problem-here[data-element-id='{TASK}']")
    expect(here).to_contain_text("срок короче")
    elsewhere = page.locator("#editor-problems li.problem-elsewhere").first
    expect(elsewhere).to_contain_text("forms/confirm_coverage.form")
    expect(elsewhere.locator("a")).to_have_attribute("href", "/stand-in/draft")
    manifest = page.locator("#editor-problems li.problem-elsewhere[data-element-id='run_questionnaires']")
    expect(manifest).to_contain_text("manifest.json")  # the manifest names the task: shown on it too
    expect(page.locator(".djs-overlays[data-container-id='run_questionnaires'] .problem-badge")).to_be_visible()
    screenshot(page, "template-editor-bpmn")

    page.locator(".djs-overlays[data-container-id='run_questionnaires'] .problem-badge").click()
    expect(page.locator(".djs-element.selected[data-element-id='run_questionnaires']")).to_be_visible()
    here.locator("button").click()
    expect(page.locator(f".djs-element.selected[data-element-id='{TASK}']")).to_be_visible()


def test_form_editor_saves_json_with_ctrl_s(page: Page, editors: EditorServer) -> None:
    path = "forms/confirm_coverage.form"
    editors.draft.files[path] = (ROADMAP / path).read_text(encoding="utf-8")
    editors.draft.problems, editors.draft.saved = [], []
    open_editor(page, editors, "form", path)
    expect(page.locator("#editor-canvas .fjs-editor-container")).to_be_visible()
    page.locator("#editor-canvas .fjs-form-field").first.click()  # selecting a field changes nothing
    expect(page.locator("#editor-status")).to_have_text("Загружено")
    page.keyboard.press("Control+s")
    expect(page.locator("#editor-status")).to_have_text("Сохранено")
    screenshot(page, "template-editor-form")
    [(saved_path, saved)] = editors.draft.saved
    original = json.loads((ROADMAP / path).read_text(encoding="utf-8"))
    schema = json.loads(saved)
    assert saved_path == path
    assert [c.get("key") for c in schema["components"]] == [c.get("key") for c in original["components"]]


def test_dmn_editor_loads_the_risk_table_and_checks(page: Page, editors: EditorServer) -> None:
    path = "risk-factors.dmn"
    editors.draft.files[path] = (ROADMAP / path).read_text(encoding="utf-8")
    editors.draft.problems = [{"path": f"draft/{path}", "line": 22, "element_id": "r_k1_high_value",
                               "message": "условие не разбирается"}]
    open_editor(page, editors, "dmn", path)
    expect(page.locator(".dmn-view-tab[data-view-type='drd'][aria-current='true']")).to_be_visible()
    page.locator("#editor-check").click()
    expect(page.locator("#editor-status")).to_have_text("Есть ошибки: 1")
    # on the diagram the cell's problem shows on its decision; in the table, on the cell itself
    expect(page.locator(".djs-overlays[data-container-id='rate_risk_factor'] .problem-badge")).to_be_visible()
    item = page.locator("#editor-problems li.problem-here[data-element-id='r_k1_high_value']")
    expect(item).to_contain_text("условие не разбирается")
    item.locator("button").click()
    cell = page.locator("#editor-canvas td[data-element-id='r_k1_high_value']")
    expect(cell).to_have_class(re.compile(r"\bhas-problem\b"))
    cell.click()  # selecting a cell edits nothing, and the cell stays marked though the table re-renders it
    expect(page.locator("#editor-status")).to_have_text("Есть ошибки: 1")
    expect(cell).to_have_css("outline-style", "solid")
    expect(page.locator(".view-drd-button")).to_have_text("Схема решений")
    screenshot(page, "template-editor-dmn")


# --- the editors fit the screen ---------------------------------------------------------------------------


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def _diagram_box(page: Page, selector: str = ".djs-element.djs-shape:not(.djs-frame) .djs-visual") -> dict[str, float]:
    """The smallest box around every shape drawn on the canvas."""
    return dict(page.evaluate("""(selector) => {
        const boxes = [...document.querySelectorAll('#editor-canvas ' + selector)].map((e) => e.getBoundingClientRect())
            .filter((r) => r.width && r.height);
        const x = Math.min(...boxes.map((r) => r.left)), y = Math.min(...boxes.map((r) => r.top));
        return {x, y, width: Math.max(...boxes.map((r) => r.right)) - x, height: Math.max(...boxes.map((r) => r.bottom)) - y};
    }""", selector))


def test_editors_take_the_window_and_nothing_covers_the_work(page: Page, editors: EditorServer) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    editors.draft.files[BPMN] = (ROADMAP / BPMN).read_text(encoding="utf-8")
    editors.draft.problems = [{"path": f"draft/{BPMN}", "line": 86, "element_id": TASK, "message": "срок короче"}]
    open_editor(page, editors, "bpmn", BPMN)
    canvas = _box(page, "#editor-canvas")
    assert canvas["width"] > 900 and canvas["y"] + canvas["height"] > 800  # the working area, not a column
    palette, diagram = _box(page, ".djs-palette"), _diagram_box(page)
    assert diagram["x"] > palette["x"] + palette["width"]  # the palette does not cover the diagram
    # the side panels fold away, the canvas takes their place; the problems are beside the work, not over it
    page.locator("#editor-check").click()
    expect(page.locator("#editor-toggle-problems")).to_have_text("Ошибки: 1")
    assert not _overlap(_box(page, "#editor-problems"), _box(page, "#editor-canvas"))
    page.locator("#editor-toggle-properties").click()
    page.locator("#editor-toggle-problems").click()
    expect(page.locator("#editor-problems")).to_be_hidden()
    expect(page.locator("#editor-toggle-properties")).to_have_attribute("aria-pressed", "false")
    assert _box(page, "#editor-canvas")["width"] > canvas["width"] + 300
    page.locator("#editor-fullscreen").click()
    full = _box(page, "#template-editor")
    assert full["x"] == 0 and full["y"] == 0 and full["width"] == 1366 and full["height"] == 900
    page.keyboard.press("Escape")
    expect(page.locator("#editor-fullscreen")).to_have_attribute("aria-pressed", "false")

    path = "risk-factors.dmn"
    editors.draft.files[path] = (ROADMAP / path).read_text(encoding="utf-8")
    editors.draft.problems = []
    open_editor(page, editors, "dmn", path)
    title, palette = _box(page, ".dmn-definitions"), _box(page, ".djs-palette")
    decision = _box(page, ".djs-element[data-element-id='rate_risk_factor']")
    assert not _overlap(title, decision) and not _overlap(palette, decision)

    form = "forms/confirm_coverage.form"
    editors.draft.files[form] = (ROADMAP / form).read_text(encoding="utf-8")
    open_editor(page, editors, "form", form)
    assert _box(page, "#editor-canvas .fjs-form-container, #editor-canvas .fjs-editor-form-container")["width"] > 450
    expect(page.locator("#editor-properties .fjs-properties-container")).to_be_visible()


# --- the editors speak Russian ----------------------------------------------------------------------------

COLLECT_TEXTS = "\n".join(line for line in (Path(__file__).parent / "collect_texts.js").read_text(encoding="utf-8")
                          .splitlines() if not line.startswith("//"))
# Latin words a Russian admin reads as they are, not as English (keep this short):
# - names of notations and formats: BPMN, DMN, FEEL, JSON, Markdown; key caps: Ctrl, Esc;
# - «id», the attribute the admin types in the diagram and the manifest («id задачи BPMN»);
# - the manifest's own values shown as syntax («none» in an example) and DMN column types the admin types
#   into the table (string, number, boolean, date — FEEL type names, not words).
NOT_ENGLISH = {"BPMN", "DMN", "FEEL", "JSON", "Markdown", "Ctrl", "Esc", "id", "none", "string", "number", "boolean", "date"}


def english_texts(texts: list[str]) -> list[str]:
    found = []
    for text in sorted(set(texts)):
        words = re.findall(r"(?<![\w.:/$#{-])[A-Za-z][A-Za-z']+(?![\w.:(/$#}-])", text)
        if any(word not in NOT_ENGLISH for word in words):
            found.append(text)
    return found


def _collect(page: Page) -> list[str]:
    return list(page.evaluate(COLLECT_TEXTS))


def _expand_groups(page: Page) -> None:
    for _ in range(3):
        for header in page.locator("#editor-properties .bio-properties-panel-group-header:not(.open)").all():
            if header.is_visible():
                header.click()


# A form with a field of each kind the templates use, so that each kind's properties panel is looked at.
EVERY_FIELD = {"type": "default", "id": "Form_every_field", "schemaVersion": 16, "components": [
    {"type": "textfield", "key": "name", "label": "Название", "validate": {"required": True, "maxLength": 50}},
    {"type": "textarea", "key": "comment", "label": "Комментарий"},
    {"type": "number", "key": "count", "label": "Количество", "decimalDigits": 0},
    {"type": "select", "key": "choice", "label": "Выбор", "values": [{"label": "Первый", "value": "first"}]},
    {"type": "radio", "key": "level", "label": "Уровень", "valuesKey": "levels"},
    {"type": "checklist", "key": "marks", "label": "Отметки", "values": [{"label": "Одна", "value": "one"}]},
    {"type": "checkbox", "key": "agreed", "label": "Согласовано"},
    {"type": "datetime", "key": "due", "subtype": "date", "dateLabel": "Срок"},
    {"type": "filepicker", "key": "scan", "label": "Скан"},
    {"type": "text", "text": "Пояснение"},
    {"type": "dynamiclist", "path": "rows", "label": "Строки", "isRepeating": True, "allowAddRemove": True,
     "defaultRepetitions": 1, "components": [{"type": "textfield", "key": "row_title", "label": "Строка"}]},
    {"type": "group", "path": "", "label": "Группа", "components": [{"type": "textfield", "key": "inner", "label": "Внутри"}]},
]}


def _editor_call(page: Page, script: str, arg: Any = None) -> Any:
    """Run `script` (a function of the editor's modeler and arg) in the page."""
    return page.evaluate(f"([arg]) => {{ const modeler = document.getElementById('template-editor').templateEditor"
                         f".editor.modeler; return ({script})(modeler, arg); }}", [arg])


def _popup(page: Page, action: str) -> list[str]:
    """The texts of a context pad entry's popup menu (change type, append), closed again."""
    entry = page.locator(f".djs-context-pad .entry[data-action='{action}']")
    if not (entry.count() and entry.first.is_visible()):
        return []
    entry.first.click()
    expect(page.locator(".djs-popup")).to_be_visible()
    seen = _collect(page)
    page.keyboard.press("Escape")
    return seen


def test_the_three_editors_show_no_english(page: Page, editors: EditorServer) -> None:
    """What an admin sees in each editor — palette, context pad, popup menus, search, the properties panel of
    each kind of element with every group open, the decision table's menus — is Russian."""
    page.set_viewport_size({"width": 1366, "height": 900})
    editors.draft.files[BPMN] = (ROADMAP / BPMN).read_text(encoding="utf-8")
    editors.draft.problems = []
    open_editor(page, editors, "bpmn", BPMN)
    bpmn = _collect(page)  # the palette
    kinds = _editor_call(page, "(modeler) => { const first = {}; for (const e of modeler.get('elementRegistry').getAll())"
                               " { if (e.type !== 'label' && !(e.type in first)) first[e.type] = e.id; } return first; }")
    assert {"bpmn:UserTask", "bpmn:Lane", "bpmn:SequenceFlow", "bpmn:ExclusiveGateway", "bpmn:StartEvent"} <= set(kinds)
    for element_id in kinds.values():
        select_element(page, element_id)  # the context pad and the properties panel of every kind of element
        _expand_groups(page)
        bpmn += _collect(page)
        bpmn += _popup(page, "replace") + _popup(page, "append")
    select_element(page, kinds["bpmn:StartEvent"])  # a start event made a timer through «change type»
    page.locator(".djs-context-pad .entry[data-action='replace']").click()
    page.locator(".djs-popup .entry[data-id='replace-with-timer-start']").click()
    expect(page.locator("[data-group-id='group-timer']")).to_be_visible()
    _expand_groups(page)
    bpmn += _collect(page)
    page.locator("#editor-canvas svg").first.focus()
    page.keyboard.press("Control+f")  # the search over the diagram, with its results
    page.locator(".djs-search-input input").press_sequentially("confirm")
    expect(page.locator(".djs-search-result").first).to_be_visible()
    bpmn += _collect(page)
    page.keyboard.press("Escape")
    assert {"Задача пользователя", "Изменить тип элемента", "Таймер"} <= set(bpmn)
    english = {"bpmn": english_texts(bpmn)}  # all editors are looked at before the assertion: one run shows all

    path = "risk-factors.dmn"
    editors.draft.files[path] = (ROADMAP / path).read_text(encoding="utf-8")
    open_editor(page, editors, "dmn", path)
    page.locator(".djs-element[data-element-id='rate_risk_factor']").click()
    dmn = _collect(page)  # the palette, the decision's context pad
    page.locator(".dmn-view-tab[data-view-type='decisionTable']").click()
    expect(page.locator("#editor-canvas .tjs-table")).to_be_visible()
    dmn += _collect(page)
    page.locator("#editor-canvas .hit-policy .dms-input-select").click()  # the hit policies to choose from
    expect(page.locator(".dms-select-options")).to_be_visible()
    dmn += _collect(page)
    page.keyboard.press("Escape")
    for edit in ("Изменить вход", "Изменить выход"):  # an input's and an output's editor
        page.locator("#editor-canvas thead").get_by_role("button", name=edit).first.dispatch_event("click")
        expect(page.locator("#editor-canvas .context-menu")).to_be_visible()
        dmn += _collect(page)
        page.keyboard.press("Escape")
    page.locator("#editor-canvas tbody td").nth(1).click(button="right")
    expect(page.locator("#editor-canvas .context-menu")).to_be_visible()
    dmn += _collect(page)
    page.keyboard.press("Escape")
    assert {"Политика выбора", "Добавить правило выше"} <= {text.rstrip(":") for text in dmn}
    english["dmn"] = english_texts(dmn)

    form = "forms/every_field.form"
    editors.draft.files[form] = json.dumps(EVERY_FIELD, ensure_ascii=False)
    open_editor(page, editors, "form", form)
    seen = _collect(page)  # the palette, the empty properties panel
    page.locator(".fjs-palette-search").fill("зз")
    seen += _collect(page)  # nothing found
    page.locator(".fjs-palette-search").fill("")
    fields = _editor_call(page, "(editor) => editor.get('formFieldRegistry').getAll().map((f) => f.id)")
    for field_id in fields:  # the form itself, then each field
        _editor_call(page, "(editor, id) => editor.get('selection').set(editor.get('formFieldRegistry').get(id))", field_id)
        _expand_groups(page)
        for more in page.locator("#editor-properties .bio-properties-panel-collapsible-entry-header").all():
            if more.is_visible() and "open" not in (more.get_attribute("class") or ""):
                more.click()  # a list's items: the options of a select
        seen += _collect(page)
    assert {"Компоненты", "Текстовое поле", "Подпись поля", "Ключ"} <= set(seen)
    english["form"] = english_texts(seen)

    editors.draft.files["manifest.json"] = (ROADMAP / "manifest.json").read_text(encoding="utf-8")
    open_editor(page, editors, "manifest", "manifest.json")
    seen = []
    for section in page.locator("#manifest-tabs [role='tab']").all():  # every section's forms
        section.click()
        more = page.locator("#manifest-panel .manifest-more")
        while more.count():
            more.first.click()  # every column of the tables that show the columns in use
        seen += _collect(page)
    page.locator("#manifest-views [data-view='raw']").click()
    seen += _collect(page)
    assert {"Сроки", "Эскалация", "Календарь когорты", "Каталог рисков", "Исходный JSON"} <= set(seen)
    english["manifest"] = english_texts(seen)
    left = {editor: texts for editor, texts in english.items() if texts}
    assert not left, json.dumps(left, ensure_ascii=False)


def test_each_editor_page_loads_only_its_own_editor(page: Page, editors: EditorServer) -> None:
    loaded: list[tuple[str, int]] = []
    page.on("response", lambda response: loaded.append((response.url.split("?")[0], len(response.body())))
            if "/static/dist/" in response.url else None)
    files = {"bpmn": BPMN, "dmn": "risk-factors.dmn", "form": "forms/confirm_coverage.form", "manifest": "manifest.json"}
    for kind, path in files.items():
        editors.draft.files[path] = (ROADMAP / path).read_text(encoding="utf-8")
        loaded.clear()
        open_editor(page, editors, kind, path)
        names = [url.rsplit("/", 1)[1] for url, _ in loaded]
        others = [other for other in files if other != kind]
        assert any(name.startswith(f"{kind}-editor-") for name in names), names
        assert not any(name.startswith(f"{other}-editor-") for other in others for name in names), names
        assert f"template-editor-{kind}.css" in names and "template-editor.css" not in names
        scripts = sum(size for url, size in loaded if url.endswith(".js"))
        assert scripts < 2_000_000, scripts  # all three editors together were 2.7 MB


# --- keys from labels, and the references a key has --------------------------------------------------------


def _general_group(page: Page) -> None:
    general = page.locator("#editor-properties [data-group-id='group-general']")
    if "open" not in (general.locator(".bio-properties-panel-group-header").get_attribute("class") or ""):
        general.locator(".bio-properties-panel-group-header").click()


def _add_text_field(page: Page, label: str, expected_key: str) -> None:
    page.locator(".fjs-palette-field[data-field-type='textfield']").focus()
    page.keyboard.press("Enter")
    page.locator(".fjs-editor-form-root .fjs-form-field-textfield").last.click()
    _general_group(page)
    page.locator("#bio-properties-panel-label").fill(label)
    expect(page.locator("#bio-properties-panel-key")).to_have_value(expected_key)


def test_form_keys_follow_labels_and_renaming_a_referenced_key_asks_first(page: Page, editors: EditorServer) -> None:
    path = "forms/confirm_coverage.form"
    original = json.loads((ROADMAP / path).read_text(encoding="utf-8"))
    editors.draft.files[path] = json.dumps(original, ensure_ascii=False)
    editors.draft.problems, editors.draft.saved = [], []
    open_editor(page, editors, "form", path)

    _add_text_field(page, "Комментарий школы", "kommentariy_shkoly")
    _add_text_field(page, "Комментарий школы", "kommentariy_shkoly_2")  # never a key another field has
    key = page.locator("#bio-properties-panel-key")
    key.fill("kommentariy_shkoly")  # a duplicate typed by hand is refused by the editor
    expect(page.locator("[data-entry-id='key']")).to_contain_text("Не должно совпадать")
    key.fill("school_note")  # a key of one's own: the label no longer changes it
    page.locator("#bio-properties-panel-label").fill("Заметка школы")
    page.wait_for_timeout(500)
    expect(key).to_have_value("school_note")

    # coverage_comment is the field the manifest's rule of confirm_coverage checks
    page.locator(".fjs-editor-form-root .fjs-form-field-textarea").first.click()
    _general_group(page)
    expect(key).to_have_value("coverage_comment")
    key.fill("curator_comment")
    page.locator("#editor-save").click()
    warning = page.locator("dialog#editor-save-warning")
    expect(warning).to_contain_text("Поле «coverage_comment» переименовано или удалено, а на него ссылается "
                                    "правило задачи «confirm_coverage»")
    warning.get_by_role("button", name="Не сохранять").click()
    expect(page.locator("#editor-status")).to_have_text("Не сохранено: изменения остались в редакторе")
    assert editors.draft.saved == []
    page.locator("#editor-save").click()
    page.locator("dialog#editor-save-warning").get_by_role("button", name="Сохранить всё равно").click()
    expect(page.locator("#editor-status")).to_have_text("Сохранено")
    [(_, saved)] = editors.draft.saved
    keys = [c.get("key") for c in json.loads(saved)["components"]]
    assert "curator_comment" in keys and "coverage_comment" not in keys
    assert {"kommentariy_shkoly", "school_note"} <= set(keys)
