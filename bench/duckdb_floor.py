"""The floor of any design that stores every line in DuckDB: DuckDB alone, nothing of logscope.

    .venv/bin/python bench/duckdb_floor.py nginx FILE DB   # raw lines, then the 5xx count
    .venv/bin/python bench/duckdb_floor.py json FILE DB    # read_ndjson into typed columns

`nginx` persists only the raw lines of an nginx file (DuckDB's CSV reader, one VARCHAR column,
all its threads; no parsing, times or levels), then answers the benchmark's question by
extracting the status in SQL at query time: the least work "ingest + first query" can do while
still keeping every line in the database. `json` persists a JSON-lines file with DuckDB's own
`read_ndjson` (columns inferred, no raw line kept): the least work a JSON import can do.
bench/run.py times both as whole processes in the same run as logscope and lnav.
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
JSON_LINES = "CREATE TABLE logs AS SELECT * FROM read_ndjson(?)"
RAW_LINES = (
    "CREATE TABLE logs AS SELECT * FROM read_csv(?, columns = {'raw': 'VARCHAR'}, delim = '\\x01',"
    " quote = '', escape = '', header = false, auto_detect = false)"
)


def main() -> None:
    kind, path, db = sys.argv[1:4]
    for stale in (Path(db), Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    with duckdb.connect(db) as con:
        con.execute(RAW_LINES if kind == "nginx" else JSON_LINES, [path])
    with duckdb.connect(db, read_only=True) as con:
        print(con.execute(STATUS_SQL if kind == "nginx" else "SELECT count(*) FROM logs").fetchall()[0][0])


if __name__ == "__main__":
    main()
