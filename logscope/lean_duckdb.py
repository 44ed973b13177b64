"""`import duckdb` without `importlib.metadata`, for a process that never uses it (`query SQL
FILE`, issue 17).

DuckDB's `duckdb/_version.py` imports `importlib.metadata` (with email, zipfile, csv, …: ~20 ms of
a 0.7 s query) for one call, `version("duckdb")`, the version of its own distribution. While
DuckDB is imported, `import_duckdb` gives it a stand-in whose `version` reads that from the name
of the distribution's `.dist-info` folder beside the `_duckdb` extension (`duckdb-1.5.5.dist-info`),
then takes the stand-in out: a later `import importlib.metadata` imports the real one. Where the
folder is not found once and exactly, the real module is imported, as without this.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types

_METADATA = "importlib.metadata"


def import_duckdb() -> types.ModuleType:
    """`import duckdb`, with the stand-in where it applies (see the module's docstring)."""
    if "duckdb" in sys.modules or _METADATA in sys.modules:
        return importlib.import_module("duckdb")
    version = _distribution_version("duckdb", "_duckdb")
    if version is None:
        return importlib.import_module("duckdb")
    stand_in = types.ModuleType(_METADATA)

    def version_of(name: str) -> str:
        return version if name == "duckdb" else _real_version(name)

    stand_in.version = version_of  # type: ignore[attr-defined]
    sys.modules[_METADATA] = stand_in
    try:
        return importlib.import_module("duckdb")
    finally:
        if sys.modules.get(_METADATA) is stand_in:
            del sys.modules[_METADATA]


def _distribution_version(name: str, extension: str) -> str | None:
    """The version in the one `NAME-VERSION.dist-info` folder beside `extension`, else None."""
    try:
        spec = importlib.util.find_spec(extension)
        folder = os.path.dirname(spec.origin) if spec is not None and spec.origin else None
        entries = os.listdir(folder) if folder else []
    except (ImportError, OSError, ValueError):
        return None
    prefix, suffix = f"{name}-", ".dist-info"
    found = [
        entry[len(prefix) : -len(suffix)]
        for entry in entries
        if entry.startswith(prefix) and entry.endswith(suffix)
    ]
    return found[0] if len(found) == 1 and "-" not in found[0] else None


def _real_version(name: str) -> str:
    """Another distribution's version, from the real module (imported now, in the stand-in's
    place)."""
    sys.modules.pop(_METADATA, None)
    return importlib.import_module(_METADATA).version(name)
