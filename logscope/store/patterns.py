"""The pattern tables: `patterns` (one row per pattern, the miner's state included) and
`record_patterns` (each record's pattern), with the `logs_with_pattern` view (docs/schema.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

from logscope.store.replace import replace_meta, replace_rows
from logscope.store.sql_text import string_literal, time_literal

PATTERNS_DDL = """
CREATE TABLE IF NOT EXISTS patterns (
    id          BIGINT PRIMARY KEY,
    template    VARCHAR NOT NULL,
    first_seen  TIMESTAMPTZ,
    last_seen   TIMESTAMPTZ,
    count       BIGINT NOT NULL,
    example     VARCHAR,
    example_id  BIGINT,
    merged_into BIGINT,
    shapes      VARCHAR[] NOT NULL
)
"""

RECORD_PATTERNS_DDL = """
CREATE TABLE IF NOT EXISTS record_patterns (
    id         BIGINT NOT NULL,
    pattern_id BIGINT NOT NULL
)
"""

# Each record with the pattern it is part of now (a record mined into a pattern that was merged
# later gets the pattern it was merged into).
LOGS_WITH_PATTERN_DDL = """
CREATE OR REPLACE VIEW logs_with_pattern AS
SELECT logs.*, coalesce(patterns.merged_into, patterns.id) AS pattern_id
FROM logs
JOIN record_patterns USING (id)
JOIN patterns ON patterns.id = record_patterns.pattern_id
"""

ALL_PATTERN_DDL = (PATTERNS_DDL, RECORD_PATTERNS_DDL, LOGS_WITH_PATTERN_DDL)

MINED_TO_KEY = "patterns_mined_to"  # in `meta`: the last `logs.id` mined


@dataclass
class PatternRow:
    """One row of `patterns`; times in microseconds since the epoch."""

    id: int
    template: str
    first_seen: int | None
    last_seen: int | None
    count: int
    example: str | None
    example_id: int | None
    merged_into: int | None
    shapes: list[str]


def load_patterns(con: duckdb.DuckDBPyConnection) -> list[PatternRow]:
    """Every stored pattern, by id."""
    rows = con.execute(
        "SELECT id, template, epoch_us(first_seen), epoch_us(last_seen), count, example, example_id,"
        " merged_into, shapes FROM patterns ORDER BY id"
    ).fetchall()
    return [PatternRow(*row) for row in rows]


def mined_to(con: duckdb.DuckDBPyConnection) -> int:
    """The last record id mined (0 when none is)."""
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [MINED_TO_KEY]).fetchall()
    return int(rows[0][0]) if rows else 0


def new_records(con: duckdb.DuckDBPyConnection, after: int, upto: int) -> pa.Table:
    """`id`, `ts` and `message` of the records with after < id <= upto, by id."""
    sql = f"SELECT id, ts, message FROM logs WHERE id > {int(after)} AND id <= {int(upto)} ORDER BY id"
    return con.sql(sql).to_arrow_table()


def last_record_id(con: duckdb.DuckDBPyConnection, after: int) -> int:
    """The highest record id above `after` (or `after` when there is none)."""
    rows = con.execute("SELECT max(id) FROM logs WHERE id > ?", [after]).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else after


def block_summary(con: duckdb.DuckDBPyConnection, block: pa.Table) -> list[tuple]:
    """Per pattern of a mined block (`id`, `ts`, `message`, `pattern_id`): (pattern_id, first and
    last event time in µs, records, first record's id, its message)."""
    con.register("_logscope_mined", block)
    try:
        return con.execute(
            "SELECT pattern_id, epoch_us(min(ts)), epoch_us(max(ts)), count(*), min(id),"
            " arg_min(message, id) FROM _logscope_mined GROUP BY pattern_id ORDER BY pattern_id"
        ).fetchall()
    finally:
        con.unregister("_logscope_mined")


def write_mined(
    con: duckdb.DuckDBPyConnection, block: pa.Table, changed: Iterable[PatternRow], upto: int
) -> None:
    """Store a mined block in one transaction: its records' patterns (`id`, `pattern_id`), the
    patterns it changed, and how far mining has got."""
    rows = list(changed)
    con.begin()
    try:
        if block.num_rows:
            con.register("_logscope_mined", block)
            con.execute("INSERT INTO record_patterns SELECT id, pattern_id FROM _logscope_mined")
            con.unregister("_logscope_mined")
        if rows:  # no UPDATE: it would hold off the import's checkpoints (store/replace.py)
            con.register("_logscope_patterns", _patterns_table(rows))
            replace_rows(con, "patterns", "_logscope_patterns")
            con.unregister("_logscope_patterns")
        replace_meta(con, MINED_TO_KEY, str(upto))
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _patterns_table(rows: list[PatternRow]) -> pa.Table:
    import pyarrow as pa  # (the store's schema is opened before pyarrow is needed: tail's first screen)

    timestamp = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("template", pa.string()),
            ("first_seen", timestamp),
            ("last_seen", timestamp),
            ("count", pa.int64()),
            ("example", pa.string()),
            ("example_id", pa.int64()),
            ("merged_into", pa.int64()),
            ("shapes", pa.list_(pa.string())),
        ]
    )
    return pa.Table.from_pylist([row.__dict__ for row in rows], schema)


@dataclass
class PatternQuery:
    """What `logscope patterns` lists: records in [since, until) of sources matching `source`
    (a glob) at `levels`; patterns first seen at or after `new_since`; `buckets` for the trend."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    source: str | None = None
    levels: tuple[str, ...] | None = None
    new_since: dt.datetime | None = None
    limit: int = 50
    buckets: int = 20


def listing_sql(query: PatternQuery) -> str:
    """One statement (it may run over the query service, so values are literals): per pattern,
    its count among the chosen records, the counts per time bucket, and its row's facts."""
    where = ["TRUE"]
    if query.since is not None:
        where.append(f"logs.ts >= {time_literal(query.since)}")
    if query.until is not None:
        where.append(f"logs.ts < {time_literal(query.until)}")
    if query.source is not None:
        where.append(f"logs.source GLOB {string_literal(query.source)}")
    if query.levels is not None:
        where.append(f"logs.level IN ({', '.join(string_literal(level) for level in query.levels)})")
    lo = time_literal(query.since) if query.since is not None else "(SELECT min(ts) FROM chosen)"
    hi = time_literal(query.until) if query.until is not None else "(SELECT max(ts) FROM chosen)"
    new = f"WHERE p.first_seen >= {time_literal(query.new_since)}" if query.new_since else ""
    buckets = int(query.buckets)
    return f"""
WITH chosen AS (
    SELECT coalesce(patterns.merged_into, patterns.id) AS pattern, logs.ts
    FROM logs
    JOIN record_patterns USING (id)
    JOIN patterns ON patterns.id = record_patterns.pattern_id
    WHERE {" AND ".join(where)}
),
span AS (SELECT epoch_us({lo}) AS lo, greatest(epoch_us({hi}) - epoch_us({lo}), 1) AS width),
per_bucket AS (
    SELECT pattern,
           least(greatest((epoch_us(ts) - lo) * {buckets} // width, 0), {buckets - 1}) AS bucket,
           count(*) AS n
    FROM chosen, span
    GROUP BY ALL
),
per_pattern AS (
    SELECT pattern, sum(n)::BIGINT AS n, list(struct_pack(bucket, n)) AS trend
    FROM per_bucket GROUP BY pattern
)
SELECT p.id, c.n, c.trend, p.first_seen, p.last_seen, p.template, p.example
FROM per_pattern c JOIN patterns p ON p.id = c.pattern
{new}
ORDER BY c.n DESC, p.id
LIMIT {int(query.limit)}
"""


UNMINED_SQL = f"""
SELECT count(*) FROM logs
WHERE id > coalesce((SELECT value::BIGINT FROM meta WHERE key = '{MINED_TO_KEY}'), 0)
"""
