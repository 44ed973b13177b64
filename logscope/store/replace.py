"""Rows replaced by key as a DELETE and an INSERT, never an UPDATE or `INSERT OR REPLACE`.

DuckDB (1.5) refuses the automatic checkpoint of a commit while another connection's open
transaction has updated rows (an UPDATE, or an `INSERT OR REPLACE` that found its key), and it
refuses a committing transaction's own checkpoint when that transaction has updated rows and any
other transaction, even a read, is open. A DELETE and a plain INSERT hold off neither. Upserted,
the pattern miner's rows, the version markers' and the import's own checkpoint rows let a bulk
import's write-ahead log grow to 130 MB, then be checkpointed by whichever commit came next,
without the import's memory cap (docs/benchmarks.md, "Bulk import fast path", eighth round).

Both statements run in the caller's transaction: call these inside one (`con.begin()`), so that
no reader ever sees the key missing."""

from __future__ import annotations

import duckdb


def replace_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Set `meta`'s `key` to `value`."""
    con.execute("DELETE FROM meta WHERE key = ?", [key])
    con.execute("INSERT INTO meta VALUES (?, ?)", [key, value])


def replace_rows(
    con: duckdb.DuckDBPyConnection, table: str, source: str, key: str = "id", columns: str = "*"
) -> None:
    """Put `columns` of `source`'s rows (a table or registered Arrow table; `columns` are
    `table`'s, in order) in `table`, in place of its rows with the same `key`."""
    con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {source})")
    con.execute(f"INSERT INTO {table} SELECT {columns} FROM {source}")
