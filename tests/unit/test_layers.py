"""The layering of the code, checked rather than trusted (docs/architecture.md, ../shared/DESIGN.md):

- ``engine`` imports nothing from ``flask``, ``rq``, ``web`` or ``workers``; ``workers`` nothing from ``web``;
- only ``engine.bpmn`` imports SpiffWorkflow;
- inside ``engine`` imports only point down the layers below (a module may import its own layer and any
  layer under it). A module in a package (``engine.process.tasks``) is in its package's layer; a new root module
  or package must be given a layer here, so the test fails until someone decides.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Top to bottom. Where a lower layer needs a higher one (the sweep firing a timer), the higher one is
#: passed in; nothing imports upward.
LAYERS: list[tuple[str, set[str]]] = [
    ("entry points", {"cli", "demo", "demo_story"}),
    ("reports and the sweep", {"reports", "deadlines"}),
    ("process", {"process"}),
    ("templates", {"templates"}),
    ("bpmn", {"bpmn"}),
    ("time, forms, org", {"timing", "forms", "org"}),
    # roles: the Role enum the models' columns are typed with, so below the models.
    ("base", {"actors", "models", "roles", "labels", "json_document", "db", "errors", "audit", "config",
              "fast_writes", "caches"}),
]


def _layer(module: str) -> int:
    """The layer of a root module ``engine.M`` or of anything in a package ``engine.P.M`` (by ``M`` or ``P``)."""
    name = module.split(".")[1]
    for index, (_, members) in enumerate(LAYERS):
        if name in members:
            return index
    raise AssertionError(f"engine.{name} has no layer in tests/unit/test_layers.py: decide where it belongs")


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            if node.module == "engine":  # from engine import audit, ...
                for alias in node.names:
                    yield node.lineno, f"engine.{alias.name}"


def _violations(package: str, rule: object) -> list[str]:
    assert callable(rule)
    found = []
    for module, path in _modules(package):
        for line, imported in _imports(path):
            why = rule(module, imported)
            if why:
                found.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {imported}: {why}")
    return found


def _root(name: str) -> str:
    return name.split(".")[0]


def test_engine_knows_nothing_of_the_web_or_the_queue() -> None:
    def rule(_module: str, imported: str) -> str:
        return "engine must not depend on it" if _root(imported) in ("flask", "rq", "web", "workers") else ""
    assert _violations("engine", rule) == []


def test_workers_know_nothing_of_the_web() -> None:
    def rule(_module: str, imported: str) -> str:
        return "workers must not depend on the web app" if _root(imported) in ("web", "flask") else ""
    assert _violations("workers", rule) == []


@pytest.mark.parametrize("package", ["engine", "web", "workers"])
def test_only_engine_bpmn_imports_spiffworkflow(package: str) -> None:
    def rule(module: str, imported: str) -> str:
        if _root(imported) == "SpiffWorkflow" and not module.startswith("engine.bpmn"):
            return "only engine.bpmn may use SpiffWorkflow"
        return ""
    assert _violations(package, rule) == []


def test_engine_imports_point_down_the_layers() -> None:
    def rule(module: str, imported: str) -> str:
        if module == "engine" or not imported.startswith("engine.") or _root(module) != "engine":
            return ""
        mine, theirs = _layer(module), _layer(imported)
        if theirs < mine:
            return f"upward, from «{LAYERS[mine][0]}» to «{LAYERS[theirs][0]}»"
        return ""
    assert _violations("engine", rule) == []


def test_every_engine_module_has_a_layer() -> None:
    for module, _ in _modules("engine"):
        if module != "engine":
            _layer(module)


def test_no_test_module_imports_another() -> None:
    """What several test modules share lives in tests/helpers.py or a conftest.py, so moving or renaming a
    test never breaks another module's collection."""
    def rule(_module: str, imported: str) -> str:
        parts = imported.split(".")
        return "import it from tests.helpers instead" if parts[0] == "tests" and parts[-1].startswith("test_") else ""
    assert _violations("tests", rule) == []


def test_engine_packages_hold_only_a_docstring() -> None:
    """``engine.P.M`` is the one name of a module: no package re-exports what its modules define."""
    for init in sorted((ROOT / "engine").glob("*/__init__.py")):
        body = ast.parse(init.read_text(encoding="utf-8")).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), init
