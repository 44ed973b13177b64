"""The `alerts` table: the latest state of every alert the rule engine raised (one row each)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from logscope.store.replace import replace_rows

if TYPE_CHECKING:
    import pyarrow as pa

ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS alerts (
    id            BIGINT PRIMARY KEY,
    rule          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL,
    state         VARCHAR NOT NULL,
    group_key     VARCHAR NOT NULL,
    labels        JSON,
    first_at      TIMESTAMPTZ NOT NULL,
    fired_at      TIMESTAMPTZ,
    last_at       TIMESTAMPTZ NOT NULL,
    resolved_at   TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL,
    count         BIGINT NOT NULL,
    value         DOUBLE,
    summary       VARCHAR NOT NULL,
    example_ids   BIGINT[] NOT NULL,
    notifications INTEGER NOT NULL
)
"""

# The registered rows' columns in the table's order (replaced by id: store/replace.py).
_COLUMNS = (
    "id, rule, kind, severity, state, group_key, labels::JSON, first_at, fired_at, last_at,"
    " resolved_at, updated_at, count, value, summary, example_ids, notifications"
)


@functools.cache
def _schema() -> pa.Schema:
    """The table's columns as Arrow types (pyarrow is imported once alerts are written: the
    store's schema is opened before, for tail's first screen)."""
    import pyarrow as pa

    timestamp = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("id", pa.int64()),
            ("rule", pa.string()),
            ("kind", pa.string()),
            ("severity", pa.string()),
            ("state", pa.string()),
            ("group_key", pa.string()),
            ("labels", pa.string()),
            ("first_at", timestamp),
            ("fired_at", timestamp),
            ("last_at", timestamp),
            ("resolved_at", timestamp),
            ("updated_at", timestamp),
            ("count", pa.int64()),
            ("value", pa.float64()),
            ("summary", pa.string()),
            ("example_ids", pa.list_(pa.int64())),
            ("notifications", pa.int32()),
        ]
    )


def next_alert_id(con: duckdb.DuckDBPyConnection) -> int:
    """The id after the highest stored one (1 for an empty table)."""
    con.execute(ALERTS_DDL)
    return con.execute("SELECT coalesce(max(id), 0) + 1 FROM alerts").fetchall()[0][0]


def write_alerts(con: duckdb.DuckDBPyConnection, rows: Iterable[dict[str, Any]], deleted: Iterable[int] = ()):
    """Write alert rows (dicts with the table's columns, times in µs) in place of those with their ids;
    delete `deleted` ids."""
    rows = list(rows)
    deleted = list(deleted)
    if not rows and not deleted:
        return
    con.begin()
    try:
        if deleted:
            con.execute("DELETE FROM alerts WHERE id IN (SELECT unnest(?::BIGINT[]))", [deleted])
        if rows:
            import pyarrow as pa

            table = pa.Table.from_pylist(
                [{**row, "labels": orjson.dumps(row["labels"], default=str).decode()} for row in rows],
                schema=_schema(),
            )
            con.register("_logscope_alerts", table)
            replace_rows(con, "alerts", "_logscope_alerts", columns=_COLUMNS)
            con.unregister("_logscope_alerts")
        con.commit()
    except BaseException:
        con.rollback()
        raise
