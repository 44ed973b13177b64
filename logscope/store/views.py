"""Typed per-format views: `SELECT status, count(*) FROM nginx_access GROUP BY 1`.

For each format present in `logs`, a view named after it exposes the common columns and the
format's fields, pulled out of the `fields` JSON and cast to the types its definition gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import duckdb

from logscope.store.sql_text import string_literal

# The `logs` columns every view starts with (`format` is implied by the view).
COMMON_COLUMNS = ("id", "ts", "received_at", "source", "host", "level", "message")
TAIL_COLUMNS = ("fields", "raw")
_TAKEN = frozenset((*COMMON_COLUMNS, *TAIL_COLUMNS, "format"))
_ALLOWED_TYPES = frozenset(("VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "TIMESTAMPTZ", "JSON"))

FieldTypes = Callable[[str], dict[str, str]]


def quote_identifier(name: str) -> str:
    """`name` as a DuckDB identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def _field_column(name: str, column_type: str) -> str | None:
    """The select expression for one field, or None when it cannot be a column of the view."""
    if name in _TAKEN or not name or any(char in name for char in '"\\\n'):
        return None
    path = string_literal(f'$."{name}"')
    if column_type == "JSON":
        expression = f"json_extract(fields, {path})"
    elif column_type == "VARCHAR":
        expression = f"json_extract_string(fields, {path})"
    else:
        expression = f"TRY_CAST(json_extract_string(fields, {path}) AS {column_type})"
    return f"{expression} AS {quote_identifier(name)}"


def view_sql(name: str, field_types: dict[str, str]) -> str:
    """The CREATE OR REPLACE VIEW statement for format `name`."""
    columns = [*COMMON_COLUMNS]
    for field_name, column_type in field_types.items():
        upper = column_type.upper()
        if upper not in _ALLOWED_TYPES:
            upper = "VARCHAR"
        column = _field_column(field_name, upper)
        if column is not None:
            columns.append(column)
    columns.extend(TAIL_COLUMNS)
    return (
        f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS SELECT {', '.join(columns)} "
        f"FROM logs WHERE format = {string_literal(name)}"
    )


class FormatViews:
    """Keeps one view per format seen in `logs`; `types_for(name)` gives a format's field types."""

    def __init__(self, con: duckdb.DuckDBPyConnection, types_for: FieldTypes) -> None:
        self.con = con
        self.types_for = types_for
        self.known: set[str] = set()
        # Views that could not be made (a view is a convenience: the records are stored anyway).
        self.errors: list[str] = []

    def refresh(self) -> list[str]:
        """(Re)create the views of every format already in the database; returns their names."""
        rows = self.con.execute("SELECT DISTINCT format FROM logs").fetchall()
        names = sorted(row[0] for row in rows)
        for name in names:
            self._create(name)
        return names

    def note(self, formats: Iterable[str]) -> None:
        """Create the views of formats not seen before (call after their records are committed)."""
        for name in set(formats) - self.known:
            self._create(name)

    def _create(self, name: str) -> None:
        self.known.add(name)
        if self._is_table(name):
            return  # a format named like one of our tables (logs, meta, ...) gets no view
        try:
            self.con.execute(view_sql(name, self.types_for(name)))
        except duckdb.Error as exc:
            self.errors.append(f"view {name}: {' '.join(str(exc).split())}")

    def _is_table(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'", [name]
        ).fetchone()
        return bool(row and row[0])
