"""A few records go into an in-place query's table as SQL text (one literal a column, or VALUES
rows where a text holds what the literal cannot): the rows the Arrow table of many gives."""

from __future__ import annotations

import duckdb
import pytest

from logscope.pipeline.in_place_rows import FEW_ROWS, create_records_table, insert_records
from logscope.record import Record
from logscope.store.bulk import records_table
from logscope.store.database import connect

RECEIVED = 1_764_000_000_123_456
FIRST = 1_764_000_000_000_001


def records(odd: str) -> list[tuple[int, Record]]:
    """Records with NULLs, times before 1970 and far ahead, quotes, non-ASCII, and `odd` in a line."""
    made = [
        Record(FIRST, RECEIVED, "a.log", None, "nginx_access", "info", "GET /", {"status": 200}, "x"),
        Record(None, RECEIVED, "a.log", "web-1", "raw", None, "", None, f"it's {odd} 🙂"),
        Record(-1, RECEIVED, "b'.log", "", "json", "error", "m", {"nested": {"a": [1, None]}}, ""),
        Record(253_402_300_799_999_999, RECEIVED, "a.log", None, "generic", "warn", "é", {}, "end"),
    ]
    return [(number * 7, record) for number, record in enumerate(made)]


@pytest.mark.parametrize("odd", ["plain", "a\x1fb", "\x1e", "nul\x00byte"])
def test_few_records_as_sql_text_equal_the_arrow_table_s_rows(odd: str) -> None:
    keyed = records(odd)
    assert len(keyed) <= FEW_ROWS
    con = connect()
    for table, kind in (("from_sql", "VARCHAR"), ("from_arrow", "VARCHAR")):
        create_records_table(con, table, kind)
    insert_records(con, "from_sql", keyed)
    con.register("arrow", records_table(keyed))
    con.execute("INSERT INTO from_arrow SELECT * FROM arrow")
    rows = con.execute("SELECT * FROM from_sql ORDER BY key").fetchall()
    assert rows == con.execute("SELECT * FROM from_arrow ORDER BY key").fetchall()
    assert len(rows) == len(keyed)
    assert rows[1][-1] == f"it's {odd} 🙂"


def test_no_records_insert_nothing() -> None:
    con = duckdb.connect()
    create_records_table(con, "empty", "JSON")
    insert_records(con, "empty", [])
    assert con.execute("SELECT count(*) FROM empty").fetchone() == (0,)
