"""What the query service runs for a client: statements that read, and nothing else.

DuckDB's own parser (`duckdb.extract_statements`, `json_serialize_sql`) decides what a statement
is; regular expressions only name a PRAGMA, a SET's scope and what an EXPLAIN explains.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import duckdb
import orjson

from logscope.store.database import MEMORY, connect

# What the service runs: statements that read. (DESCRIBE, SHOW, SUMMARIZE, FROM … and VALUES are
# SELECTs to DuckDB's parser.) Writes to the data are left to the READ ONLY transaction, which
# refuses them with the error a read-only database gives (also when hidden in a CTE).
_READING_TYPES = {"SELECT", "EXPLAIN", "PRAGMA", "CALL", "SET"}
_DATA_WRITE_TYPES = {"INSERT", "UPDATE", "DELETE"}
_SESSION_SET = re.compile(r"\s*(set\s+variable|reset\s+variable|set\s+session|reset\s+session|use)\b", re.I)
_PRAGMA_NAME = re.compile(r"\s*(?:pragma|call)\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)
_EXPLAINED = re.compile(r"\s*explain\s+(?:analyze\s+|\([^)]*\)\s*)?(.*)", re.I | re.S)
_READ_PRAGMAS = {
    "table_info",
    "show",
    "show_tables",
    "show_tables_expanded",
    "show_databases",
    "database_size",
    "database_list",
    "storage_info",
    "metadata_info",
    "version",
    "platform",
    "functions",
    "collations",
    "user_agent",
}
# Table functions that change the holder's database although called from a SELECT.
_WRITING_TABLE_FUNCTIONS = {"checkpoint", "force_checkpoint"}
READ_ONLY_TXN = re.compile(r'Cannot write to database "([^"]*)" - transaction is launched in read-only mode')


def one_line_error(exc: BaseException) -> str:
    """DuckDB's message, first line only (the rest is a caret drawing)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def refusal(statement: duckdb.Statement, pid: int) -> str | None:
    """Why the service will not run `statement` for a client, or None when it may.

    Only statements that read run: SELECT (DESCRIBE, SHOW, SUMMARIZE), EXPLAIN of one, read-only
    PRAGMAs, and SET/RESET of the client's own session and variables. Nothing that writes a
    file, creates an object (temporary ones too), checkpoints, vacuums, attaches, loads or
    installs extensions, or changes the holder's settings."""
    try:
        kind = statement.type.name
    except ValueError:  # a statement type this Python client has no name for (UPDATE EXTENSIONS)
        kind = "UNKNOWN"
    text = statement.query
    if kind in _DATA_WRITE_TYPES:
        return None  # refused by the READ ONLY transaction, with DuckDB's read-only error
    if kind not in _READING_TYPES:
        return (
            f'statement of type "{kind}" is not allowed through the query service of PID {pid}:'
            " it runs only SELECT, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE and read-only PRAGMAs"
            " (`logscope export` writes files)"
        )
    if kind == "SET" and not _SESSION_SET.match(text):
        return (
            f"SET would change the settings of PID {pid}, which holds the database;"
            " use SET SESSION or SET VARIABLE"
        )
    if kind in ("PRAGMA", "CALL"):
        match = _PRAGMA_NAME.match(text)
        name = (match.group(1).lower() if match else "").removeprefix("pragma_")
        if name not in _READ_PRAGMAS or (kind == "PRAGMA" and "=" in text):
            shown = name or text.strip().split()[0]
            return f"{kind} {shown} is not allowed through the query service of PID {pid}"
    if kind == "EXPLAIN":
        return _explained_refusal(text, pid)
    if kind == "SELECT":
        called = _WRITING_TABLE_FUNCTIONS & table_functions(text)
        if called:
            return f"{sorted(called)[0]}() is not allowed through the query service of PID {pid}"
    return None


def _explained_refusal(text: str, pid: int) -> str | None:
    """EXPLAIN ANALYZE runs its statement: it may run only what the service would run."""
    match = _EXPLAINED.match(text)
    try:
        inner = duckdb.extract_statements(match.group(1)) if match else []
    except (duckdb.Error, ValueError):
        inner = []
    if len(inner) != 1:
        return f"EXPLAIN of this statement is not allowed through the query service of PID {pid}"
    return refusal(inner[0], pid)


_PARSER_LOCK = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def table_functions(sql: str) -> set[str]:
    """The names of the table functions a SELECT calls, from DuckDB's own parse tree."""
    global _parser
    with _PARSER_LOCK:
        if _parser is None:
            _parser = connect(MEMORY, external_access=False)
        tree = _parser.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    found: set[str] = set()
    stack: list[Any] = [orjson.loads(tree[0])] if tree and tree[0] else []
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
                found.add(str(node["function"].get("function_name", "")).lower())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
