"""pyarrow for a following `tail`, without the two things it never uses there: numpy and
pyarrow.dataset (issue 15: ~20 MB of the tail's RSS; docs/benchmarks.md, "Following next to
lnav", sixth round).

`import pyarrow` and `import pyarrow.compute` import numpy whenever it is installed (pyarrow.lib
and pyarrow._compute look for it once, at their import; ~11 MB), and DuckDB imports
pyarrow.dataset (with the parquet, s3, substrait and acero modules, and numpy through them) the
first time it is handed any Arrow object, only to ask whether the object is a Dataset or a
Scanner. logscope hands DuckDB tables and record batch readers, never datasets, and never asks
pyarrow for numpy arrays. After `import_lean()`, pyarrow runs without numpy (its numpy
conversions, unused here, raise ImportError) and `import pyarrow.dataset` fails, which DuckDB
takes as "not a dataset" (tests/test_lean_arrow.py). numpy itself stays importable: DuckDB
imports it for Python functions (the in-place reader's fallback parser), unless the process keeps
it out (`keep_numpy_out`: `query SQL FILE`, whose run never needs it).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

# What the process never imports after `import_lean()` (an import of it raises ImportError).
HIDDEN = "pyarrow.dataset"


def import_lean() -> bool:
    """Import pyarrow and pyarrow.compute without numpy, and keep pyarrow.dataset out of the
    process from now on; False if pyarrow was imported before (then with numpy, if installed)."""
    if HIDDEN not in sys.modules:
        sys.modules[HIDDEN] = None  # type: ignore[assignment]  (Python's "not importable")
    if "pyarrow" in sys.modules:
        return False
    hide_numpy = "numpy" not in sys.modules
    if hide_numpy:
        sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        importlib.import_module("pyarrow")
        importlib.import_module("pyarrow.compute")
    finally:
        if hide_numpy and "numpy" in sys.modules and sys.modules["numpy"] is None:
            del sys.modules["numpy"]
    return True


def keep_numpy_out() -> bool:
    """From now on numpy and pyarrow.dataset cannot be imported in this process (ImportError; pyarrow
    then imports as `import_lean` makes it), unless numpy is loaded already (then False): for a
    process that never uses them, whose DuckDB functions are then registered with
    `numpy_stand_in` (issue 17: numpy's import was ~0.06 s of a 0.8 s `query SQL FILE`)."""
    if sys.modules.get("numpy", False) is not False:
        return sys.modules["numpy"] is None
    sys.modules["numpy"] = None  # type: ignore[assignment]
    sys.modules.setdefault(HIDDEN, None)  # type: ignore[arg-type]
    return True


def numpy_kept_out() -> bool:
    """Whether `keep_numpy_out` holds numpy out of this process."""
    return "numpy" in sys.modules and sys.modules["numpy"] is None


@contextmanager
def numpy_stand_in() -> Iterator[None]:
    """While DuckDB registers a Python function in a process that keeps numpy out.

    DuckDB 1.5's `create_function` imports numpy for any function, only to have it imported from
    the main thread (its note: an import from one of its threads can crash), and reads
    `numpy.__version__` and `numpy._core.multiarray`; without numpy it refuses. An Arrow function
    uses pyarrow, not numpy, and pyarrow here imports without it (`keep_numpy_out`). So DuckDB is
    given a stand-in for that call: a module whose every attribute is a class of its own, of which
    nothing is an instance (DuckDB keeps it, and asks it only whether a value is a numpy one)."""
    sys.modules["numpy"] = _StandIn("numpy")
    try:
        yield
    finally:
        sys.modules["numpy"] = None  # type: ignore[assignment]


class _StandIn(types.ModuleType):
    """numpy as DuckDB's import cache reads it, in a process without numpy (`numpy_stand_in`)."""

    __version__ = "2.0.0"  # numpy 2 keeps `multiarray` in `_core`

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        part: object = _StandIn(f"{self.__name__}.{name}") if name.startswith("_") else type(name, (), {})
        setattr(self, name, part)
        return part
