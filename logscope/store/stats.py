"""Self-monitoring: per-source figures sampled periodically into the `stats` table.

The store does not know the pipeline: the run (pipeline/services.py) passes a callable returning, per source,
a dict with `lines`, `bytes`, `parse_failures`, `errors`, `drops`, `lag` (seconds) and `done`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import duckdb

from logscope.text import render_time

DEFAULT_INTERVAL = 10.0
FIELDS = ("lines", "bytes", "parse_failures", "errors", "drops")

SourceFigures = dict[str, dict[str, Any]]

_INSERT = """
INSERT INTO stats
SELECT to_timestamp(ts), pid, source, lines, bytes, lines_per_s, parse_failures, errors, drops,
       lag_s, done
FROM _logscope_stats
"""


class StatsSampler:
    """Turns cumulative counters into rows with a lines/s rate over the last interval."""

    def __init__(self, figures: Callable[[], SourceFigures]) -> None:
        self.figures = figures
        self.pid = os.getpid()
        self._previous: dict[str, tuple[float, int]] = {}
        self._started = time.time()
        self.latest: list[dict[str, Any]] = []

    def sample(self, keep: bool = True) -> list[dict[str, Any]]:
        """The current figures per source; `keep` makes them the base of the next rate."""
        now = time.time()
        rows = []
        for source, figures in sorted(self.figures().items()):
            lines = int(figures.get("lines", 0))
            since, before = self._previous.get(source, (self._started, 0))
            elapsed = now - since
            rate = (lines - before) / elapsed if elapsed > 0 else 0.0
            row: dict[str, Any] = {"ts": now, "pid": self.pid, "source": source}
            row.update({name: int(figures.get(name, 0)) for name in FIELDS})
            row["lines_per_s"] = round(rate, 3)
            row["lag_s"] = round(float(figures.get("lag", 0.0)), 6)
            row["done"] = bool(figures.get("done", False))
            rows.append(row)
            if keep:
                self._previous[source] = (now, lines)
        if keep:
            self.latest = rows
        return rows

    def current(self) -> list[dict[str, Any]]:
        """Figures as of now; rates from the last kept sample (or the start) to now."""
        return self.sample(keep=False)


def write_stats(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Insert sampled rows into `stats` in one statement."""
    if not rows:
        return
    import pyarrow as pa

    columns = ("ts", "pid", "source", *FIELDS, "lines_per_s", "lag_s", "done")
    table = pa.table({name: [row[name] for row in rows] for name in columns})
    con.register("_logscope_stats", table)
    try:
        con.execute(_INSERT)
    finally:
        con.unregister("_logscope_stats")


class StatsWriter:
    """A thread that writes a sample to `stats` every `interval` seconds and once at stop."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        figures: Callable[[], SourceFigures],
        interval: float = DEFAULT_INTERVAL,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.con = con
        self.sampler = StatsSampler(figures)
        self.interval = interval
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor: duckdb.DuckDBPyConnection | None = None

    def start(self) -> None:
        self._cursor = self.con.cursor()
        self._thread = threading.Thread(target=self._loop, name="logscope-stats", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._write()

    def _write(self) -> None:
        assert self._cursor is not None
        try:
            write_stats(self._cursor, self.sampler.sample())
        except duckdb.Error as exc:
            if self.on_error:
                self.on_error(f"writing stats: {' '.join(str(exc).split())}")

    def stop(self) -> None:
        """Stop the thread and write the final figures."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._cursor is not None:
            self._write()
            with contextlib.suppress(duckdb.Error):
                self._cursor.close()
            self._cursor = None


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND database_name = current_database()",
        [name],
    ).fetchone()
    return bool(row and row[0])


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns()"
        " WHERE table_name = ? AND database_name = current_database()",
        [name],
    ).fetchall()
    return {column: kind for column, kind in rows}


def latest_stats(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The last row per source, whichever writer process wrote it (for `status`)."""
    if not table_exists(con, "stats"):
        return []
    result = con.execute(
        """
        SELECT * EXCLUDE (rank) FROM (
            SELECT *, row_number() OVER (PARTITION BY source ORDER BY ts DESC) AS rank
            FROM stats
        ) WHERE rank = 1 ORDER BY source
        """
    )
    columns = [column[0] for column in result.description]
    rows = []
    for values in result.fetchall():
        row = dict(zip(columns, values, strict=True))
        row["ts"] = row["ts"].timestamp()
        rows.append(row)
    return rows


def alert_summary(con: duckdb.DuckDBPyConnection, limit: int = 20) -> dict[str, Any] | None:
    """Counts of the `alerts` table by state and the firing ones, or None when there is none."""
    if not table_exists(con, "alerts"):
        return None
    columns = table_columns(con, "alerts")
    summary: dict[str, Any] = {"total": con.execute("SELECT count(*) FROM alerts").fetchone()[0]}
    if "state" not in columns:
        return summary
    summary["by_state"] = dict(con.execute("SELECT state, count(*) FROM alerts GROUP BY ALL").fetchall())
    shown = [name for name in ("rule", "group_key", "group", "severity", "summary") if name in columns]
    since = next((name for name in columns if name.startswith("first")), None)
    if since:
        shown.append(since)
    if shown:
        select = ", ".join(f'"{name}"' for name in shown)
        result = con.execute(f"SELECT {select} FROM alerts WHERE state = 'firing' LIMIT {int(limit)}")
        summary["firing"] = [
            {name: _plain(value) for name, value in zip(shown, row, strict=True)} for row in result.fetchall()
        ]
    return summary


def _plain(value: Any) -> Any:
    """A JSON-friendly value: times as ISO text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def every_source(con, figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every source with records in the database or `figures` (a run's per-source counters),
    by name: its record count, and its figures where a run reported some."""
    counts = dict(con.execute("SELECT source, count(*) FROM logs GROUP BY source").fetchall())
    by_source = {name: {"source": name} for name in counts}
    for row in figures:
        by_source.setdefault(row["source"], {}).update(row)
    for name, row in by_source.items():
        row["records"] = counts.get(name, 0)
    return [by_source[name] for name in sorted(by_source)]


def file_facts(con, path: str) -> dict[str, Any]:
    """Record count and time span, and the bytes used and on disk."""
    from logscope.store.retention import storage_used  # retention imports this module

    count, first, last = con.execute("SELECT count(*), min(ts), max(ts) FROM logs").fetchone()
    used, on_disk = storage_used(con, path)
    return {
        "records": count,
        "first_ts": render_time(first) if first else None,
        "last_ts": render_time(last) if last else None,
        "used_bytes": used,
        "file_bytes": on_disk,
    }
