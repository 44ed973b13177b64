"""Markers from the records themselves: when a source's `version` (or `service.version`) field
changes, a marker is stored at the event time of the first record with the new value.

Like the patterns stage it reads the stored records in id order, from where it last stopped (kept
in `meta`, with each source's last version), so it runs beside the writer (patterns/background.py)
and a restarted run goes on where the last one ended."""

from __future__ import annotations

import datetime as dt

import duckdb
import orjson

from logscope.store.markers import FROM_VERSION, Marker, add_markers
from logscope.store.replace import replace_meta

SCANNED_TO_KEY = "version_markers_scanned_to"  # in `meta`: the last `logs.id` looked at
SEEN_KEY = "version_markers_seen"  # in `meta`: each source's latest version, as JSON
BLOCK_RECORDS = 500_000

# A record's version: a top-level `version`, a flat `service.version` (OpenTelemetry resource
# attributes), or `version` inside a `service` object.
VERSION_EXPRESSION = (
    "coalesce(json_extract_string(fields, '$.version'),"
    " json_extract_string(fields, '$.\"service.version\"'),"
    " json_extract_string(fields, '$.service.version'))"
)

# Only records whose `fields` text holds `version` can have one: a substring test is several
# times cheaper than the JSON extraction it spares (the writers never escape ASCII key letters).
# Per source, the records whose version differs from the record before them (and each source's
# first record with a version, to compare with the version carried over from the last round).
_CHANGES_SQL = f"""
WITH versioned AS (
    SELECT id, ts, source, {VERSION_EXPRESSION} AS version
    FROM logs WHERE id > ? AND id <= ? AND contains(fields::VARCHAR, 'version')
),
known AS (SELECT * FROM versioned WHERE version IS NOT NULL),
stepped AS (
    SELECT id, ts, source, version, lag(version) OVER (PARTITION BY source ORDER BY id) AS previous
    FROM known
)
SELECT id, ts, source, version, previous FROM stepped
WHERE previous IS NULL OR previous <> version
ORDER BY id
"""


class VersionMarkers:
    """Keeps `markers` up to date with the version fields of the stored records."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.scanned_to = int(self._meta(SCANNED_TO_KEY) or 0)
        self.seen: dict[str, str] = orjson.loads(self._meta(SEEN_KEY) or "{}")

    def _meta(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def catch_up(self) -> int:
        """Look at every record stored since the last call; returns how many markers were made."""
        rows = self.con.execute("SELECT max(id) FROM logs WHERE id > ?", [self.scanned_to]).fetchall()
        target = int(rows[0][0]) if rows and rows[0][0] is not None else self.scanned_to
        made = 0
        while self.scanned_to < target:
            upto = min(target, self.scanned_to + BLOCK_RECORDS)
            made += self._scan(upto)
        return made

    def _scan(self, upto: int) -> int:
        changes = self.con.execute(_CHANGES_SQL, [self.scanned_to, upto]).fetchall()
        markers = []
        seen = dict(self.seen)
        for _id, ts, source, version, previous in changes:
            before = previous if previous is not None else seen.get(source)
            if before is not None and before != version:
                markers.append(_marker(ts, source, before, version))
            seen[source] = version
        con = self.con
        con.begin()
        try:
            add_markers(con, markers)
            replace_meta(con, SCANNED_TO_KEY, str(upto))
            replace_meta(con, SEEN_KEY, orjson.dumps(seen).decode())
            con.commit()
        except BaseException:
            con.rollback()
            raise
        self.scanned_to, self.seen = upto, seen
        return len(markers)


def _marker(ts: dt.datetime, source: str, before: str, after: str) -> Marker:
    return Marker(
        ts=ts,
        text=f"{source}: version {before} → {after}",
        source=source,
        tags={"version": after, "previous": before},
        origin=FROM_VERSION,
    )
