"""Values written into the SQL logscope composes itself: a statement of literals runs on a
database file and over the query service alike (store/client.py)."""

from __future__ import annotations

import datetime as dt


def string_literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def time_literal(value: dt.datetime) -> str:
    """An aware datetime as a TIMESTAMPTZ literal (in UTC)."""
    return f"TIMESTAMPTZ {string_literal(value.astimezone(dt.UTC).isoformat())}"


def from_microseconds(us: str | int) -> str:
    """SQL for the TIMESTAMPTZ `us` µs after the epoch (a SQL expression or a number), exact
    whatever the session's time zone."""
    return f"(to_timestamp(({us}) // 1000000) + to_microseconds(({us}) % 1000000))"
