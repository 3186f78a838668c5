"""Hostile-input-safe XML loading for BPMN and DMN files.

Template files come from admins' browsers and from other modelers, so the parser must not resolve
entities, load DTDs or reach the network (XXE, billion laughs), and every failure must come back as a
located ``Problem`` instead of an exception.
"""

from __future__ import annotations

import codecs
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


_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_DECLARATION = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([^\"']*)([\"'])")


def _codec(path: str, data: bytes) -> tuple[str, str] | Problem:
    """The codec to read ``data`` with and how to name it to people: a byte order mark wins, then the
    XML declaration, then UTF-8 (what XML means when nothing is declared)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, f"{codec.removesuffix('-sig').upper()} (по метке BOM)"
    declared = _DECLARED_ENCODING.match(data)
    if declared is None:
        return "utf-8", "UTF-8 (кодировка не объявлена)"
    name = declared.group(1).decode("ascii")
    try:
        info = codecs.lookup(name)
    except LookupError:
        return Problem(path, 1, None, f"кодировка «{name}» из объявления XML неизвестна")
    # base64, rot13 …: Python codecs that are not text encodings (the flag str.encode checks; none is public)
    if not info._is_text_encoding:  # noqa: SLF001
        return Problem(path, 1, None, f"«{name}» из объявления XML — не кодировка текста")
    if info.name.startswith(("utf-16", "utf-32")):
        # The declaration itself was readable as ASCII, so the bytes are not UTF-16/32 whatever it says.
        return "utf-8", f"UTF-8 (объявлена {name}, но файл без метки BOM)"
    return info.name, name


def as_utf8(path: str, data: bytes) -> bytes | Problem:
    """``data`` re-encoded as UTF-8 with its declaration saying so, or the problem that stops it.

    Files from other modelers declare ISO-8859-1, windows-1252 or UTF-16; whatever decodes cleanly with
    its declared encoding is accepted. Everything after this point (the DOCTYPE check, lxml, line numbers)
    sees UTF-8 with the same lines, because only the declaration's encoding name changes."""
    found = _codec(path, data)
    if isinstance(found, Problem):
        return found
    codec, shown = found
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        line = data[: err.start].decode(codec, errors="replace").count("\n") + 1
        return Problem(path, line, None, f"байт 0x{data[err.start]:02X} не читается в кодировке {shown}: "
                                         "сохраните файл в UTF-8 или объявите в нём настоящую кодировку")
    except UnicodeError as err:  # a codec that fails in other ways (a broken UTF-16 stream …)
        return Problem(path, None, None, f"файл не читается в кодировке {shown}: {err}")
    declaration = _XML_DECLARATION.match(text)
    says_utf8 = declaration is None or declaration[2].lower().replace("_", "-") in ("utf-8", "utf8")
    if codec == "utf-8" and says_utf8:
        return data
    return _XML_DECLARATION.sub(r"\1UTF-8\3", text, count=1).encode("utf-8")


def parse_xml(path: str, data: bytes) -> tuple[XmlDocument | None, list[Problem]]:
    """Parse ``data`` safely; return the document or the problems that stopped us."""
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(path, None, None, f"файл больше {MAX_FILE_BYTES // 1024 // 1024} МБ")]
    decoded = as_utf8(path, data)
    if isinstance(decoded, Problem):
        return None, [decoded]
    data = decoded
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


def owner_id(element: etree._Element) -> str | None:
    """The id of ``element`` or of its nearest ancestor that has one: what an admin searches the modeler for
    (a ``dataState`` is found by its ``dataObjectReference``, a ``conditionExpression`` by its flow)."""
    current: etree._Element | None = element
    while current is not None:
        found = current.get("id") if isinstance(current.tag, str) else None
        if found:
            return str(found)
        current = current.getparent()
    return None


def drop_stray_metadata(doc: XmlDocument) -> int:
    """Remove modeler metadata written into ``bpmn:extensionElements`` without a namespace of its own.

    Visual Paradigm (``VpId``, ``Grid``, ``IntegerProperty``), ADONIS and others write their metadata
    unprefixed, so it falls into the default BPMN namespace, where the BPMN schema allows none (only
    elements of other namespaces, ``##other``). It means nothing to the engine: dropping it before the schema
    check, our rules and SpiffWorkflow keeps all three from mistaking it for BPMN. The stored file is
    untouched; line numbers of what stays do not change. Returns how many elements were dropped."""
    stray = [child for holder in doc.root.iter(f"{{{BPMN_NS}}}extensionElements") for child in holder
             if isinstance(child.tag, str) and namespace(child) in (BPMN_NS, "")]
    for element in stray:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
    return len(stray)
