"""`sql` rules: a query over recent stored records, run every `interval` of event time.

The query runs in the sandbox against `logs`: a snapshot of the store's records with
ts in (T - lookback, T], handed over as an Arrow table; it cannot reach the database file. A
query that names `stats` (the tool's own health) also gets that table's rows of the last
`lookback` of wall-clock time.
Each returned row is an alert; its group is the `group_by` columns (default: every column).
"""

from __future__ import annotations

import re
from numbers import Number
from typing import Any

import duckdb
import pyarrow as pa

from logscope.alerting.lifecycle import IntervalRule, Outbox, Tracker
from logscope.alerting.model import Rule
from logscope.alerting.sandbox import (
    CHECK_SECONDS,
    RuleSqlError,
    check_select,
    limited,
    one_line,
    open_sandbox,
    query_size_problems,
)
from logscope.alerting.template import SUMMARY_KEYS, template_names
from logscope.store.database import connect
from logscope.store.schema import STATS_DDL
from logscope.store.writer import LOGS_SCHEMA

SNAPSHOT_SQL = (
    "SELECT * FROM logs WHERE ts > make_timestamptz(?::BIGINT) AND ts <= make_timestamptz(?::BIGINT)"
)


def _stats_schema() -> pa.Schema:
    """The `stats` table's columns, as Arrow (from its DDL, in a scratch in-memory database)."""
    scratch = connect()
    try:
        scratch.execute(STATS_DDL)
        return scratch.sql("SELECT * FROM stats LIMIT 0").to_arrow_table().schema
    finally:
        scratch.close()


STATS = _stats_schema()
_USES_STATS = re.compile(r"\bstats\b", re.IGNORECASE)
STATS_SNAPSHOT_SQL = "SELECT * FROM stats WHERE ts > now() - to_microseconds(?::BIGINT)"


def uses_stats(rule: Rule) -> bool:
    """Whether the query names the `stats` table (the tool's own health, docs/schema.md)."""
    return bool(_USES_STATS.search(rule.query))


def result_columns(rule: Rule, con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """Check a sql rule's query against an empty `logs` (and `stats`); its column names.

    Raises RuleSqlError.
    """
    check_select(rule.query)
    con = con or open_sandbox()
    for problem in query_size_problems(con, rule.query):
        raise RuleSqlError(problem)
    con.register("logs", LOGS_SCHEMA.empty_table())
    con.register("stats", STATS.empty_table())
    try:
        with limited(con, CHECK_SECONDS):
            result = con.execute(f"SELECT * FROM ({rule.query}) LIMIT 0")
            columns = [column[0] for column in result.description]
            kinds = {column[0]: str(column[1]).upper() for column in result.description}
    except duckdb.Error as exc:
        raise RuleSqlError(one_line(exc)) from None
    finally:
        con.unregister("logs")
        con.unregister("stats")
    for name in ("count", "value"):
        if name in kinds and not _numeric(kinds[name]):
            raise RuleSqlError(f"column {name!r} must be a number, but its type is {kinds[name]}")
    for name in rule.group_by:
        if name not in columns:
            raise RuleSqlError(f"group_by: {name!r} is not a column of the query ({', '.join(columns)})")
    allowed = SUMMARY_KEYS | set(columns) | set(rule.labels)
    for name in template_names(rule.summary):
        if name not in allowed:
            raise RuleSqlError(f"summary: unknown placeholder {{{name}}} (columns: {', '.join(columns)})")
    return columns


class SqlRule(IntervalRule):
    """Runs one sql rule at each multiple of its interval the event clock passes."""

    def __init__(self, rule: Rule, outbox: Outbox) -> None:
        super().__init__(rule, outbox)
        self.con = open_sandbox()
        self.columns = result_columns(rule, self.con)

    def run_at(self, at: int, store: duckdb.DuckDBPyConnection | None) -> None:
        stats = self._stats(store) if uses_stats(self.rule) else STATS.empty_table()
        rows = self._query(self._snapshot(at, store), stats)
        names = self.rule.group_by or self.columns
        returned: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            key = tuple(None if row[name] is None else str(row[name]) for name in names)
            returned[key] = row
        for key, row in returned.items():
            tracker = self.trackers.get(key)
            if tracker is None:
                tracker = self.trackers[key] = Tracker(self.rule, key, self.outbox)
            values = {**row, "count": row.get("count", 1), "value": _number(row.get("value"))}
            tracker.observe(at, True, values)
        for key in [key for key in self.trackers if key not in returned]:
            tracker = self.trackers[key]
            tracker.observe(at, False, {})
            if not tracker.busy:
                del self.trackers[key]

    def _snapshot(self, at: int, store: duckdb.DuckDBPyConnection | None) -> pa.Table:
        if store is None:
            return LOGS_SCHEMA.empty_table()
        table = store.sql(SNAPSHOT_SQL, params=[at - self.rule.lookback, at]).to_arrow_table()
        return table.cast(
            pa.schema([(f.name, pa.string()) if f.name == "fields" else f for f in table.schema])
        )

    def _stats(self, store: duckdb.DuckDBPyConnection | None) -> pa.Table:
        """The `stats` rows of the last `lookback` of wall-clock time (they are written on it)."""
        if store is None:
            return STATS.empty_table()
        return store.sql(STATS_SNAPSHOT_SQL, params=[self.rule.lookback]).to_arrow_table()

    def _query(self, logs: pa.Table, stats: pa.Table) -> list[dict[str, Any]]:
        con = self.con
        con.register("logs", logs)
        con.register("stats", stats)
        try:
            with limited(con):
                result = con.execute(self.rule.query)
                columns = [column[0] for column in result.description]
                rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        except duckdb.Error as exc:
            raise RuleSqlError(one_line(exc)) from None
        finally:
            con.unregister("logs")
            con.unregister("stats")
        for row in rows:  # (checked, but a query's types can depend on what it reads)
            count = row.get("count")
            if count is not None and (not isinstance(count, Number) or isinstance(count, bool)):
                raise RuleSqlError(f"column 'count' must be a number, got {count!r}")
        return rows


_NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*|NULL)$")


def _numeric(kind: str) -> bool:
    return bool(_NUMERIC.match(kind))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
