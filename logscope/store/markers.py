"""The `markers` table: change markers (a deploy, a config push, a version seen changing in the
records) that `logscope compare` splits time at and the TUI draws (docs/compare.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import orjson

from logscope.store.sql_text import string_literal, time_literal

MARKERS_DDL = (
    "CREATE SEQUENCE IF NOT EXISTS markers_id",
    """
CREATE TABLE IF NOT EXISTS markers (
    id         BIGINT PRIMARY KEY DEFAULT nextval('markers_id'),
    ts         TIMESTAMPTZ NOT NULL,
    source     VARCHAR,
    text       VARCHAR NOT NULL,
    tags       JSON,
    origin     VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
)
""",
)

# Where a marker came from: `logscope mark`, or a record whose version field changed.
BY_HAND = "mark"
FROM_VERSION = "version"

COLUMNS = ("id", "ts", "source", "text", "tags", "origin", "created_at")


@dataclass
class Marker:
    """One marker to store; `source` None means every source."""

    ts: dt.datetime
    text: str
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    origin: str = BY_HAND

    def as_request(self) -> dict:
        """The marker as plain JSON values (the query service's `mark` request)."""
        return {
            "ts": self.ts.astimezone(dt.UTC).isoformat(),
            "text": self.text,
            "source": self.source,
            "tags": self.tags,
            "origin": self.origin,
        }

    @classmethod
    def from_request(cls, request: dict) -> Marker:
        tags = request.get("tags") or {}
        if not isinstance(request.get("text"), str) or not isinstance(tags, dict):
            raise ValueError("a marker needs a text and tags as an object")
        return cls(
            ts=dt.datetime.fromisoformat(str(request["ts"])),
            text=request["text"],
            source=request.get("source"),
            tags={str(k): str(v) for k, v in tags.items()},
            origin=str(request.get("origin") or BY_HAND),
        )


def insert_markers(con: duckdb.DuckDBPyConnection, markers: list[Marker]) -> list[int]:
    """Store the markers (one transaction); returns their ids."""
    con.begin()
    try:
        ids = add_markers(con, markers)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return ids


def add_markers(con: duckdb.DuckDBPyConnection, markers: list[Marker]) -> list[int]:
    """Insert the markers in the caller's transaction; returns their ids."""
    ids = []
    for marker in markers:
        row = con.execute(
            "INSERT INTO markers (ts, source, text, tags, origin, created_at)"
            " VALUES (?, ?, ?, ?::JSON, ?, now()) RETURNING id",
            [
                marker.ts,
                marker.source,
                marker.text,
                orjson.dumps(marker.tags).decode() if marker.tags else None,
                marker.origin,
            ],
        ).fetchone()
        ids.append(int(row[0]))
    return ids


def listing_sql(
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    source: str | None = None,
    limit: int | None = None,
) -> str:
    """The markers in [since, until) that concern sources matching `source` (markers for every
    source included), by time. One statement of literals: it may run over the query service."""
    where = ["TRUE"]
    if since is not None:
        where.append(f"ts >= {time_literal(since)}")
    if until is not None:
        where.append(f"ts < {time_literal(until)}")
    if source is not None:
        where.append(f"(markers.source IS NULL OR markers.source GLOB {string_literal(source)})")
    tail = f" LIMIT {int(limit)}" if limit else ""
    return f"SELECT {', '.join(COLUMNS)} FROM markers WHERE {' AND '.join(where)} ORDER BY ts, id{tail}"


def marker_sql(reference: str) -> str:
    """The marker `reference` names: its id, else the latest whose text is or contains it."""
    if reference.isdigit():
        return f"SELECT {', '.join(COLUMNS)} FROM markers WHERE id = {int(reference)}"
    escaped = reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = string_literal(f"%{escaped}%")
    return (
        f"SELECT {', '.join(COLUMNS)} FROM markers WHERE text = {string_literal(reference)}"
        f" OR text ILIKE {pattern} ESCAPE '\\'"
        f" ORDER BY text = {string_literal(reference)} DESC, ts DESC, id DESC LIMIT 1"
    )


HAS_MARKERS_SQL = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'markers'"
