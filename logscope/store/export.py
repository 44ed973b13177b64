"""Export records to Parquet, hive-partitioned by UTC date (`date=YYYY-MM-DD/`), for other engines."""

from __future__ import annotations

import datetime as dt
import os
import re

from logscope.errors import LogscopeError
from logscope.store.client import QueryClient
from logscope.store.database import connect
from logscope.store.retention import parse_duration
from logscope.store.sql_text import string_literal, time_literal

PARTITION_COLUMN = "date"
_RELATIVE = re.compile(r"^\d+(?:\.\d+)?\s*[smhdw]", re.I)


def parse_time_bound(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An instant from `2026-11-20`, `2026-11-20T10:00:00+01:00` (UTC when no offset) or `2h`
    (that long ago)."""
    now = now or dt.datetime.now(dt.UTC)
    value = text.strip()
    if _RELATIVE.match(value):
        return now - dt.timedelta(seconds=parse_duration(value))
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        hint = "use e.g. 2026-11-20, 2026-11-20T10:00:00Z or 2h"
        raise LogscopeError(f"{text!r}: not a time ({hint})", 2) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def export_select(since: dt.datetime | None = None, until: dt.datetime | None = None) -> str:
    """The SELECT of the records with `since <= ts < until`, with their partition column."""
    conditions = []
    if since is not None:
        conditions.append(f"ts >= {time_literal(since)}")
    if until is not None:
        conditions.append(f"ts < {time_literal(until)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT *, CAST(ts AS DATE) AS {PARTITION_COLUMN} FROM logs{where} ORDER BY ts, id"


def copy_sql(select: str, target: str, append: bool = False) -> str:
    """The COPY statement that writes the rows of `select` under directory `target`."""
    options = f"FORMAT parquet, PARTITION_BY ({PARTITION_COLUMN}), COMPRESSION zstd"
    if append:
        options += ", APPEND"
    return f"COPY ({select}) TO {string_literal(os.path.abspath(target))} ({options})"


def export_sql(
    target: str, since: dt.datetime | None = None, until: dt.datetime | None = None, append: bool = False
) -> str:
    """The COPY statement that writes records with `since <= ts < until` under directory `target`."""
    return copy_sql(export_select(since, until), target, append)


def export_served(
    client: QueryClient,
    target: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    append: bool = False,
) -> int:
    """Export through the query service of the process holding the database: it sends the rows
    (it writes no file: its service only reads), and this process writes the Parquet files."""
    rows = client.query(export_select(since, until)).arrow()
    local = connect(external_access=True)  # SQL written here, over rows registered here
    try:
        local.register("exported_rows", rows)
        counted = local.execute(copy_sql("SELECT * FROM exported_rows", target, append)).fetchall()
    finally:
        local.close()
    return int(counted[0][0]) if counted and counted[0] else 0


def check_target(target: str, append: bool) -> None:
    """Refuse to mix an export into a directory that holds other files, unless appending."""
    if os.path.exists(target) and not os.path.isdir(target):
        raise LogscopeError(f"{target}: exists and is not a directory")
    if not append and os.path.isdir(target) and os.listdir(target):
        raise LogscopeError(f"{target}: directory is not empty (use --append to add files to it)")
