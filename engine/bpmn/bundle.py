"""Template bundles: BPMN + DMN + forms + manifest, read from a folder, a zip or a single BPMN file.

The size limits below hold for every way a template comes in — ``roadmap validate``/``deploy`` (a folder,
a zip, a lone file), the admin workspace (a saved file, an imported zip) and the API's upload — and are
checked again by ``check_bundle`` over whatever bytes it is given, so no way in can skip them.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine.errors import Problem
from engine.json_document import JsonDocument, JsonPath, JsonRefused, format_path, parse_json
from engine.timing.due import DueRule

MANIFEST = "manifest.json"
FORM_SUFFIX = ".form"
_MB = 1024 * 1024
#: One file of a template (BPMN, DMN, form, manifest). The largest real one, roadmap-500.bpmn, is 46 KB;
#: a 30 MB form once went through the CLI and grew the database by 126 MB (files, spec, a copy per draft).
MAX_FILE_BYTES = 5 * _MB
#: All files of a template together, unpacked.
MAX_BUNDLE_BYTES = 20 * _MB
MAX_BUNDLE_FILES = 500
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


def _megabytes(size: int) -> str:
    """Rounded up, so a file one byte over 5 MB does not read as «5,0 МБ»."""
    return f"{math.ceil(size * 10 / _MB) / 10:.1f}".replace(".", ",")


def file_size_problem(size: int) -> str | None:
    """The one sentence every way in gives for a file over the limit; None when the size is fine."""
    if size <= MAX_FILE_BYTES:
        return None
    return f"файл занимает {_megabytes(size)} МБ, а файл шаблона — не больше {MAX_FILE_BYTES // _MB} МБ"


def size_problems(source: str, sizes: Mapping[str, int]) -> list[Problem]:
    """Every limit a template's files break, by relative path → size in bytes."""
    display = Bundle(source, {}).display
    problems = [Problem(display(path), None, None, message) for path, size in sorted(sizes.items())
                if (message := file_size_problem(size))]
    if len(sizes) > MAX_BUNDLE_FILES:
        problems.append(Problem(source, None, None,
                                f"файлов в шаблоне: {len(sizes)}, допустимо не больше {MAX_BUNDLE_FILES}"))
    total = sum(sizes.values())
    if total > MAX_BUNDLE_BYTES:
        problems.append(Problem(source, None, None, f"файлы шаблона вместе занимают {_megabytes(total)} МБ, "
                                                    f"допустимо не больше {MAX_BUNDLE_BYTES // _MB} МБ"))
    return problems


def archive_size_problems(source: str, size: int) -> list[Problem]:
    """A zip larger than the files of a template may be together is refused before it is opened."""
    if size <= MAX_BUNDLE_BYTES:
        return []
    return [Problem(source, None, None, f"архив занимает {_megabytes(size)} МБ, а файлы шаблона вместе — "
                                        f"не больше {MAX_BUNDLE_BYTES // _MB} МБ")]


def bundle_size_problems(bundle: Bundle) -> list[Problem]:
    return size_problems(bundle.source, {path: len(data) for path, data in bundle.files.items()})


def load_bundle(path: str | Path) -> tuple[Bundle | None, list[Problem]]:
    """Read a bundle from a folder, a ``.zip`` or a lone ``.bpmn`` file; never raises for bad input.
    Sizes are checked before anything is read."""
    where = Path(path)
    try:
        if where.is_dir():
            return _from_folder(where)
        if where.suffix == ".zip":
            too_big = archive_size_problems(str(where), where.stat().st_size)
            return (None, too_big) if too_big else from_zip(str(where), where.read_bytes())
        if where.suffix in (".bpmn", ".dmn"):
            too_big = size_problems(str(where), {where.name: where.stat().st_size})
            return (None, too_big) if too_big else (Bundle(str(where), {where.name: where.read_bytes()}), [])
        if not where.exists():
            return None, [Problem(str(where), None, None, "файл или папка не найдены")]
        return None, [Problem(str(where), None, None, "ожидается папка шаблона, .zip или .bpmn")]
    except OSError as err:
        return None, [Problem(str(where), None, None, f"не удалось прочитать: {err.strerror or err}")]


def _from_folder(folder: Path) -> tuple[Bundle | None, list[Problem]]:
    found: dict[str, Path] = {}
    for file in sorted(folder.rglob("*")):
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(folder).parts):
            found[file.relative_to(folder).as_posix()] = file
            if len(found) > MAX_BUNDLE_FILES:
                break  # the count is over the limit already; a huge tree is not walked to the end
    too_big = size_problems(str(folder), {path: file.stat().st_size for path, file in found.items()})
    if too_big:
        return None, too_big
    return Bundle(str(folder), {path: file.read_bytes() for path, file in found.items()}), []


def from_zip(source: str, data: bytes) -> tuple[Bundle | None, list[Problem]]:
    """Unpack a bundle zip defensively: sizes checked from the directory before anything is unpacked
    (and the unpacked bytes counted again), no absolute or parent paths."""
    too_big = archive_size_problems(source, len(data))
    if too_big:
        return None, too_big
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [info for info in archive.infolist() if not info.is_dir()]
        declared = {info.filename: info.file_size for info in entries[:MAX_BUNDLE_FILES + 1]}
        too_big = size_problems(source, declared)
        if too_big:
            return None, too_big
        files = {}
        for info in entries:
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                return None, [Problem(source, None, None, f"недопустимый путь в архиве: {info.filename}")]
            files[name.as_posix()] = archive.read(info)
        bundle = Bundle(source, files)
        too_big = bundle_size_problems(bundle)  # a directory may understate what its entries unpack to
        return (None, too_big) if too_big else (bundle, [])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        return None, [Problem(source, None, None, f"архив повреждён: {err}")]


# --- manifest.json -----------------------------------------------------------------------------------

#: Top-level keys of manifest.json the engine reads; ``engine.bpmn.manifest`` reads the project sections.
BASIC_KEYS = ("key", "title", "process", "stages", "roles", "deadlines")


@dataclass(frozen=True)
class Manifest:
    """What manifest.json says, read section by section.

    A refused value is reported once, on its own line, and left out — ``None`` where the checks after it
    cannot know the truth — so they neither trust it nor report its consequences a second time (one
    unknown role once discarded the whole manifest and brought 105 false lines about tasks and forms)."""

    where: str
    key: str | None
    title: str | None
    process: str | None
    stages: tuple[tuple[str, str], ...] | None  # None: the list cannot be read; tasks' stages are not checked
    roles: tuple[str, ...]
    deadlines: Mapping[str, str]  # task id -> a rule that parses
    refused_deadlines: frozenset[str] | None  # tasks whose rule was refused; None: the whole section was
    raw: Mapping[str, Any]
    document: JsonDocument

    def problem(self, path: JsonPath, message: str) -> Problem:
        """A problem on the line of the value at ``path``, named by its JSON path."""
        return Problem(self.where, self.document.line(path), format_path(path) or None, message)


class _ManifestReader:
    def __init__(self, where: str, document: JsonDocument) -> None:
        self.where = where
        self.document = document
        self.raw: dict[str, Any] = document.value
        self.problems: list[Problem] = []

    def problem(self, path: JsonPath, message: str) -> None:
        self.problems.append(Problem(self.where, self.document.line(path), format_path(path) or None, message))

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if isinstance(value, str) and value.strip():
            return value
        self.problem((name,), f"не задано поле «{name}»" if value is None
                     else f"поле «{name}»: ожидается непустая строка")
        return None

    def key(self) -> str | None:
        key = self.text("key")
        if key is not None and not KEY_PATTERN.match(key):
            self.problem(("key",), f"ключ шаблона «{key}»: от 2 до 63 знаков — латиница в нижнем регистре, "
                                   "цифры, «-», «_»")
            return None
        return key

    def stages(self) -> tuple[tuple[str, str], ...] | None:
        items = self.raw.get("stages")
        if not isinstance(items, list) or not items:
            self.problem(("stages",), "не задан список этапов (stages): объекты с полями key и title")
            return None
        stages: list[tuple[str, str]] = []
        seen: dict[str, int | None] = {}
        complete = True
        for index, item in enumerate(items):
            at: JsonPath = ("stages", index)
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(key, str) or not key.strip():
                self.problem((*at, "key") if isinstance(item, dict) and "key" in item else at,
                             "этап: объект с полями key (непустая строка) и title")
                complete = False  # a stage whose key is unknown may be the one a task names
                continue
            if key in seen:
                self.problem((*at, "key"), f"этап «{key}» уже объявлен (строка {seen[key]})")
                continue
            seen[key] = self.document.line(at)
            title = item.get("title")
            if not isinstance(title, str) or not title.strip():
                self.problem((*at, "title") if "title" in item else at, f"у этапа «{key}» не задано название (title)")
                title = key
            stages.append((key, title))
        return tuple(stages) if complete else None

    def roles(self, known_roles: tuple[str, ...]) -> tuple[str, ...]:
        """The roles lanes may have. When the list has a wrong entry, which role was meant is unknown, so lanes
        are checked against every known role rather than each lane of the meant one being reported too."""
        items = self.raw.get("roles", list(known_roles))
        if not isinstance(items, list) or not items:
            self.problem(("roles",), f"роли (roles): непустой список из {', '.join(known_roles)}")
            return known_roles
        roles = []
        for index, role in enumerate(items):
            if isinstance(role, str) and role in known_roles:
                roles.append(role)
            else:
                self.problem(("roles", index), f"неизвестная роль «{role}»: роли — {', '.join(known_roles)}")
        return tuple(roles) if len(roles) == len(items) else known_roles

    def deadlines(self) -> tuple[dict[str, str], frozenset[str] | None]:
        section = self.raw.get("deadlines", {})
        if not isinstance(section, dict):
            self.problem(("deadlines",), "сроки (deadlines): объект «id задачи» → правило срока")
            return {}, None
        rules, refused = {}, set()
        for task_id, rule in section.items():
            try:
                if not isinstance(rule, str):
                    raise ValueError("правило срока — строка: P14D, 5WD или cohort:имя")
                DueRule.parse(rule)
            except ValueError as err:
                self.problem(("deadlines", task_id), str(err))
                refused.add(task_id)
                continue
            rules[task_id] = rule
        return rules, frozenset(refused)


def read_manifest(bundle: Bundle, known_roles: tuple[str, ...]) -> tuple[Manifest | None, list[Problem]]:
    """The manifest with every problem located; None only when the file is not a JSON object at all."""
    where = bundle.display(MANIFEST)
    data = bundle.files[MANIFEST]
    try:
        document = parse_json(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        message = "manifest.json не в кодировке UTF-8 (недопустимый байт в этой строке)"
        return None, [Problem(where, line, None, message)]
    except JsonRefused as err:
        message = f"manifest.json некорректен: {err.message}"
        return None, [Problem(where, err.line, format_path(err.path) or None, message)]
    if not isinstance(document.value, dict):
        return None, [Problem(where, document.line(()), None, "manifest.json должен быть объектом JSON")]
    reader = _ManifestReader(where, document)
    key, title, process = reader.key(), reader.text("title"), reader.text("process")
    stages = reader.stages()
    roles = reader.roles(known_roles)
    deadlines, refused = reader.deadlines()
    manifest = Manifest(where, key, title, process, stages, roles, deadlines, refused, document.value, document)
    return manifest, reader.problems


def manifest_notes(manifest: Manifest, known_keys: tuple[str, ...]) -> list[Problem]:
    """What the engine would silently ignore: a top-level key it does not read (a misspelt section), and a key
    given twice (only the last value counts). Keys starting with ``$`` or ``_`` are left for annotations."""
    problems = []
    for name in manifest.raw:
        if name not in known_keys and not name.startswith(("$", "_")):
            close = difflib.get_close_matches(name, known_keys, n=1)
            hint = f"; возможно, «{close[0]}»?" if close else f"; разделы: {', '.join(known_keys)}"
            problems.append(manifest.problem((name,), f"раздел «{name}» движку неизвестен и ничего не задаёт{hint}"))
    for duplicate in manifest.document.duplicates:
        lines = (f"строки {duplicate.first_line} и {duplicate.line}" if duplicate.first_line != duplicate.line
                 else f"строка {duplicate.line}")
        problems.append(Problem(manifest.where, duplicate.line, format_path(duplicate.path),
                                f"ключ повторяется ({lines}): действует только последнее значение"))
    return problems
