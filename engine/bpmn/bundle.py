"""Template bundles: BPMN + DMN + forms + manifest, read from a folder, a zip or a single BPMN file."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine.errors import Problem

MANIFEST = "manifest.json"
FORM_SUFFIX = ".form"
MAX_BUNDLE_FILES = 500
MAX_BUNDLE_BYTES = 50 * 1024 * 1024
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


@dataclass(frozen=True)
class Bundle:
    """The files of one template, by relative POSIX path. ``source`` names it in messages."""

    source: str
    files: Mapping[str, bytes]

    @property
    def bpmn_paths(self) -> list[str]:
        return sorted(p for p in self.files if p.endswith(".bpmn"))

    @property
    def dmn_paths(self) -> list[str]:
        return sorted(p for p in self.files if p.endswith(".dmn"))

    @property
    def form_paths(self) -> list[str]:
        return sorted(p for p in self.files if p.endswith(FORM_SUFFIX))

    @property
    def has_manifest(self) -> bool:
        return MANIFEST in self.files

    def display(self, path: str) -> str:
        """How a file is named in messages: as the user gave it."""
        if self.source.endswith((".bpmn", ".dmn")):
            return self.source
        return f"{self.source.rstrip('/')}/{path}"

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return digest.hexdigest()

    def to_zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.files):
                archive.writestr(path, self.files[path])
        return buffer.getvalue()


def form_key(path: str) -> str:
    return PurePosixPath(path).stem


def load_bundle(path: str | Path) -> tuple[Bundle | None, list[Problem]]:
    """Read a bundle from a folder, a ``.zip`` or a lone ``.bpmn`` file; never raises for bad input."""
    where = Path(path)
    try:
        if where.is_dir():
            return _from_folder(where), []
        if where.suffix == ".zip":
            return from_zip(str(where), where.read_bytes())
        if where.suffix in (".bpmn", ".dmn"):
            return Bundle(str(where), {where.name: where.read_bytes()}), []
        if not where.exists():
            return None, [Problem(str(where), None, None, "файл или папка не найдены")]
        return None, [Problem(str(where), None, None, "ожидается папка шаблона, .zip или .bpmn")]
    except OSError as err:
        return None, [Problem(str(where), None, None, f"не удалось прочитать: {err.strerror or err}")]


def _from_folder(folder: Path) -> Bundle:
    files = {}
    for file in sorted(folder.rglob("*")):
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(folder).parts):
            files[file.relative_to(folder).as_posix()] = file.read_bytes()
    return Bundle(str(folder), files)


def from_zip(source: str, data: bytes) -> tuple[Bundle | None, list[Problem]]:
    """Unpack a bundle zip defensively: bounded size and count, no absolute or parent paths."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > MAX_BUNDLE_FILES or sum(i.file_size for i in entries) > MAX_BUNDLE_BYTES:
            return None, [Problem(source, None, None, "архив слишком велик")]
        files = {}
        for info in entries:
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                return None, [Problem(source, None, None, f"недопустимый путь в архиве: {info.filename}")]
            files[name.as_posix()] = archive.read(info)
        return Bundle(source, files), []
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        return None, [Problem(source, None, None, f"архив повреждён: {err}")]


@dataclass(frozen=True)
class Manifest:
    key: str
    title: str
    process: str
    stages: tuple[tuple[str, str], ...]
    roles: tuple[str, ...]
    deadlines: Mapping[str, str]
    raw: Mapping[str, Any]


def read_manifest(bundle: Bundle, known_roles: tuple[str, ...]) -> tuple[Manifest | None, list[Problem]]:
    where = bundle.display(MANIFEST)
    try:
        raw = json.loads(bundle.files[MANIFEST].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        line = getattr(err, "lineno", None)
        return None, [Problem(where, line, None, f"manifest.json некорректен: {err}")]
    if not isinstance(raw, dict):
        return None, [Problem(where, None, None, "manifest.json должен быть объектом JSON")]
    problems = _manifest_problems(where, raw, known_roles)
    if problems:
        return None, problems
    stages = tuple((s["key"], s["title"]) for s in raw["stages"])
    manifest = Manifest(
        key=raw["key"],
        title=raw["title"],
        process=raw["process"],
        stages=stages,
        roles=tuple(raw.get("roles", known_roles)),
        deadlines=dict(raw.get("deadlines", {})),
        raw=raw,
    )
    return manifest, []


def _manifest_problems(where: str, raw: dict[str, Any], known_roles: tuple[str, ...]) -> list[Problem]:
    def problem(message: str) -> Problem:
        return Problem(where, None, None, message)

    problems = []
    if not isinstance(raw.get("key"), str) or not KEY_PATTERN.match(raw["key"]):
        problems.append(problem("ключ шаблона (key): латиница в нижнем регистре, цифры, «-», «_»"))
    for name in ("title", "process"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            problems.append(problem(f"не задано поле «{name}»"))
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages:
        problems.append(problem("не задан список этапов (stages)"))
    elif not all(isinstance(s, dict) and isinstance(s.get("key"), str) and isinstance(s.get("title"), str)
                 for s in stages):
        problems.append(problem("каждый этап: объект с полями key и title"))
    elif len({s["key"] for s in stages}) != len(stages):
        problems.append(problem("ключи этапов повторяются"))
    roles = raw.get("roles", list(known_roles))
    if not isinstance(roles, list) or any(r not in known_roles for r in roles):
        problems.append(problem(f"роли (roles) должны быть из списка: {', '.join(known_roles)}"))
    deadlines = raw.get("deadlines", {})
    if not isinstance(deadlines, dict) or not all(isinstance(v, str) for v in deadlines.values()):
        problems.append(problem("сроки (deadlines): объект «id задачи» → правило срока"))
    return problems
