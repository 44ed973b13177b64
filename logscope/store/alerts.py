"""The `alerts` table: the latest state of every alert the rule engine raised (one row each)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb
import orjson
import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")

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

_UPSERT = """
INSERT OR REPLACE INTO alerts
SELECT id, rule, kind, severity, state, group_key, labels::JSON, first_at, fired_at, last_at,
       resolved_at, updated_at, count, value, summary, example_ids, notifications
FROM _logscope_alerts
"""

_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("rule", pa.string()),
        ("kind", pa.string()),
        ("severity", pa.string()),
        ("state", pa.string()),
        ("group_key", pa.string()),
        ("labels", pa.string()),
        ("first_at", TIMESTAMP),
        ("fired_at", TIMESTAMP),
        ("last_at", TIMESTAMP),
        ("resolved_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
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
    """Upsert alert rows (dicts with the table's columns, times in µs); delete `deleted` ids."""
    rows = list(rows)
    deleted = list(deleted)
    if not rows and not deleted:
        return
    con.begin()
    try:
        if deleted:
            con.execute("DELETE FROM alerts WHERE id IN (SELECT unnest(?::BIGINT[]))", [deleted])
        if rows:
            table = pa.Table.from_pylist(
                [{**row, "labels": orjson.dumps(row["labels"], default=str).decode()} for row in rows],
                schema=_SCHEMA,
            )
            con.register("_logscope_alerts", table)
            con.execute(_UPSERT)
            con.unregister("_logscope_alerts")
        con.commit()
    except BaseException:
        con.rollback()
        raise
