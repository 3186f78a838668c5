"""Template versions: validate and deploy bundles, and hand out compiled versions to run.

A deployed version is immutable (files stored with their hashes), so a compiled version can be
cached in the process for as long as it lives: instances load it by id without parsing XML again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, caches
from engine.actors import OPERATOR, Who
from engine.bpmn.bundle import Bundle, from_zip, load_bundle
from engine.bpmn.compiler import CompiledTemplate, compile_bundle
from engine.caches import Bounded
from engine.db import Database
from engine.errors import TemplateInvalid, TemplateNotFound, TemplateRetired
from engine.models import TemplateFile, TemplateStatus, TemplateVersion
from engine.org.core import operator_or_admin


@dataclass(frozen=True)
class Deployed:
    template_version_id: int
    key: str
    version: int
    created: bool  # False when the same content was already deployed


def read_bundle(path: str | Path) -> Bundle:
    bundle, problems = load_bundle(path)
    if bundle is None:
        raise TemplateInvalid(problems)
    return bundle


def deploy_template(db: Database, bundle: Bundle, *, actor: Who) -> Deployed:
    """Validate and store a bundle as the next version of its template (idempotent per content)."""
    compiled = compile_bundle(bundle)
    with db.transaction() as session:
        return store_version(session, db.now(), bundle, compiled, _deployer(session, actor))


def deploy_zip(db: Database, data: bytes, *, actor: Who) -> Deployed:
    """Deploy an uploaded zip. The uploader is authorized before the archive is opened: parsing an
    attacker's zip (decompression, XML) is work and attack surface that only admins may ask for."""
    with db.reading() as session:
        _deployer(session, actor)
    bundle, problems = from_zip("bundle.zip", data)
    if bundle is None:
        raise TemplateInvalid(problems)
    return deploy_template(db, bundle, actor=actor)


def store_version(session: Session, now: datetime, bundle: Bundle, compiled: CompiledTemplate,
                  actor_id: int | None) -> Deployed:
    """The deploy itself, inside the caller's transaction (the workspace deploys a draft and removes it
    in one transaction)."""
    key = compiled.spec.key
    content_hash = bundle.content_hash
    existing = session.scalar(select(TemplateVersion).filter_by(key=key, content_hash=content_hash))
    if existing is not None:
        return Deployed(existing.id, key, existing.version, created=False)
    latest = session.scalar(select(func.max(TemplateVersion.version)).where(TemplateVersion.key == key))
    row = TemplateVersion(key=key, version=(latest or 0) + 1, title=compiled.spec.title,
                          status=TemplateStatus.DEPLOYED, content_hash=content_hash,
                          spec=compiled.spec.to_dict(), deployed_at=now, deployed_by_id=actor_id)
    row.files = [TemplateFile(path=path, content=content, sha256=hashlib.sha256(content).hexdigest())
                 for path, content in sorted(bundle.files.items())]
    session.add(row)
    session.flush()
    audit.record(session, now, "template.deployed", actor_id=actor_id, template_version_id=row.id,
                 key=key, version=row.version, content_hash=content_hash)
    _COMPILED.put(content_hash, compiled)
    return Deployed(row.id, key, row.version, created=True)


def _deployer(session: Session, actor: Who) -> int | None:
    return operator_or_admin(session, actor, "развёртывать шаблоны может только администратор")


def deploy_bundled_templates(db: Database, folder: Path) -> list[Deployed]:
    """Deploy every bundle (a subfolder with manifest.json) under ``folder``; unchanged ones are kept."""
    bundles = sorted(p.parent for p in folder.glob("*/manifest.json")) if folder.is_dir() else []
    return [deploy_template(db, read_bundle(path), actor=OPERATOR) for path in bundles]


def find_version(session: Session, key: str, version: int | None = None, *,
                 include_retired: bool = False) -> TemplateVersion:
    """The version to start (the newest deployed one unless named); a retired version is refused unless
    ``include_retired`` (reading, comparing, exporting; then "newest" means the newest of all)."""
    query = select(TemplateVersion).where(TemplateVersion.key == key)
    if version is not None:
        query = query.where(TemplateVersion.version == version)
    elif not include_retired:
        query = query.where(TemplateVersion.status == TemplateStatus.DEPLOYED)
    row = session.scalar(query.order_by(TemplateVersion.version.desc()).limit(1))
    if row is None:
        suffix = f" версии {version}" if version is not None else " (версии в работе)"
        raise TemplateNotFound(f"шаблон «{key}»{suffix} не найден")
    if row.status == TemplateStatus.RETIRED and not include_retired:
        raise TemplateRetired(f"версия {row.version} шаблона «{key}» выведена из использования: "
                              "новые процессы на ней не запускаются")
    return row


#: Compiled bundles by content hash (content never changes, so entries never go stale); 64 versions is
#: far more than run at once, and each is a parsed BPMN + DMN + forms of a few MB at most.
_COMPILED: Bounded[str, CompiledTemplate] = Bounded(64)
caches.register("compiled_templates", _COMPILED)


def compiled_version(session: Session, version_id: int) -> CompiledTemplate:
    row = session.get(TemplateVersion, version_id)
    if row is None:
        raise TemplateNotFound(f"версия шаблона {version_id} не найдена")
    compiled = _COMPILED.get(row.content_hash)
    if compiled is None:
        bundle = Bundle(f"{row.key}@{row.version}", {f.path: f.content for f in row.files})
        # It passed the checks of the day it was deployed; its instances must not stop because a check
        # that only guides authors (sizes, names in conditions) has grown stricter since.
        compiled = compile_bundle(bundle, stored=True)
        _COMPILED.put(row.content_hash, compiled)
    return compiled


#: Stage titles by the content hash of the version they come from: a version's content never changes.
_STAGE_TITLES: Bounded[str, dict[str, str]] = Bounded(64)  # a handful of templates in practice
caches.register("stage_titles", _STAGE_TITLES)


def stage_titles(db: Database, key: str) -> dict[str, str]:
    """Stage key → title of a template's newest version (empty if it is not deployed)."""
    with db.reading() as session:
        rows = _newest_versions(session, key)
        return dict(_titles(session, rows[0])) if rows else {}


def all_stage_titles(db: Database, *, preferred: str) -> dict[str, str]:
    """Stage key → title over the newest version of every deployed template (an inbox may hold tasks of
    several); where two templates use one key, ``preferred``'s title wins.

    Every page that names stages asks this: one query for the newest versions' ids and hashes, and a
    version's spec only the first time this process meets that content."""
    with db.reading() as session:
        # In key order, the preferred template last: its titles win.
        rows = sorted(_newest_versions(session), key=lambda row: (row.key == preferred, row.key))
        merged: dict[str, str] = {}
        for row in rows:
            merged.update(_titles(session, row))
        return merged


class _Newest(NamedTuple):
    key: str
    id: int
    content_hash: str


def _newest_versions(session: Session, key: str | None = None) -> list[_Newest]:
    newest = select(TemplateVersion.key, func.max(TemplateVersion.version).label("version")).group_by(
        TemplateVersion.key)
    if key is not None:
        newest = newest.where(TemplateVersion.key == key)
    latest = newest.subquery()
    rows = session.execute(select(TemplateVersion.key, TemplateVersion.id, TemplateVersion.content_hash).join(
        latest, (TemplateVersion.key == latest.c.key) & (TemplateVersion.version == latest.c.version)))
    return [_Newest(*row) for row in rows]


def _titles(session: Session, row: _Newest) -> dict[str, str]:
    titles = _STAGE_TITLES.get(row.content_hash)
    if titles is None:
        spec = session.scalar(select(TemplateVersion.spec).where(TemplateVersion.id == row.id)) or {}
        titles = {stage["key"]: stage["title"] for stage in spec.get("stages", [])}
        _STAGE_TITLES.put(row.content_hash, titles)
    return titles


def template_keys(db: Database) -> list[str]:
    """The keys of every deployed template, in order."""
    with db.reading() as session:
        return list(session.scalars(select(TemplateVersion.key).distinct().order_by(TemplateVersion.key)))


@dataclass(frozen=True)
class VersionView:
    key: str
    version: int
    title: str
    status: str
    content_hash: str
    deployed_at: datetime


def list_versions(db: Database, key: str | None = None) -> list[VersionView]:
    with db.reading() as session:
        query = select(TemplateVersion).order_by(TemplateVersion.key, TemplateVersion.version)
        if key:
            query = query.where(TemplateVersion.key == key)
        return [VersionView(v.key, v.version, v.title, v.status.value, v.content_hash, v.deployed_at)
                for v in session.scalars(query)]
