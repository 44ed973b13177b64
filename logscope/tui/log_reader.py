"""The read side of the TUI: every query the views run against the `logs` (and `alerts`) tables.

One `LogReader` belongs to one thread (DuckDB cursors are per-thread); the UI thread owns the
main one, workers open their own with `LogReader.for_thread()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import orjson

from logscope.tui.filters import FilterError, FilterState, TextMatch
from logscope.tui.in_place_rows import logs_relation

VIEW_COLUMNS = "id, epoch_us(ts) AS ts_us, source, level, message, format, host, fields"
# The text the log view shows after the level (rendering.display_text), built in SQL: a search
# looks through what is on screen, not through parts of the raw line that are not shown.
# (json_extract_string, not ->>, inside the lambdas: DuckDB 1.5 fails to bind `fields->>'app'` there.)
_VALUE = "json_extract_string(fields, k)"
_FIELD_SHOWN = (
    f"{_VALUE} IS NOT NULL"
    " AND NOT (k IN ('app', 'pid') AND json_extract_string(fields, 'app') IS NOT NULL)"
    " AND (format IN ('json', 'logfmt')"
    f" OR NOT list_contains(string_split(coalesce(message, ''), ' '), {_VALUE}))"
)
_FIELD_TEXT = f"k || '=' || CASE WHEN contains({_VALUE}, ' ') THEN '\"' || {_VALUE} || '\"' ELSE {_VALUE} END"
DISPLAY_SQL = (
    "concat_ws(' ', nullif(host, ''),"
    " CASE WHEN fields->>'app' IS NOT NULL"
    " THEN (fields->>'app') || coalesce('[' || (fields->>'pid') || ']', '') || ':' END,"
    " replace(coalesce(message, ''), chr(10), ' ⏎ '),"
    f" nullif(array_to_string(list_transform(list_filter(json_keys(fields), lambda k: {_FIELD_SHOWN}),"
    f" lambda k: {_FIELD_TEXT}), ' '), ''))"
)
_ORDER = "ORDER BY ts, id"
_ORDER_DESC = "ORDER BY ts DESC, id DESC"
# DuckDB types for the types json_type() reports.
JSON_TYPES = {"BIGINT": "BIGINT", "UBIGINT": "BIGINT", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN"}
# Pages this far from the end are read with a time bound found among the newest ids.
TAIL_BOUND_MAX = 50_000
_TS = "make_timestamptz(?::BIGINT)"
# The alerts table column to show the newest first by: one that does not change while an alert
# fires (ordered by its last match, the list re-sorted under the cursor every second).
ORDER_COLUMNS = ("fired_at", "first_at", "ts", "id")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the log view."""

    id: int
    ts: int
    source: str
    level: str | None
    message: str
    format: str
    host: str | None = None
    fields: str | None = None  # JSON text


@dataclass(frozen=True)
class Histogram:
    """Record counts per time bucket and level."""

    start_us: int
    bucket_us: int
    counts: dict[str | None, list[int]]
    # The time span of every record the filter keeps (the chart may show only a window of it).
    first_us: int = 0
    last_us: int = 0

    @property
    def buckets(self) -> int:
        return max((len(v) for v in self.counts.values()), default=0)


def one_line_error(exc: Exception) -> str:
    """DuckDB's message, first line only (the rest is a caret drawing)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class SourceCounts:
    """Records per source and level, counted by new ids only; everything again when records were
    deleted (retention), which one count of the ids already counted tells. Safe to share between
    threads. The per-level cells also count what a level or source toggle keeps without a scan."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str | None], int] = {}
        self.upto = 0
        self._lock = threading.Lock()

    def read(self, reader: LogReader) -> dict[str, int]:
        """Records per source, up to the newest record."""
        with self._lock:
            self._refresh(reader)
            by_source: dict[str, int] = {}
            for (source, _), count in self.cells.items():
                by_source[source] = by_source.get(source, 0) + count
            return dict(sorted(by_source.items()))

    def kept(self, reader: LogReader, state: FilterState) -> tuple[int, int] | None:
        """How many records `state` keeps and up to which id, from the cells; None when the filter
        needs more than level and source toggles."""
        if not state.toggles_only():
            return None
        with self._lock:
            self._refresh(reader)
            total = sum(n for (source, level), n in self.cells.items() if state.keeps(source, level))
            return total, self.upto

    def _refresh(self, reader: LogReader) -> None:
        cells, newest, before = reader.cells_after(self.upto)
        if before != sum(self.cells.values()):  # records were deleted: count everything again
            self.cells, self.upto = {}, 0
            cells, newest, _ = reader.cells_after(0)
        for cell, count in cells.items():
            self.cells[cell] = self.cells.get(cell, 0) + count
        self.upto = max(self.upto, newest)


class LogReader:
    """Queries for the views, on one cursor of the pipeline's connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, found: dict[str, list[str]] | None = None) -> None:
        self._con = con
        self.cursor = con.cursor()
        # What catalog look-ups found, shared with the readers made for other threads: the alerts
        # table's columns once it exists (it never goes away).
        self._found = {} if found is None else found
        self._registered: dict[str, object] = {}  # in-place rows registered on this cursor
        self.cursor.execute("SET TimeZone = 'UTC'")

    def for_thread(self) -> LogReader:
        """A reader with its own cursor, for use in another thread."""
        return LogReader(self._con, self._found)

    def close(self) -> None:
        self.cursor.close()

    def _logs(self, state: FilterState | None) -> str:
        """What `logs` is for `state`: the table, or the table and the rows of files not stored
        yet that the filter keeps (tui/in_place_rows.py)."""
        return logs_relation(self.cursor, self._registered, state)

    def _all(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.cursor.execute(sql, params or []).fetchall()

    def _one(self, sql: str, params: list | None = None) -> tuple:
        return self.cursor.execute(sql, params or []).fetchone()

    # --- filters ------------------------------------------------------------------------

    def check_predicate(self, predicate: str) -> None:
        """Raise FilterError unless `predicate` is a boolean SQL expression over the logs columns."""
        if ";" in predicate:
            raise FilterError("a filter is one expression, without ';'")
        try:
            described = self._all(f"DESCRIBE SELECT ({predicate}) AS keep FROM logs")
        except duckdb.Error as exc:
            raise FilterError(one_line_error(exc)) from exc
        if described[0][1] != "BOOLEAN":
            raise FilterError(f"not a condition: {predicate!r} is {described[0][1]}, not BOOLEAN")

    def is_predicate(self, text: str) -> bool:
        try:
            self.check_predicate(text)
        except FilterError:
            return False
        return True

    def field_type(self, name: str) -> str | None:
        """The DuckDB type of a field's stored JSON values (the first record carrying it); None
        when no record has it."""
        path = '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        row = self._one(
            "SELECT json_type(fields, ?) FROM logs WHERE json_exists(fields, ?) LIMIT 1", [path, path]
        )
        if row is None:
            return None
        return JSON_TYPES.get(row[0], "VARCHAR")

    def newest_us(self) -> int | None:
        return self._one("SELECT epoch_us(max(ts)) FROM logs")[0]

    def _where(self, state: FilterState, extra: str = "", extra_params: list | None = None):
        newest = self.newest_us() if state.time_range.last_us is not None else None
        where, params = state.where(newest)
        if extra:
            where = f"({where}) AND {extra}"
            params = params + (extra_params or [])
        return where, params

    # --- the log view -------------------------------------------------------------------

    def count(self, state: FilterState, after_id: int = 0, upto_id: int | None = None) -> int:
        """Records the filter keeps, optionally only those with after_id < id <= upto_id."""
        extra, extra_params = "id > ?", [after_id]
        if upto_id is not None:
            extra += " AND id <= ?"
            extra_params.append(upto_id)
        logs = self._logs(state)
        where, params = self._where(state, extra, extra_params)
        return self._one(f"SELECT count(*) FROM {logs} WHERE {where}", params)[0]

    def count_new(self, state: FilterState, after_id: int, upto_id: int) -> tuple[int, int]:
        """How many records with after_id < id <= upto_id the filter keeps, and their earliest time."""
        logs = self._logs(state)
        where, params = self._where(state, "id > ? AND id <= ?", [after_id, upto_id])
        count, earliest = self._one(f"SELECT count(*), epoch_us(min(ts)) FROM {logs} WHERE {where}", params)
        return count, earliest if earliest is not None else 0

    def newest_rows(self, state: FilterState, after_id: int, upto_id: int, limit: int) -> list[Row]:
        """The last `limit` records, in time order, among after_id < id <= upto_id."""
        logs = self._logs(state)
        where, params = self._where(state, "id > ? AND id <= ?", [after_id, upto_id])
        rows = self._all(
            f"SELECT {VIEW_COLUMNS} FROM {logs} WHERE {where} {_ORDER_DESC} LIMIT ?",
            [*params, limit],
        )
        return [Row(*row) for row in reversed(rows)]

    def max_id(self) -> int:
        return self._one("SELECT coalesce(max(id), 0) FROM logs")[0]

    def page(
        self,
        state: FilterState,
        offset: int,
        limit: int,
        upto_id: int | None = None,
        total: int | None = None,
    ) -> list[Row]:
        """`limit` rows from position `offset` in time order, among records with id <= `upto_id`.

        Ids first, then their columns. In the second half of `total` rows the page is read from
        the end (ORDER BY … DESC with a small OFFSET), which DuckDB answers with a top-N heap
        instead of sorting everything before it; near the end, only records at least as new as a
        bound found among the newest ids are read (see `_tail_bound`), so following millions of
        records does not scan them all.
        """
        offset = max(0, offset)
        if total is not None:
            limit = min(limit, total - offset)
        if limit <= 0:
            return []
        upto_id = self.max_id() if upto_id is None else upto_id
        logs = self._logs(state)
        where, params = self._where(state, "id <= ?", [upto_id])
        if total is not None and offset > total // 2:
            from_end = max(0, total - offset - limit)
            bound = self._tail_bound(state, from_end + limit, upto_id)
            if bound is not None:  # few rows pass: read their columns at once
                sql = f"SELECT {VIEW_COLUMNS} FROM {logs} WHERE {where} AND ts >= {_TS} {_ORDER_DESC}"
                sql += " LIMIT ? OFFSET ?"
                return [Row(*row) for row in reversed(self._all(sql, [*params, bound, limit, from_end]))]
            sql = f"SELECT id FROM {logs} WHERE {where} {_ORDER_DESC} LIMIT ? OFFSET ?"
            ids = [row[0] for row in self._all(sql, [*params, limit, from_end])][::-1]
        else:
            sql = f"SELECT id FROM {logs} WHERE {where} {_ORDER} LIMIT ? OFFSET ?"
            ids = [row[0] for row in self._all(sql, [*params, limit, offset])]
        return self.rows_by_id(ids, state)

    def _tail_bound(self, state: FilterState, count: int, upto_id: int) -> int | None:
        """A time no later than that of the `count`-th newest record the filter keeps (id <= upto_id).

        The newest `count` kept records among the last ids are a lower bound of the true newest
        `count`, whatever order records arrived in; they are found in a small id range (records
        mostly arrive in time order), widened until it holds `count`. Zone maps then let DuckDB
        skip every row group older than the bound. None when the range would cover everything."""
        if count > TAIL_BOUND_MAX:
            return None
        span = max(16 * count, 4096)
        while span < upto_id:
            logs = self._logs(state)
            where, params = self._where(state, "id > ? AND id <= ?", [upto_id - span, upto_id])
            earliest, found = self._one(
                f"SELECT epoch_us(min(ts)), count(*) FROM (SELECT ts FROM {logs} WHERE {where}"
                f" {_ORDER_DESC} LIMIT ?)",
                [*params, count],
            )
            if found >= count:
                return earliest
            span *= 16
        return None

    def rows_by_id(self, ids: list[int], state: FilterState | None = None) -> list[Row]:
        if not ids:
            return []
        logs = self._logs(state)
        found = {
            row[0]: Row(*row)
            # The BETWEEN lets DuckDB skip row groups by their id range (zone maps); the ids as one
            # list parameter bind faster than as an IN list of literals.
            for row in self._all(
                f"SELECT {VIEW_COLUMNS} FROM {logs} WHERE id BETWEEN ? AND ? AND list_contains(?, id)",
                [min(ids), max(ids), ids],
            )
        }
        return [found[i] for i in ids if i in found]

    def position(self, state: FilterState, ts: int, record_id: int, upto_id: int | None = None) -> int:
        """The index in the filtered view (of records with id <= `upto_id`) of the record at (ts, id)."""
        before = "(ts < make_timestamptz(?::BIGINT) OR (ts = make_timestamptz(?::BIGINT) AND id < ?))"
        bound, bound_params = (" AND id <= ?", [upto_id]) if upto_id is not None else ("", [])
        logs = self._logs(state)
        where, params = self._where(state, before + bound, [ts, ts, record_id, *bound_params])
        return self._one(f"SELECT count(*) FROM {logs} WHERE {where}", params)[0]

    def find(
        self,
        state: FilterState,
        match: TextMatch | tuple[str, list],
        ts: int,
        record_id: int,
        forward: bool,
        upto_id: int | None = None,
    ):
        """The (ts, id) of the next (or previous) record after (ts, id) that `match` matches (a
        TextMatch, or (SQL condition, parameters))."""
        sql, values = match.sql(DISPLAY_SQL) if isinstance(match, TextMatch) else match
        if upto_id is not None:
            sql, values = f"{sql} AND id <= ?", [*values, upto_id]
        if forward:
            after = "(ts > make_timestamptz(?::BIGINT) OR (ts = make_timestamptz(?::BIGINT) AND id > ?))"
            order = "ORDER BY ts, id"
        else:
            after = "(ts < make_timestamptz(?::BIGINT) OR (ts = make_timestamptz(?::BIGINT) AND id < ?))"
            order = "ORDER BY ts DESC, id DESC"
        logs = self._logs(state)
        where, params = self._where(state, f"{sql} AND {after}", [*values, ts, ts, record_id])
        row = self._one(f"SELECT epoch_us(ts), id FROM {logs} WHERE {where} {order} LIMIT 1", params)
        return (row[0], row[1]) if row else None

    def count_matches(
        self,
        state: FilterState,
        match: TextMatch,
        upto_id: int | None = None,
        before: tuple[int, int] | None = None,
    ) -> int:
        """How many records the filter keeps that `match` matches (those before (ts, id) only)."""
        sql, values = match.sql(DISPLAY_SQL)
        if upto_id is not None:
            sql, values = f"{sql} AND id <= ?", [*values, upto_id]
        if before is not None:
            earlier = "(ts < make_timestamptz(?::BIGINT) OR (ts = make_timestamptz(?::BIGINT) AND id < ?))"
            sql, values = f"{sql} AND {earlier}", [*values, before[0], before[0], before[1]]
        logs = self._logs(state)
        where, params = self._where(state, sql, values)
        return self._one(f"SELECT count(*) FROM {logs} WHERE {where}", params)[0]

    # --- the detail view ----------------------------------------------------------------

    def record(self, record_id: int, state: FilterState | None = None) -> dict[str, Any] | None:
        """Every column of one record; `fields` decoded."""
        logs = self._logs(state)
        result = self.cursor.execute(
            "SELECT id, ts, received_at, source, host, format, level, message, fields, raw"
            f" FROM {logs} WHERE id = ?",
            [record_id],
        )
        row = result.fetchone()
        if row is None:
            return None
        record = dict(zip([c[0] for c in result.description], row, strict=True))
        record["ts_us"] = self._one(f"SELECT epoch_us(ts) FROM {logs} WHERE id = ?", [record_id])[0]
        if record["fields"]:
            record["fields"] = orjson.loads(record["fields"])
        return record

    def neighbours(self, source: str, ts: int, record_id: int, count: int) -> tuple[list[Row], list[Row]]:
        """Up to `count` records before and after (ts, id) in the same source, in time order."""
        before = self._all(
            f"SELECT {VIEW_COLUMNS} FROM logs WHERE source = ? AND (ts < make_timestamptz(?::BIGINT)"
            " OR (ts = make_timestamptz(?::BIGINT) AND id < ?)) ORDER BY ts DESC, id DESC LIMIT ?",
            [source, ts, ts, record_id, count],
        )
        after = self._all(
            f"SELECT {VIEW_COLUMNS} FROM logs WHERE source = ? AND (ts > make_timestamptz(?::BIGINT)"
            " OR (ts = make_timestamptz(?::BIGINT) AND id > ?)) ORDER BY ts, id LIMIT ?",
            [source, ts, ts, record_id, count],
        )
        return [Row(*r) for r in reversed(before)], [Row(*r) for r in after]

    # --- the overview -------------------------------------------------------------------

    def histogram(
        self, state: FilterState, buckets: int, window: tuple[int, int] | None = None
    ) -> Histogram | None:
        """Counts per level in `buckets` equal slices of the filtered records' time span, or of
        `window` (start, end in µs) within it: the overview zoomed in."""
        logs = self._logs(state)
        where, params = self._where(state)
        span = self._one(f"SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM {logs} WHERE {where}", params)
        if span[0] is None or buckets <= 0:
            return None
        first, last = span
        start, end = (max(first, window[0]), min(last, window[1])) if window else span
        if start > end:
            start, end = window  # type: ignore[misc]  # nothing there: an empty chart of the window
        bucket_us = max(1_000_000, -(-(end - start + 1) // buckets))
        if window:
            where = f"({where}) AND ts BETWEEN {_TS} AND {_TS}"
            params = [*params, start, start + bucket_us * buckets - 1]
        rows = self._all(
            f"SELECT (epoch_us(ts) - ?) // ? AS bucket, level, count(*) FROM {logs} WHERE {where}"
            " GROUP BY ALL",
            [start, bucket_us, *params],
        )
        used = buckets if window else max((row[0] for row in rows), default=0) + 1
        counts: dict[str | None, list[int]] = {None: [0] * used} if window else {}
        for bucket, level, count in rows:
            counts.setdefault(level, [0] * used)[bucket] = count
        return Histogram(start, bucket_us, counts, first, last)

    def cells_after(self, after_id: int) -> tuple[dict[tuple[str, str | None], int], int, int]:
        """Records per (source, level) with id > after_id, the newest id among them (0 if none),
        and how many records have id <= after_id: one query, so one snapshot. The last is all
        records less the new ones: DuckDB counts a whole table from its row groups' sizes, where
        `count(*) WHERE id <= ?` reads every id (5 M records: ~3.5 -> ~1 ms)."""
        rows = self._all(
            "SELECT source, level, count(*), max(id) FROM logs WHERE id > ? GROUP BY ALL"
            " UNION ALL SELECT NULL, NULL, count(*), NULL FROM logs",
            [after_id],
        )
        cells = {(source, level): count for source, level, count, _ in rows if source is not None}
        newest = max((newest for source, _, _, newest in rows if source is not None), default=0)
        everything = next(count for source, _, count, _ in rows if source is None)
        return cells, newest, everything - sum(cells.values())

    def checkpoint_offsets(self) -> dict[tuple[int, int], int]:
        """How far each file has been read, over every run: offsets by (device, inode)."""
        try:
            rows = self._all('SELECT dev, inode, "offset" FROM checkpoints')
        except duckdb.CatalogException:
            return {}
        return {(dev, inode): offset for dev, inode, offset in rows}

    # --- alerts ---------------------------------------------------------------------------

    def alert_columns(self) -> list[str]:
        """The alerts table's columns ([] while there is none); looked up until found, then kept for
        every reader of the connection (the catalog query costs up to a few hundred ms under load,
        and the once-a-second poll reads with a new reader each time)."""
        columns = self._found.get("alerts")
        if not columns:
            columns = [
                row[0]
                for row in self._all(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'alerts'"
                    " ORDER BY ordinal_position"
                )
            ]
            if columns:
                self._found["alerts"] = columns
        return columns

    def alerts(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest alerts as dicts of their columns; [] when there is no alerts table."""
        columns = self.alert_columns()
        if not columns:
            return []
        order = next((c for c in ORDER_COLUMNS if c in columns), columns[0])
        then = ", id DESC" if "id" in columns and order != "id" else ""
        result = self.cursor.execute(f"SELECT * FROM alerts ORDER BY {order} DESC{then} LIMIT ?", [limit])
        names = [c[0] for c in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    # --- the SQL screen -------------------------------------------------------------------

    def sql_names(self) -> tuple[list[str], list[str]]:
        """The tables and views of the database, and their columns, each sorted by name."""
        tables = self._all(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND schema_name = 'main'"
            " UNION SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
            " ORDER BY 1"
        )
        columns = self._all(
            "SELECT DISTINCT column_name FROM duckdb_columns() WHERE NOT internal"
            " AND schema_name = 'main' ORDER BY 1"
        )
        return [row[0] for row in tables], [row[0] for row in columns]

    def run_sql(self, sql: str, limit: int) -> tuple[list[str], list[tuple], bool]:
        """Columns, up to `limit` rows, and whether there were more."""
        result = self.cursor.execute(sql)
        if result.description is None:
            return [], [], False
        columns = [c[0] for c in result.description]
        rows = result.fetchmany(limit + 1)
        return columns, rows[:limit], len(rows) > limit
