"""Imports flow one way: cli/commands/tui → pipeline → stages → record model.

The stages are sources, parsing, store, alerting and patterns (the pattern miner, which runs on
stored records: its stage reads and writes the store, its miner imports nothing of logscope) and
lake (shipping stored records to a DuckLake and reading it: it builds on the store)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "logscope"
STAGES = ("sources", "parsing", "store", "alerting", "patterns", "lake")
# What each layer must never import.
FORBIDDEN = {
    "stage": ("logscope.cli", "logscope.commands", "logscope.tui", "logscope.pipeline"),
    "pipeline": ("logscope.cli", "logscope.commands", "logscope.tui"),
    "record": ("logscope.",),
}
RECORD_ALLOWED = ("logscope.errors",)
# The pattern miner itself (masking, mining, accuracy) knows nothing of the rest of logscope; only
# its stage (patterns/stage.py) reads and writes the store.
PURE_MINER = ("masking.py", "miner.py", "accuracy.py")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def layer_of(path: Path) -> str | None:
    relative = path.relative_to(PACKAGE).parts
    if relative[0] in STAGES:
        return "stage"
    if relative == ("pipeline.py",):
        return "pipeline"
    if relative == ("record.py",):
        return "record"
    return None


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if layer_of(p))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_against_the_flow(path: Path) -> None:
    layer = layer_of(path)
    assert layer is not None
    bad = sorted(
        module
        for module in imported_modules(path)
        if module.startswith(FORBIDDEN[layer])
        and not (layer == "record" and module.startswith(RECORD_ALLOWED))
    )
    assert not bad, f"{path.relative_to(REPO)} imports {bad} against the pipeline's direction"


@pytest.mark.parametrize("name", PURE_MINER)
def test_the_pattern_miner_imports_nothing_of_logscope_but_itself(name: str) -> None:
    path = PACKAGE / "patterns" / name
    bad = sorted(
        module
        for module in imported_modules(path)
        if module.startswith("logscope.") and not module.startswith("logscope.patterns.")
    )
    assert not bad, f"{path.relative_to(REPO)} imports {bad}: the miner stands alone"


def test_stages_do_not_import_the_patterns_stage() -> None:
    """Patterns come after storing: only the faces (commands, TUI) attach the stage."""
    for path in MODULES:
        if layer_of(path) == "stage" and path.relative_to(PACKAGE).parts[0] != "patterns":
            found = [m for m in imported_modules(path) if m.startswith("logscope.patterns")]
            assert not found, f"{path.relative_to(REPO)} imports {found}"
