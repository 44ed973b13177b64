"""How counts and times are written in messages and output (every layer writes them alike)."""

from __future__ import annotations

import datetime as dt


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 record`, `2 records`, `1,204 records`."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def render_time(value: dt.datetime | dt.date | dt.time) -> str:
    """RFC 3339 with milliseconds: `2024-05-01T14:06:01.000Z` (`Z` for UTC, else the offset)."""
    if isinstance(value, dt.datetime):
        stamp = value.replace(tzinfo=None).isoformat(timespec="milliseconds")  # truncated, not rounded
        offset = value.utcoffset()
        if offset is None:
            return stamp  # a TIMESTAMP without a zone stays without one
        if not offset:
            return stamp + "Z"
        return stamp + value.isoformat()[-6:]
    if isinstance(value, dt.time):
        return value.isoformat(timespec="milliseconds")
    return value.isoformat()
