"""`logscope lake init|status|compact|expire`: the lake's tables, its agents, its files."""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb

from logscope.lake.connect import LAKE

AGENTS_SQL = f"""
WITH shipped AS (
    SELECT agent, arg_max(agent_host, committed_at) AS agent_host, sum(records) AS records,
           max(committed_at) AS last_commit,
           arg_max(epoch(committed_at) - epoch(oldest_received_at), committed_at) AS lag_s
    FROM {LAKE}.shipments GROUP BY agent
), snapshots AS (
    SELECT author AS agent, max(snapshot_id) AS snapshot FROM ducklake_snapshots('{LAKE}')
    WHERE author IS NOT NULL GROUP BY author
)
SELECT shipped.agent, agent_host, records, last_commit,
       round(epoch(now()) - epoch(last_commit), 1) AS since_s, round(lag_s, 2) AS lag_s, snapshot
FROM shipped LEFT JOIN snapshots USING (agent) ORDER BY shipped.agent
"""
AGENT_COLUMNS = ("agent", "agent_host", "records", "last_commit", "since_s", "lag_s", "snapshot")


@dataclass
class LakeTotals:
    records: int
    data_files: int
    snapshot: int


def totals(con: duckdb.DuckDBPyConnection) -> LakeTotals:
    records = con.execute(f"SELECT count(*) FROM {LAKE}.logs").fetchone()[0]
    return LakeTotals(records, data_files(con), current_snapshot(con))


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()[0]


def data_files(con: duckdb.DuckDBPyConnection, table: str = "logs") -> int:
    """Parquet files the current snapshot of `table` reads."""
    return con.execute(f"SELECT count(*) FROM ducklake_list_files('{LAKE}', '{table}')").fetchone()[0]


def agents(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Each agent: host, records shipped, last commit, seconds since, its lag then, last snapshot."""
    return con.execute(AGENTS_SQL).fetchall()


def compact(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Write inlined rows out to files and merge small adjacent files; (files before, after)."""
    before = data_files(con)
    con.execute(f"CALL ducklake_flush_inlined_data('{LAKE}')")
    con.execute(f"CALL ducklake_merge_adjacent_files('{LAKE}')")
    return before, data_files(con)


@dataclass
class ExpireReport:
    deleted_records: int = 0
    expired_snapshots: int = 0
    removed_files: int = 0


def expire(con: duckdb.DuckDBPyConnection, retain_s: float | None, snapshots_s: float) -> ExpireReport:
    """Delete records older than `retain_s` (event time), forget snapshots older than
    `snapshots_s` (time travel reaches no further back) and delete the files no snapshot reads."""
    report = ExpireReport()
    now = time.time()
    if retain_s is not None:
        row = con.execute(f"DELETE FROM {LAKE}.logs WHERE ts < to_timestamp(?)", [now - retain_s]).fetchone()
        report.deleted_records = row[0] if row else 0
    expired = con.execute(
        f"CALL ducklake_expire_snapshots('{LAKE}', older_than => to_timestamp(?))", [now - snapshots_s]
    ).fetchall()
    report.expired_snapshots = len(expired)
    removed = con.execute(f"CALL ducklake_cleanup_old_files('{LAKE}', cleanup_all => true)").fetchall()
    report.removed_files = len(removed)
    return report
