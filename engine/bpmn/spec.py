"""Our own description of a template, free of SpiffWorkflow types.

The rest of the engine (task mirroring, forms, dashboards) reads these; it never sees Spiff specs.
A ``TemplateSpec`` is stored as JSON beside each immutable template version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from engine.bpmn.manifest import EscalationStep, ManifestSections, read_sections


@dataclass(frozen=True)
class Stage:
    key: str
    title: str


@dataclass(frozen=True)
class UserTaskSpec:
    element_id: str
    name: str
    role: str
    stage: str
    form: str
    deadline: str
    process_id: str
    documentation: str = ""
    subject: str = ""  # an expression over task data naming what the task is about (e.g. which risk)
    # The task's own escalation chain (roadmap:escalation); None: the manifest's, (): none at all.
    escalation: tuple[EscalationStep, ...] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserTaskSpec:
        """Read a stored task; versions stored before ``escalation`` existed have none (the manifest's)."""
        fields = dict(data)
        steps = fields.pop("escalation", None)
        escalation = None if steps is None else tuple(EscalationStep(**step) for step in steps)
        return cls(**fields, escalation=escalation)


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    title: str
    process_id: str
    stages: tuple[Stage, ...]
    user_tasks: Mapping[str, UserTaskSpec]
    forms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    manifest: Mapping[str, Any] = field(default_factory=dict)
    # Whether any BPMN timer event exists: without one, no completion needs to look for timer rows.
    has_timers: bool = True

    @cached_property
    def sections(self) -> ManifestSections:
        """The manifest's project sections (validated at deploy, so parsing here cannot fail)."""
        return read_sections("manifest.json", self.manifest)[0]

    def stage_index(self, stage: str) -> int:
        keys = [s.key for s in self.stages]
        return keys.index(stage) if stage in keys else len(keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "process_id": self.process_id,
            "stages": [asdict(s) for s in self.stages],
            "user_tasks": {k: asdict(v) for k, v in self.user_tasks.items()},
            "forms": {k: dict(v) for k, v in self.forms.items()},
            "manifest": dict(self.manifest),
            "has_timers": self.has_timers,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TemplateSpec:
        return cls(
            key=data["key"],
            title=data["title"],
            process_id=data["process_id"],
            stages=tuple(Stage(**s) for s in data["stages"]),
            user_tasks={k: UserTaskSpec.from_dict(v) for k, v in data["user_tasks"].items()},
            forms=dict(data.get("forms", {})),
            manifest=dict(data.get("manifest", {})),
            has_timers=bool(data.get("has_timers", True)),  # versions stored before the flag: assume timers
        )


@dataclass(frozen=True)
class ReadyTask:
    """A user task the workflow is waiting on; ``task_id`` is Spiff's task UUID as a string."""

    task_id: str
    element_id: str
    name: str
    subject: str = ""
