"""`import duckdb` without importlib.metadata (logscope/lean_duckdb.py): the same version, the
real module for whoever imports it afterwards (`query SQL FILE` as a program imports none:
tests/test_query_files_imports.py)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from logscope.lean_duckdb import _distribution_version

PROGRAM = """
import sys

from logscope.lean_duckdb import import_duckdb

duckdb = import_duckdb()
during = "importlib.metadata" in sys.modules
import importlib.metadata

real = hasattr(importlib.metadata, "distributions")
print(duckdb.__version__, during, importlib.metadata.version("duckdb"), real)
"""


def test_duckdb_s_version_without_importlib_metadata_and_the_real_module_after() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    version = importlib.metadata.version("duckdb")
    assert done.stdout.split() == [version, "False", version, "True"]


def test_the_version_is_read_from_the_one_dist_info_folder() -> None:
    assert _distribution_version("duckdb", "_duckdb") == importlib.metadata.version("duckdb")
    assert _distribution_version("no-such-distribution", "_duckdb") is None
    assert _distribution_version("duckdb", "no_such_extension") is None
