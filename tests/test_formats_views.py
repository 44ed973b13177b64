"""Typed views on a real DuckDB database: columns, casts, quoting, names that cannot be views."""

from __future__ import annotations

from datetime import UTC

from logscope.parsing.registry import builtin_registry
from logscope.record import Record
from logscope.store.database import MEMORY, open_for_writing
from logscope.store.views import FormatViews, view_sql
from logscope.store.writer import LogWriter


def record(fmt: str, fields: dict) -> Record:
    return Record(1_000_000, 2_000_000, "src", None, fmt, "info", "m", fields, "raw line")


def test_views_cast_fields_and_quote_names() -> None:
    con = open_for_writing(MEMORY)
    writer = LogWriter(con)
    types = {
        "weird": {
            "it's": "BIGINT",
            'has"quote': "BIGINT",
            "level": "VARCHAR",
            "ok": "BOOLEAN",
            "r": "DOUBLE",
        },
        "logs": {"x": "BIGINT"},
    }
    views = FormatViews(con, lambda name: types.get(name, {}))
    writer.write(
        [
            record("weird", {"it's": "12", 'has"quote': 1, "level": "x", "ok": True, "r": 0.5}),
            record("weird", {"it's": "not a number"}),
            record("logs", {"x": 1}),
        ]
    )
    views.note(["weird", "logs"])
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'weird'"
    ).fetchall()
    names = [name for name, _ in columns]
    assert names[:7] == ["id", "ts", "received_at", "source", "host", "level", "message"]
    assert ("it's", "BIGINT") in columns and ("ok", "BOOLEAN") in columns and ("r", "DOUBLE") in columns
    assert 'has"quote' not in names and names.count("level") == 1  # skipped: unsafe or taken
    assert names[-2:] == ["fields", "raw"]
    rows = con.execute('SELECT "it\'s", ok, r FROM weird ORDER BY id').fetchall()
    assert rows == [(12, True, 0.5), (None, None, None)]  # a value that does not cast is NULL
    # A format named like a table gets no view; the table is untouched.
    assert con.execute("SELECT count(*) FROM logs").fetchone() == (3,)


def test_refresh_creates_views_for_formats_already_stored() -> None:
    con = open_for_writing(MEMORY)
    LogWriter(con).write([record("nginx_access", {"status": 503, "bytes": 10})])
    registry = builtin_registry(UTC)
    assert FormatViews(con, registry.field_types).refresh() == ["nginx_access"]
    assert con.execute("SELECT status, bytes FROM nginx_access").fetchall() == [(503, 10)]


def test_view_sql_escapes_the_format_name() -> None:
    sql = view_sql("we\"ird'name", {})
    assert 'VIEW "we""ird\'name" AS' in sql
    assert "format = 'we\"ird''name'" in sql
