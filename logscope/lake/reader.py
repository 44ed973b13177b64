"""Reading the lake as one database: `logs` (every agent's records, at a snapshot if asked) and
the same typed per-format views as a local database, with users' SQL sandboxed.

The lake is attached read-only, so DuckDB refuses writes to it and runs the catalog's own SQL in
read-only PostgreSQL transactions; files outside the data path cannot be read, no extension can
be loaded, settings are locked; and a user's statement must be a query that calls none of the
functions that reach the catalog or maintain the lake (`check_user_sql`)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator

import duckdb

from logscope.errors import LogscopeError
from logscope.lake.config import LakeConfig
from logscope.lake.connect import LAKE, one_line, open_lake
from logscope.lake.schema import has_tables
from logscope.store.views import FieldTypes, view_sql

# Statement types a user may run on the lake (DuckDB's StatementType names).
ALLOWED_STATEMENTS = ("SELECT", "EXPLAIN")
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(ANALYZE\s+)?", re.IGNORECASE)
# Lake functions that only read; every other ducklake_* and every postgres_* function is refused.
READING_FUNCTIONS = frozenset(
    (
        "ducklake_snapshots",
        "ducklake_table_info",
        "ducklake_list_files",
        "ducklake_table_changes",
        "ducklake_table_insertions",
        "ducklake_table_deletions",
        "ducklake_current_snapshot",
        "ducklake_last_committed_snapshot",
        "ducklake_options",
        "ducklake_settings",
    )
)


def open_lake_for_reading(
    config: LakeConfig, field_types: FieldTypes | None = None, at: str | None = None
) -> duckdb.DuckDBPyConnection:
    """The lake as `logs` and typed views (at snapshot or time `at`), locked for users' SQL."""
    with opened_for_reading(config) as con:
        if not has_tables(con):
            raise LogscopeError(f"lake {config.name}: no logscope tables yet (run `logscope lake init`)")
        con.execute(f"CREATE VIEW logs AS SELECT * FROM {LAKE}.logs{at_clause(at)}")
        if field_types is not None:
            _create_format_views(con, field_types)
        lock_down(con, config)
    return con


@contextlib.contextmanager
def opened_for_reading(config: LakeConfig) -> Iterator[duckdb.DuckDBPyConnection]:
    """The lake opened read-only for the block to prepare; closed if the block fails (the
    catalog's PostgreSQL connection with it), a DuckDB error raised as one line."""
    con = open_lake(config, read_only=True)
    try:
        yield con
    except duckdb.Error as exc:
        con.close()
        raise LogscopeError(f"lake {config.name}: {one_line(exc)}") from exc
    except BaseException:
        con.close()
        raise


def at_clause(at: str | None) -> str:
    """DuckLake's time travel: a snapshot number or a timestamp."""
    if not at:
        return ""
    if at.isdigit():
        return f" AT (VERSION => {int(at)})"
    return f" AT (TIMESTAMP => TIMESTAMPTZ '{at.replace(chr(39), '')}')"


def _create_format_views(con: duckdb.DuckDBPyConnection, field_types: FieldTypes) -> None:
    for (name,) in con.execute("SELECT DISTINCT format FROM logs ORDER BY 1").fetchall():
        if name in ("logs",):
            continue
        try:
            con.execute(view_sql(name, field_types(name)))
        except duckdb.Error:
            continue  # a view is a convenience, as in the local database


def lock_down(con: duckdb.DuckDBPyConnection, config: LakeConfig) -> None:
    """No file access beyond the lake's data, no extension loading, settings locked."""
    data_path = config.data_path if config.data_path.endswith("/") else config.data_path + "/"
    con.execute("SET allowed_directories = [?]", [data_path])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def check_user_sql(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse what a user's statement must not do on the lake (see the module's docstring)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise LogscopeError(one_line(exc)) from exc
    for statement in statements:
        kind = statement.type.name
        if kind not in ALLOWED_STATEMENTS:
            raise LogscopeError(f"query --lake: only queries may run on the lake, not {kind}")
        # EXPLAIN ANALYZE runs its statement: the statement explained is checked as a query.
        _check_tree(con, _EXPLAIN.sub("", statement.query, count=1))


def _check_tree(con: duckdb.DuckDBPyConnection, query: str) -> None:
    row = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [query]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise LogscopeError(f"query --lake: {tree.get('error_message', 'cannot read the statement')}")
    for key, value in _walk(tree):
        if key == "function_name" and isinstance(value, str):
            name = value.lower()
            maintains = name.startswith("ducklake_") and name not in READING_FUNCTIONS
            if name.startswith("postgres_") or maintains:
                raise LogscopeError(f"query --lake: {value}() is not allowed on the lake")
        names_catalog = key in ("catalog_name", "catalog", "schema_name", "schema")
        if names_catalog and isinstance(value, str) and value.lower().startswith("__ducklake_metadata"):
            raise LogscopeError("query --lake: the lake's catalog database is not queryable")


def _walk(node: object) -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def copy_to_local(
    config: LakeConfig, at: str | None = None, since: object = None, until: object = None
) -> duckdb.DuckDBPyConnection:
    """The lake's records (in [since, until) of event time) copied into a local in-memory
    database with logscope's tables, ids renumbered across agents in event-time order: for the
    verbs that work on a local database (`patterns --lake`). Not for users' SQL."""
    from logscope.store.schema import ALL_DDL

    with opened_for_reading(config) as con:
        for ddl in ALL_DDL:
            con.execute(ddl)
        columns = "ts, received_at, source, host, format, level, message, fields, raw"
        con.execute(
            f"INSERT INTO logs SELECT row_number() OVER (ORDER BY ts, agent, id), {columns}"
            f" FROM {LAKE}.logs{at_clause(at)}"
            " WHERE ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)",
            {"since": since, "until": until},
        )
    return con


class LakeRecords:
    """A source of the lake's records in event-time order, as stored (`rules backtest --lake`)."""

    CHUNK = 10_000

    def __init__(self, config: LakeConfig, at: str | None = None) -> None:
        self.config = config
        self.at = at
        self.name = f"lake:{config.name}"

    def size_hint(self) -> int | None:
        return None

    def run(self, ctx) -> None:
        import orjson

        from logscope.record import LineBatch, Record

        try:
            con = open_lake(self.config, read_only=True)
        except LogscopeError as exc:
            ctx.report_error(str(exc), self.name)
            return
        try:
            result = con.execute(
                "SELECT epoch_us(ts), epoch_us(received_at), source, host, format, level, message,"
                f" fields::VARCHAR, raw FROM {LAKE}.logs{at_clause(self.at)} ORDER BY ts, agent, id"
            )
            while rows := result.fetchmany(self.CHUNK):
                records = [
                    Record(
                        ts,
                        received,
                        source,
                        host,
                        fmt,
                        level,
                        message,
                        orjson.loads(fields) if fields else None,
                        raw,
                    )
                    for ts, received, source, host, fmt, level, message, fields, raw in rows
                ]
                ctx.emit(LineBatch(source=self.name, lines=[], records=records))
        except duckdb.Error as exc:
            ctx.report_error(f"{self.name}: {one_line(exc)}", self.name)
        finally:
            con.close()
