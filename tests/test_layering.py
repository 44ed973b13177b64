"""Imports flow one way: faces (cli, commands, tui, demo) → pipeline → stages → model.

Every module of logscope/ belongs to a layer of the table below (a module outside it fails);
a module may import its own layer, the layers below it, and, among the stages, only the other
stages the table allows (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "logscope"

# Top to bottom. A top-level package or module of logscope/ → its layer.
LAYERS = ("face", "pipeline", "stage", "model")
LAYER_OF = {
    # What a person runs: the command line, its verbs, the terminal UI, the demo, printed rows.
    "__main__": "face",
    "cli": "face",
    "commands": "face",
    "tui": "face",
    "demo": "face",
    "output": "face",
    # How records travel and what a run assembles around them (pipeline/run.py).
    "pipeline": "pipeline",
    # The stages, each a package of its own.
    "sources": "stage",
    "parsing": "stage",
    "store": "stage",
    "alerting": "stage",
    "patterns": "stage",
    "metrics": "stage",
    "lake": "stage",
    # What every layer shares: the record, errors, how counts and times are written.
    "record": "model",
    "errors": "model",
    "text": "model",
    "duckdb_config": "model",
    "lean_arrow": "model",  # how a long-running process imports pyarrow (without numpy)
    "lean_duckdb": "model",  # how `query SQL FILE` imports DuckDB (without importlib.metadata)
    "__init__": "model",
    "builtin": "model",  # the bundled format and rule files (data; its __init__ locates them)
}
# Which other stages a stage may import: what a stage needs of another, nothing more.
STAGE_IMPORTS = {
    "parsing": (),  # lines → records, on its own
    "store": (),  # records in DuckDB; knows no format and no source
    "sources": ("parsing",),  # OTLP receivers build records: levels and times as parsers do
    "alerting": ("store", "parsing"),  # rules read stored records; rule tests' times
    "patterns": ("store",),  # the miner's stage reads and writes stored records
    "metrics": ("alerting",),  # [[metric]]s live in rule files and use the rules' predicates
    "lake": ("store",),  # ships stored records to a DuckLake and reads it as the store is read
}
# The pattern miner itself (masking, mining, accuracy) knows nothing of the rest of logscope; only
# its stage (patterns/stage.py) reads and writes the store.
PURE_MINER = ("masking.py", "miner.py", "accuracy.py")
# Being pure, the miner's modules may be imported by any stage (the new_pattern rule kind masks
# messages as the miner does).
SHARED_PURE = tuple(f"logscope.patterns.{name.removesuffix('.py')}" for name in PURE_MINER)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def part_of(path: Path) -> str:
    """The top-level package or module of logscope/ a file belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def allowed(importer: str, imported: str) -> bool:
    """Whether a module of `importer` (a top-level part) may import one of `imported`."""
    if importer == imported:
        return True
    mine, theirs = LAYERS.index(LAYER_OF[importer]), LAYERS.index(LAYER_OF[imported])
    if mine != theirs:
        return mine < theirs
    if LAYER_OF[importer] == "stage":
        return imported in STAGE_IMPORTS[importer]
    return True  # faces use each other (the CLI runs verbs, `tail` the TUI); model parts too


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_the_table() -> None:
    outside = sorted({part_of(path) for path in MODULES} - set(LAYER_OF))
    assert not outside, f"logscope/{outside} belong to no layer of tests/test_layering.py's table"
    assert set(STAGE_IMPORTS) == {part for part, layer in LAYER_OF.items() if layer == "stage"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_against_the_flow(path: Path) -> None:
    importer = part_of(path)
    bad = sorted(
        module
        for module in imported_modules(path)
        if module.startswith("logscope.")
        and module not in SHARED_PURE
        and not allowed(importer, module.split(".")[1])
    )
    layer = LAYER_OF.get(importer)
    assert not bad, f"{path.relative_to(REPO)} ({layer}) imports {bad} against the table's flow"


def test_the_table_says_what_it_means() -> None:
    """The rule itself: down is allowed, up is not, across stages only as listed."""
    assert allowed("commands", "pipeline") and allowed("pipeline", "store") and allowed("store", "record")
    assert not allowed("pipeline", "commands") and not allowed("store", "pipeline")
    assert not allowed("record", "store") and not allowed("parsing", "store")
    assert allowed("patterns", "store") and not allowed("store", "patterns")


@pytest.mark.parametrize("name", PURE_MINER)
def test_the_pattern_miner_imports_nothing_of_logscope_but_itself(name: str) -> None:
    path = PACKAGE / "patterns" / name
    bad = sorted(
        module
        for module in imported_modules(path)
        if module.startswith("logscope.") and not module.startswith("logscope.patterns.")
    )
    assert not bad, f"{path.relative_to(REPO)} imports {bad}: the miner stands alone"


def test_no_module_is_over_500_lines() -> None:
    """A module over ~500 lines is a smell (docs/architecture.md): split it along a seam."""
    long = {
        str(path.relative_to(REPO)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
