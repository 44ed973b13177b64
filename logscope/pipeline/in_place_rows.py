"""Records our parser made, into a DuckDB table of the in-place query (pipeline/in_place.py).

A few rows (a file's first lines, a small file) go in as SQL text: pyarrow's import and DuckDB's
first Arrow scan cost ~0.15 CPU-s, a hundred rows as VALUES ~15 ms, as one literal a column
(`split_columns`) ~4 ms. More go in as an Arrow table.
"""

from __future__ import annotations

import duckdb
import orjson

from logscope.parsing.vectorized.re2 import split_columns, sql_text
from logscope.record import Record
from logscope.store.sql_text import from_microseconds

# Up to this many rows and characters of lines as SQL text (~0.05 ms a row; Arrow's fixed cost
# is ~0.15 s).
FEW_ROWS = 1000
FEW_CHARS = 4 << 20
COLUMNS = "key, ts, received_at, source, host, format, level, message, fields, raw"


def create_records_table(con: duckdb.DuckDBPyConnection, table: str, fields_type: str) -> None:
    """An empty table of keyed records (`fields` as `fields_type`: VARCHAR or JSON)."""
    con.execute(
        f"CREATE TABLE {table} (key BIGINT, ts TIMESTAMPTZ, received_at TIMESTAMPTZ, source VARCHAR,"
        f" host VARCHAR, format VARCHAR, level VARCHAR, message VARCHAR, fields {fields_type}, raw VARCHAR)"
    )


def insert_records(con: duckdb.DuckDBPyConnection, table: str, keyed: list[tuple[int, Record]]) -> None:
    """Append records with their keys to `table` (a record without a time has the time it was
    received, as the store writes it)."""
    if not keyed:
        return
    if len(keyed) > FEW_ROWS or sum(len(record.raw) for _, record in keyed) > FEW_CHARS:
        from logscope.store.bulk import records_table

        con.register("_inplace_arrow", records_table(keyed))
        con.execute(f"INSERT INTO {table} SELECT * FROM _inplace_arrow")
        con.unregister("_inplace_arrow")
        return
    split = split_columns(_texts(keyed))
    if split is not None:
        times = [from_microseconds(f"CAST({name} AS BIGINT)") for name in ("ts", "received_at")]
        picked = ", ".join(["CAST(key AS BIGINT)", *times, *COLUMNS.split(", ")[3:]])
        con.execute(f"INSERT INTO {table} ({COLUMNS}) SELECT {picked} FROM ({split}) rows")
        return
    rows = ", ".join(_row(key, record) for key, record in keyed)
    con.execute(f"INSERT INTO {table} ({COLUMNS}) VALUES {rows}")


def _texts(keyed: list[tuple[int, Record]]) -> dict[str, list[str | None]]:
    """The records as texts, a list per column of COLUMNS (times as µs)."""
    columns: dict[str, list[str | None]] = {name: [] for name in COLUMNS.split(", ")}
    lists = list(columns.values())
    for key, record in keyed:
        for column, value in zip(lists, _values(key, record), strict=True):
            column.append(value)
    return columns


def _row(key: int, record: Record) -> str:
    key_text, ts, received_at, *texts = _values(key, record)
    values = [key_text, from_microseconds(ts), from_microseconds(received_at), *map(sql_text, texts)]
    return f"({', '.join(values)})"


def _values(key: int, record: Record) -> tuple:
    """A record's values in the order of COLUMNS, as texts (times as µs; None for NULL)."""
    ts = record.ts if record.ts is not None else record.received_at
    fields = orjson.dumps(record.fields, default=str).decode() if record.fields else None
    return (
        str(int(key)),
        str(int(ts)),
        str(int(record.received_at)),
        record.source,
        record.host,
        record.format,
        record.level,
        record.message,
        fields,
        record.raw,
    )
