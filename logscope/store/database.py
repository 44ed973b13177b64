"""Where the database lives, and opening it for writing or reading."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from logscope.duckdb_config import SAFE_CONFIG
from logscope.errors import LogscopeError
from logscope.store.schema import ALL_DDL, SCHEMA_VERSION

MEMORY = ":memory:"
# How long a writer waits for a lock another process holds briefly (a direct `query`).
LOCK_WAIT_SECONDS = 2.0


def connect(
    path: str = MEMORY, *, read_only: bool = False, external_access: bool = False
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection configured as every logscope connection is (SAFE_CONFIG), in UTC.

    `external_access`: whether SQL may read or write files other than the database (COPY,
    read_csv, ATTACH): only for SQL logscope writes itself (export, compaction), never users'.
    Its own database file, write-ahead log, spill files and registered Arrow data need none."""
    config = {**SAFE_CONFIG, "enable_external_access": external_access}
    con = duckdb.connect(path, read_only=read_only, config=config)
    con.execute("SET TimeZone = 'UTC'")
    return con


def default_db_path() -> str:
    """`$LOGSCOPE_DB`, else `$XDG_DATA_HOME/logscope/logscope.duckdb` (~/.local/share by default)."""
    explicit = os.environ.get("LOGSCOPE_DB")
    if explicit:
        return explicit
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return os.path.join(data_home, "logscope", "logscope.duckdb")


def resolve_db_path(option: str | None) -> str:
    """The database path from `--db`, or the default."""
    return option if option else default_db_path()


# A database written by a newer DuckDB (main ran DuckDB 2.0 before the pin to 1.5.5).
NEWER_FILE_HINT = (
    " (written by a newer DuckDB: copy it to this version's format with that DuckDB, as"
    ' docs/lake.md "Which DuckDB" shows, or start a new database)'
)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "created with an newer version of DuckDB" in text or "created with a newer version" in text:
        return text.split(". ")[0] + NEWER_FILE_HINT
    return text


def _connect_when_free(path: str, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Connect for writing, waiting out a lock held for a moment (a `logscope query` reading)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return connect(path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def open_for_writing(path: str, wait_seconds: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database and its tables, in UTC."""
    try:
        if path != MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LogscopeError(f"{path}: cannot create its folder: {exc.strerror}") from None
    try:
        con = _connect_when_free(path, wait_seconds)
    except duckdb.Error as exc:
        raise LogscopeError(f"{path}: cannot open database: {_one_line(exc)}") from exc
    con.execute("SET TimeZone = 'UTC'")
    for ddl in ALL_DDL:
        con.execute(ddl)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    return con


def open_for_reading(path: str, *, external_access: bool = False) -> duckdb.DuckDBPyConnection:
    """Open an existing database read-only, in UTC, its configuration locked (users' SQL runs
    here); `external_access` only for SQL logscope writes itself (export)."""
    if path != MEMORY and not os.path.exists(path):
        raise LogscopeError(f"{path}: no database here yet (run `logscope ingest` first)")
    try:
        con = connect(path, read_only=path != MEMORY, external_access=external_access)
    except duckdb.Error as exc:
        raise LogscopeError(f"{path}: cannot open database: {_one_line(exc)}") from exc
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET lock_configuration = true")
    return con
