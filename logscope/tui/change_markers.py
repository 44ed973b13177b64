"""Change markers (`logscope mark`, versions changing: docs/compare.md) as the TUI draws them:
a ◆ on the charts' time axis, and the first record at or after each one in the log view with its
time in cyan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from logscope.tui.log_reader import LogReader

MARKER_GLYPH = "◆"
MARKER_STYLE = "bold cyan"
LIMIT = 200  # the latest ones

# Each marker with the first record at or after it (of its source, when it has one).
MARKERS_SQL = f"""
SELECT m.id, epoch_us(m.ts), m.text, m.source,
       (SELECT l.id FROM logs l
        WHERE l.ts >= m.ts AND (m.source IS NULL OR l.source = m.source)
        ORDER BY l.ts, l.id LIMIT 1) AS first_record
FROM (SELECT * FROM markers ORDER BY ts DESC, id DESC LIMIT {LIMIT}) m
ORDER BY m.ts, m.id
"""


@dataclass(frozen=True)
class ChangeMarker:
    id: int
    ts_us: int
    text: str
    source: str | None
    first_record: int | None


def read_markers(reader: LogReader) -> list[ChangeMarker]:
    """The latest markers, oldest first ([] for a database from before markers existed)."""
    try:
        if not reader.cursor.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'markers'"
        ).fetchone()[0]:
            return []
        return [ChangeMarker(*row) for row in reader.cursor.execute(MARKERS_SQL).fetchall()]
    except duckdb.Error:
        return []


def marked_records(markers: list[ChangeMarker]) -> dict[int, str]:
    """Record id -> the text of the marker(s) it is the first record after."""
    marked: dict[int, str] = {}
    for marker in markers:
        if marker.first_record is not None:
            earlier = marked.get(marker.first_record)
            marked[marker.first_record] = f"{earlier}; {marker.text}" if earlier else marker.text
    return marked


def buckets_of(
    markers: list[ChangeMarker], start_us: int, bucket_us: int, buckets: int
) -> dict[int, list[ChangeMarker]]:
    """The chart buckets holding markers."""
    found: dict[int, list[ChangeMarker]] = {}
    for marker in markers:
        bucket = (marker.ts_us - start_us) // bucket_us if bucket_us else -1
        if 0 <= bucket < buckets:
            found.setdefault(bucket, []).append(marker)
    return found
