"""Retention by age and by size, in the background and by `logscope vacuum`; space is reused."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import assert_clean_error, query_db, run_cli
from server_helpers import LiveIngest, count, json_line, wait_until

from logscope.errors import LogscopeError
from logscope.store.retention import parse_duration, parse_size

RULES = """
[[rule]]
name = "errors"
kind = "match"
description = "Every error line."
severity = "warning"
where = "level = 'error'"
window = "1m"
summary = "{count} errors"
"""


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ago(**delta: float) -> str:
    return iso(dt.datetime.now(dt.UTC) - dt.timedelta(**delta))


def test_durations_and_sizes() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("1d12h") == 36 * 3600
    assert parse_duration("90s") == 90 and parse_duration("2w") == 14 * 86400
    assert parse_size("2GB") == 2_000_000_000 and parse_size("500MiB") == 500 * 1024**2
    assert parse_size("1.5k") == 1500 and parse_size("4096") == 4096
    # As DuckDB shows a size setting (store/bulk.py reads `wal_autocheckpoint` so).
    assert parse_size("16.0 MiB") == 16 * 1024**2 and parse_size("0 bytes") == 0
    for bad in ("7", "d7", "7x", "1d 2"):
        with pytest.raises(LogscopeError):
            parse_duration(bad)
    for bad in ("2XB", "GB", "1.2.3MB", "iB"):
        with pytest.raises(LogscopeError):
            parse_size(bad)


def test_vacuum_by_age_deletes_old_records_and_their_alerts(tmp_path: Path, db: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    log = tmp_path / "app.jsonl"
    log.write_text(
        json_line(ago(days=10), "ancient error", level="error")
        + json_line(ago(days=10, seconds=-1), "ancient")
        + json_line(ago(days=5), "old")
        + json_line(ago(hours=1), "recent error", level="error")
        + json_line(ago(minutes=1), "recent")
    )
    ingest = run_cli("ingest", str(log), "--db", str(db), "--rules", str(rules), "--no-default-rules")
    assert ingest.returncode == 0, ingest.stderr
    alerts_before = query_db(db, "SELECT summary FROM alerts ORDER BY last_at")
    assert len(alerts_before) == 2
    result = run_cli("vacuum", "--db", str(db), "--retain", "3d")
    assert result.returncode == 0, result.stderr
    assert "deleted 3 records, 1 alert," in result.stdout
    assert [row[0] for row in query_db(db, "SELECT message FROM logs ORDER BY ts")] == [
        "recent error",
        "recent",
    ]
    assert query_db(db, "SELECT count(*) FROM alerts WHERE last_at < now() - INTERVAL 3 DAY") == [(0,)]
    assert query_db(db, "SELECT count(*) FROM alerts") == [(1,)]


@pytest.mark.slow
def test_retention_runs_in_the_background_while_lines_keep_arriving(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    new_written = 0
    with LiveIngest(db, log, "--retain", "1d", "--retention-interval", "0.3") as live:
        stop = threading.Event()

        def produce() -> None:
            nonlocal new_written
            while not stop.is_set():
                live.append(json_line(ago(days=3), "stale") * 10 + json_line(ago(seconds=1), "fresh") * 10)
                new_written += 10
                time.sleep(0.05)

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            deleted = wait_until(
                lambda: (last := run_status(db)["retention"]["last_pass"]) and last["deleted_logs"] and last
            )
            assert deleted["deleted_logs"] > 0
        finally:
            stop.set()
            producer.join()
        # Ingestion went on meanwhile: every fresh line is stored, and the stale ones go.
        wait_until(lambda: count(db, "message = 'fresh'") == new_written)
        wait_until(lambda: count(db, "message = 'stale'") == 0)
        live.stop()
    assert count(db, "message = 'fresh'") == new_written
    assert count(db, "message = 'stale'") == 0


def run_status(db: Path) -> dict:
    result = run_cli("status", "--db", str(db), "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fill(db: Path, rows: int, first_id: int, start: dt.datetime) -> None:
    """Add `rows` records (one a second from `start`) with incompressible messages."""
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "INSERT INTO logs SELECT range + ?, ?::TIMESTAMPTZ + to_seconds(range), now(), 'gen', NULL,"
            " 'json', 'info', md5(range::VARCHAR || ?), NULL, md5(range::VARCHAR) FROM range(?)",
            [first_id, start, str(first_id), rows],
        )
    finally:
        con.close()


def facts(db: Path) -> dict:
    return run_status(db)


@pytest.mark.slow
def test_size_limit_deletes_the_oldest_and_space_is_reused(tmp_path: Path, db: Path) -> None:
    assert run_cli("ingest", "--db", str(db), "-q", "-", input='{"msg": "first"}\n').returncode == 0
    fill(db, 300_000, 10, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # a few of DuckDB's row groups
    before = facts(db)
    limit = before["used_bytes"] // 2
    result = run_cli("vacuum", "--db", str(db), "--max-db-size", str(limit))
    assert result.returncode == 0, result.stderr
    after = facts(db)
    # DuckDB frees space a row group (122,880 rows) at a time: within one of the limit, and
    # whole row groups went back to the free list.
    slack = before["used_bytes"] * 122_880 // before["records"]
    assert after["used_bytes"] <= limit + slack, (before, after)
    assert after["used_bytes"] < 0.75 * before["used_bytes"], (before, after)
    assert 0 < after["records"] < before["records"]
    assert after["last_ts"] == before["last_ts"], "the newest records are kept"
    kept_from = query_db(db, "SELECT min(ts) FROM logs")[0][0]
    assert query_db(db, "SELECT count(*) FROM logs WHERE ts < ?", [kept_from]) == [(0,)]
    # Keep adding under the same limit: freed blocks are reused, so the file settles.
    sizes = []
    for round_ in range(4):
        start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(days=10 * round_)
        fill(db, 150_000, 1_000_000 * (round_ + 1), start)
        assert run_cli("vacuum", "--db", str(db), "--max-db-size", str(limit)).returncode == 0
        state = facts(db)
        assert state["used_bytes"] <= limit + slack
        sizes.append(state["file_bytes"])
    # 600,000 more records (twice the first 300,000) went through a file that did not grow.
    assert max(sizes[2:]) <= max(before["file_bytes"], *sizes[:2]), sizes
    assert sizes[-1] < 1.3 * before["file_bytes"], sizes
    # Compaction rewrites the file: now the file itself is as small as what it holds.
    compacted = run_cli("vacuum", "--db", str(db), "--compact")
    assert compacted.returncode == 0, compacted.stderr
    final = facts(db)
    assert final["records"] == state["records"]
    assert final["file_bytes"] <= state["used_bytes"] + 1024 * 1024 < sizes[-1]


def test_ingest_with_a_size_limit_ends_within_it(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "big.jsonl"
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with log.open("w") as handle:
        for n in range(20_000):
            handle.write(json_line(iso(start + dt.timedelta(seconds=n)), f"{n:08d}" * 8))
    result = run_cli("ingest", str(log), "--db", str(db), "-q", "--max-db-size", "400kB")
    assert result.returncode == 0, result.stderr
    kept, newest = query_db(db, "SELECT count(*), max(ts) FROM logs")[0]
    assert 0 < kept < 20_000
    assert newest == start + dt.timedelta(seconds=19_999)


@pytest.mark.slow
def test_vacuum_through_the_holder_and_compaction_needs_the_file(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(json_line(ago(days=9), "old") + json_line(ago(minutes=5), "new"))
    with LiveIngest(db, log) as live:
        wait_until(lambda: count(db) == 2)
        result = run_cli("vacuum", "--db", str(db), "--retain", "2d")
        assert result.returncode == 0, result.stderr
        assert f"(by PID {live.process.pid})" in result.stdout and "deleted 1 record," in result.stdout
        assert count(db) == 1
        refused = run_cli("vacuum", "--db", str(db), "--compact")
        assert_clean_error(refused, 1)
        assert f"PID {live.process.pid} holds the database" in refused.stderr
        live.stop()
    assert count(db) == 1
