"""clean_filename: what is left of a document name after cleaning (no I/O)."""

from __future__ import annotations

import pytest

from engine.process.attachments import clean_filename


@pytest.mark.parametrize(("name", "cleaned"), [
    ("отчёт.pdf", "отчёт.pdf"),
    ("a\tb\x7fc\x85d.pdf", "abcd.pdf"),
    ("  spaced   name .pdf. ", "spaced name .pdf"),
    ("", "документ"),
    (".pdf", "документ.pdf"),
    ("\u2029\u200f", "документ"),
    ("x" * 300 + ".docx", "x" * 250 + ".docx"),
])
def test_clean_filename(name: str, cleaned: str) -> None:
    assert clean_filename(name) == cleaned
