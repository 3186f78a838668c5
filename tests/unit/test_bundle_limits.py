"""One set of size limits for a template, checked where bundles are read (before anything large is read) and
again by the bundle check itself, so no way in can skip them."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

from engine.bpmn.bundle import (
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_FILES,
    MAX_FILE_BYTES,
    Bundle,
    file_size_problem,
    from_zip,
    load_bundle,
)
from engine.bpmn.compiler import check_bundle
from tests import helpers
from tests.conftest import MINI_BUNDLE

OVER = MAX_FILE_BYTES + 1


def big_form(size: int = OVER) -> bytes:
    return helpers.big_form(size)


def test_the_sentence_names_the_size_and_the_limit() -> None:
    assert file_size_problem(MAX_FILE_BYTES) is None
    assert file_size_problem(OVER) == "файл занимает 5,1 МБ, а файл шаблона — не больше 5 МБ"
    assert file_size_problem(30 * 1024 * 1024) == "файл занимает 30,0 МБ, а файл шаблона — не больше 5 МБ"


def test_a_folder_with_an_oversize_form_is_refused_before_it_is_read(tmp_path: Path) -> None:
    target = tmp_path / "mini"
    shutil.copytree(MINI_BUNDLE, target)
    (target / "forms" / "questionnaire.form").write_bytes(big_form())
    bundle, problems = load_bundle(target)
    assert bundle is None
    assert [(p.path, p.message) for p in problems] == [(f"{target}/forms/questionnaire.form", file_size_problem(OVER))]


def test_a_lone_oversize_file_is_refused(tmp_path: Path) -> None:
    lone = tmp_path / "big.bpmn"
    lone.write_bytes(b" " * OVER)
    bundle, problems = load_bundle(lone)
    assert bundle is None and [p.message for p in problems] == [file_size_problem(OVER)]


def test_too_many_files_and_too_many_bytes_together(tmp_path: Path) -> None:
    many = tmp_path / "many"
    many.mkdir()
    for n in range(MAX_BUNDLE_FILES + 1):
        (many / f"f{n}.form").write_bytes(b"{}")
    assert [p.message for p in load_bundle(many)[1]] == [
        f"файлов в шаблоне: {MAX_BUNDLE_FILES + 1}, допустимо не больше {MAX_BUNDLE_FILES}"]
    heavy = tmp_path / "heavy"
    heavy.mkdir()
    for n in range(MAX_BUNDLE_BYTES // MAX_FILE_BYTES + 1):
        (heavy / f"f{n}.form").write_bytes(b" " * MAX_FILE_BYTES)
    assert [p.message for p in load_bundle(heavy)[1]] == [
        "файлы шаблона вместе занимают 25,0 МБ, допустимо не больше 20 МБ"]


def test_a_zip_is_judged_by_what_it_unpacks_to(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("forms/questionnaire.form", big_form())  # packs into a few KB
    bundle, problems = from_zip("bundle.zip", buffer.getvalue())
    assert bundle is None
    assert [(p.path, p.message) for p in problems] == [("bundle.zip/forms/questionnaire.form", file_size_problem(OVER))]
    packed = tmp_path / "huge.zip"
    with packed.open("wb") as out:
        out.truncate(MAX_BUNDLE_BYTES + 1)  # sparse: the size alone refuses it, nothing is read
    assert [p.message for p in load_bundle(packed)[1]] == [
        "архив занимает 20,1 МБ, а файлы шаблона вместе — не больше 20 МБ"]


def test_the_bundle_check_refuses_what_any_way_in_brings_and_parses_nothing_more() -> None:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    oversize = Bundle("draft", {**bundle.files, "forms/questionnaire.form": big_form()})
    compiled, problems = check_bundle(oversize)
    assert compiled is None
    assert [p.format() for p in problems] == [f"draft/forms/questionnaire.form:-: -: {file_size_problem(OVER)}"]


def test_a_stored_version_still_compiles_for_its_running_instances() -> None:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    deployed_before = Bundle("mini@1", {**bundle.files, "forms/questionnaire.form": big_form()})
    compiled, problems = check_bundle(deployed_before, stored=True)
    assert problems == [] and compiled is not None
