"""Where rule SQL runs: an in-memory DuckDB that cannot touch files, the network or extensions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import duckdb

SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "threads": 1,
    "memory_limit": "512MB",
}
QUERY_SECONDS = 10.0


class RuleSqlError(Exception):
    """Rule SQL that was refused or failed; the message is one line for the user."""


def one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def open_sandbox() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with external access off and its configuration locked."""
    con = duckdb.connect(":memory:", config=SANDBOX_CONFIG)
    con.execute("SET TimeZone = 'UTC'")
    # Without this, the Python client resolves unknown table names to Python variables in scope.
    con.execute("SET python_enable_replacements = false")
    con.execute("SET lock_configuration = true")
    return con


def check_select(sql: str) -> None:
    """Refuse anything but exactly one SELECT (or WITH ... SELECT) statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise RuleSqlError(f"not valid SQL: {one_line(exc)}") from exc
    if len(statements) != 1:
        raise RuleSqlError(f"must be exactly one statement, found {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise RuleSqlError(f"only a SELECT query is allowed here, not {name}")


_PARSED: dict[str, frozenset[str] | str] = {}  # expression -> its column names, or why it was refused
_PARSED_MAX = 10_000


def expression_columns(con: duckdb.DuckDBPyConnection, expression: str) -> set[str]:
    """The column names an SQL expression refers to (first part of qualified names).

    Raises RuleSqlError when the text is not exactly one expression. Parses each text once
    (checking a rule set asks about each expression several times).
    """
    known = _PARSED.get(expression)
    if known is None:
        try:
            known = frozenset(_parse_columns(con, expression))
        except RuleSqlError as exc:
            known = str(exc)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[expression] = known
    if isinstance(known, str):
        raise RuleSqlError(known)
    return set(known)


def _parse_columns(con: duckdb.DuckDBPyConnection, expression: str) -> set[str]:
    try:
        tree = con.execute("SELECT json_serialize_sql(?)", [f"SELECT ({expression})"]).fetchall()[0][0]
    except duckdb.Error as exc:
        raise RuleSqlError(f"not valid SQL: {one_line(exc)}") from exc
    document = json.loads(tree)
    if document.get("error"):
        message = document.get("error_message", "not a valid SQL expression")
        raise RuleSqlError(f"not a valid SQL expression: {' '.join(message.split())}")
    statements = document.get("statements", [])
    node = statements[0].get("node", {}) if len(statements) == 1 else {}
    if len(statements) != 1 or node.get("from_table", {}).get("type") not in (None, "EMPTY"):
        raise RuleSqlError("must be a single expression, not a query")
    if len(node.get("select_list", [])) != 1:
        raise RuleSqlError("must be a single expression")
    return set(_column_refs(node["select_list"][0]))


def _column_refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("class") == "COLUMN_REF" and node.get("column_names"):
            yield node["column_names"][0]
        for value in node.values():
            yield from _column_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _column_refs(value)


class QueryTimer:
    """Interrupts a connection's query when it runs longer than `seconds`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float = QUERY_SECONDS) -> None:
        self.con, self.seconds = con, seconds
        self.fired = False
        self._timer: threading.Timer | None = None

    def __enter__(self) -> QueryTimer:
        self._timer = threading.Timer(self.seconds, self._interrupt)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _interrupt(self) -> None:
        self.fired = True
        self.con.interrupt()

    def __exit__(self, *exc: object) -> None:
        assert self._timer is not None
        self._timer.cancel()
