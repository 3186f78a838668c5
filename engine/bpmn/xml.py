"""Hostile-input-safe XML loading for BPMN and DMN files.

Template files come from admins' browsers and from other modelers, so the parser must not resolve
entities, load DTDs or reach the network (XXE, billion laughs), and every failure must come back as a
located ``Problem`` instead of an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from engine.bpmn.bundle import MAX_FILE_BYTES  # the one limit for every file of a template
from engine.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ROADMAP_NS = "https://roadmap-500.ru/schema/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
)
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


@dataclass(frozen=True)
class XmlDocument:
    path: str
    root: etree._Element


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers keep state (error logs) and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _encoding_problem(path: str, data: bytes) -> Problem | None:
    declared = _DECLARED_ENCODING.match(data)
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        name = declared.group(1).decode("ascii")
        return Problem(path, 1, None, f"файл объявлен в кодировке {name}; поддерживается только UTF-8")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = _line_of_offset(data, err.start)
        return Problem(path, line, None, "файл не в кодировке UTF-8 (недопустимый байт в этой строке)")
    return None


def parse_xml(path: str, data: bytes) -> tuple[XmlDocument | None, list[Problem]]:
    """Parse ``data`` safely; return the document or the problems that stopped us."""
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(path, None, None, f"файл больше {MAX_FILE_BYTES // 1024 // 1024} МБ")]
    encoding_problem = _encoding_problem(path, data)
    if encoding_problem:
        return None, [encoding_problem]
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        # Nothing in BPMN or DMN needs a DTD; refusing it outright closes XXE and entity bombs.
        line = _line_of_offset(data, max(data.find(b"<!DOCTYPE"), data.find(b"<!ENTITY")))
        return None, [Problem(path, line, None, "объявления DOCTYPE и ENTITY запрещены")]
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        error_line: int | None = err.lineno or None
        return None, [Problem(path, error_line, None, f"XML некорректен: {err.msg}")]
    except (ValueError, MemoryError, RecursionError) as err:
        return None, [Problem(path, None, None, f"XML не удалось разобрать: {err}")]
    if root is None:
        return None, [Problem(path, None, None, "файл пуст")]
    return XmlDocument(path, root), []


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def namespace(element: etree._Element) -> str:
    return etree.QName(element).namespace or "" if isinstance(element.tag, str) else ""


def line_of(element: etree._Element) -> int | None:
    line = element.sourceline
    return int(line) if line else None
