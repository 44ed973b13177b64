"""The floor of any design that stores every line in DuckDB: DuckDB alone, nothing of logscope.

    .venv/bin/python bench/duckdb_floor.py FILE DB     # prints seconds and the count

Persists only the raw lines of an nginx file (DuckDB's CSV reader, one VARCHAR column, all its
threads, no parsing, no times, no levels), then answers the benchmark's question by extracting
the status in SQL at query time: the least work "ingest + first query" can do while still
keeping every line in the database. bench/run.py times it, as a whole process, next to lnav.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

# The status of an NCSA combined line, extracted at query time (what a lazy typed view would do).
STATUS_SQL = (
    "SELECT count(*) FROM logs WHERE TRY_CAST(regexp_extract(raw, "
    """'^\\S+ \\S+ \\S+ \\[[^\\]]+\\] "[^"]*" (\\d{3}) ', 1) AS INTEGER) >= 500"""
)


def persist_raw(path: str, db: str) -> None:
    with duckdb.connect(db) as con:
        con.execute(
            "CREATE TABLE logs AS SELECT * FROM read_csv(?, columns = {'raw': 'VARCHAR'}, delim = '\\x01',"
            " quote = '', escape = '', header = false, auto_detect = false)",
            [path],
        )


def main() -> None:
    path, db = sys.argv[1], sys.argv[2]
    for stale in (Path(db), Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    persist_raw(path, db)
    with duckdb.connect(db, read_only=True) as con:
        print(con.execute(STATUS_SQL).fetchall()[0][0])


if __name__ == "__main__":
    main()
