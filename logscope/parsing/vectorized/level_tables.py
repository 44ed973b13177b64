"""A plan's level table (level text -> level, `exact`, ...) as an Arrow table (the bulk import)
or made in DuckDB from SQL text (a query over files in place, which need not load pyarrow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from logscope.parsing.vectorized.re2 import split_columns, sql_name, sql_text

if TYPE_CHECKING:
    import pyarrow as pa

LevelColumns = dict[str, list]  # column -> values: `exact` booleans, the others texts (or None)


def arrow_table(columns: LevelColumns) -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            name: pa.array(values, pa.bool_() if name == "exact" else pa.string())
            for name, values in columns.items()
        }
    )


def create_table(con: duckdb.DuckDBPyConnection, table: str, columns: LevelColumns) -> None:
    """`CREATE TABLE table` holding `columns` (the rows as SQL text: one literal a column where
    the texts allow, else VALUES)."""
    names = list(columns)
    texts = {sql_name(name): [_text(value) for value in columns[name]] for name in names}
    split = split_columns(texts)
    if split is not None:
        exact = sql_name("exact")
        picked = ", ".join(f"{name} = 'true' AS {name}" if name == exact else name for name in texts)
        con.execute(f"CREATE TABLE {table} AS SELECT {picked} FROM ({split}) columns")
        return
    kinds = ", ".join(f"{sql_name(name)} {'BOOLEAN' if name == 'exact' else 'VARCHAR'}" for name in names)
    con.execute(f"CREATE TABLE {table} ({kinds})")
    rows = [
        "(" + ", ".join(_literal(value) for value in row) + ")"
        for row in zip(*(columns[name] for name in names), strict=True)
    ]
    if rows:
        con.execute(f"INSERT INTO {table} VALUES {', '.join(rows)}")


def _text(value: str | bool | None) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _literal(value: str | bool | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return sql_text(value)
