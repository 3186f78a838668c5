"""The UI's message catalogs: extract every translatable text, update web/translations/*/messages.po.

    python scripts/translations.py            # extract, then add new texts to both catalogs (make translations)
    python scripts/translations.py --check    # exit 1 if a text has no English or a catalog is out of date

Texts are found where the code marks them: ``_('…')`` and ``ngettext(…)`` in the Jinja templates,
``gettext("…")``, ``ngettext("…", "…", n)`` and ``N_("…")`` in web/ and engine/labels.py. The Russian text
is the message id; the English catalog translates it, the Russian one only gives plural forms.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
TRANSLATIONS = WEB / "translations"
LANGUAGES = ("en", "ru")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
_SKIP = {"node_modules", "static", "translations", "__pycache__"}


def _found() -> Iterator[tuple[str, int, str | tuple[str, ...], list[str]]]:
    mapping = [("**.py", "python"), ("templates/**.html", "jinja2")]
    for filename, line, message, comments, _ in extract_from_dir(
            str(WEB), mapping, keywords=KEYWORDS, directory_filter=lambda d: Path(d).name not in _SKIP):
        yield f"web/{filename}", line, message, comments
    labels = ROOT / "engine" / "labels.py"
    for line, message, comments, _ in extract_from_file("python", str(labels), keywords=KEYWORDS):
        yield "engine/labels.py", line, message, comments


def extract() -> Catalog:
    """Every translatable text of the UI, with where it is used."""
    template = Catalog(project="roadmap-500", charset="utf-8")
    for filename, line, message, comments in _found():
        template.add(message, None, [(filename, line)], auto_comments=comments)
    return template


def catalog_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def read(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as source:
        return read_po(source, locale=lang)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalog if m.id}


def problems() -> list[str]:
    """What is wrong with the catalogs: texts without English, catalogs that miss texts or keep dead ones."""
    template, found = extract(), []
    wanted = _ids(template)
    for lang in LANGUAGES:
        have = _ids(read(lang))
        found += [f"{lang}: not in the catalog: {text!r}" for text in sorted(wanted - have, key=str)]
        found += [f"{lang}: no longer used: {text!r}" for text in sorted(have - wanted, key=str)]
    for message in read("en"):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and not all(strings):
            found.append(f"en: no English for {message.id!r}")
    return found


def update() -> None:
    """Bring both catalogs in line with the code: new texts added (empty), texts no longer used removed."""
    template = extract()
    for lang in LANGUAGES:
        catalog = read(lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with catalog_path(lang).open("wb") as target:
            # Files without line numbers: a moved line does not rewrite the catalogs.
            write_po(target, catalog, width=120, sort_output=True, include_lineno=False)


if __name__ == "__main__":
    if "--check" in sys.argv:
        issues = problems()
        print("\n".join(issues) or "catalogs up to date")
        sys.exit(1 if issues else 0)
    update()
    print("\n".join(problems()) or "catalogs up to date")
