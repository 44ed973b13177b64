"""DuckDB's allocator gives freed pages back when told (store/allocator.py)."""

from __future__ import annotations

import duckdb
import pytest

from logscope.store import allocator

pytestmark = pytest.mark.skipif(not allocator.available(), reason="DuckDB without its jemalloc")


def test_purge_returns_what_duckdb_freed() -> None:
    con = duckdb.connect()
    con.execute("SET threads = 1")  # no worker thread flushes on its own
    before = allocator.resident_bytes()
    assert before is not None
    con.execute("CREATE TABLE big AS SELECT range AS i, repeat('x', 100) AS s FROM range(2000000)")
    con.execute("DROP TABLE big")
    kept = allocator.resident_bytes()
    assert kept is not None and kept > before + (100 << 20)  # freed, still resident
    assert allocator.purge()
    after = allocator.resident_bytes()
    assert after is not None and after < kept - (100 << 20)
    con.close()
