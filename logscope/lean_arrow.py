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
imports it for Python functions (the in-place reader's fallback parser).
"""

from __future__ import annotations

import importlib
import sys

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
