"""`logscope export`: Parquet, hive-partitioned by date, that reads back as the same rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from conftest import assert_clean_error, query_db, run_cli
from server_helpers import LiveIngest, count, json_line, wait_until

from logscope.store.export import parse_time_bound

LINES = (
    json_line("2026-03-01T23:59:59Z", "last of March 1st", level="warning")
    + '{"ts":"2026-03-02T00:00:00Z","level":"error","msg":"nested",'
    + '"user":{"id":7,"tags":["a","b"]},"ms":12.5}\n'
    + "a line no format knows, kept raw\n"
    + json_line("2026-03-03T12:00:00+02:00", "offset time")
    + 'level=info msg="logfmt line" ts=2026-03-02T08:00:00Z status=200\n'
)


@pytest.fixture
def filled(tmp_path: Path, db: Path) -> Path:
    log = tmp_path / "app.log"
    log.write_text(LINES)
    result = run_cli("ingest", str(log), "--db", str(db), "-q")
    assert result.returncode == 0, result.stderr
    return db


def read_back(target: Path) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.execute(
        f"SELECT * EXCLUDE (date) FROM read_parquet('{target}/**/*.parquet', hive_partitioning = true)"
        " ORDER BY id"
    ).fetchall()


def test_round_trip(filled: Path, tmp_path: Path) -> None:
    target = tmp_path / "export"
    result = run_cli("export", "--db", str(filled), "--to", str(target))
    assert result.returncode == 0, result.stderr
    assert "exported 5 records" in result.stdout
    assert read_back(target) == query_db(filled, "SELECT * FROM logs ORDER BY id")
    partitions = sorted(path.name for path in target.iterdir())
    today = dt.datetime.now(dt.UTC).date().isoformat()  # the raw line's event time is when it was read
    assert partitions == sorted({"date=2026-03-01", "date=2026-03-02", "date=2026-03-03", f"date={today}"})
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    days = con.execute(
        f"SELECT date, count(*) FROM read_parquet('{target}/**/*.parquet', hive_partitioning = true)"
        " WHERE date = DATE '2026-03-02' GROUP BY ALL"
    ).fetchall()
    assert days == [(dt.date(2026, 3, 2), 2)]  # partitions are by UTC date


@pytest.mark.slow
def test_since_until_and_existing_directories(filled: Path, tmp_path: Path) -> None:
    target = tmp_path / "march2"
    result = run_cli(
        "export", "--db", str(filled), "--to", str(target), "--since", "2026-03-02", "--until", "2026-03-03"
    )
    assert result.returncode == 0, result.stderr
    assert [row[7] for row in read_back(target)] == ["nested", "logfmt line"]
    again = run_cli("export", "--db", str(filled), "--to", str(target), "--since", "2026-03-01")
    assert_clean_error(again, 1)
    assert "not empty" in again.stderr
    appended = run_cli(
        "export", "--db", str(filled), "--to", str(target), "--append", "--since", "2026-03-03T00:00:00Z"
    )
    assert appended.returncode == 0, appended.stderr
    assert len(read_back(target)) == 2 + 2
    bad = run_cli("export", "--db", str(filled), "--to", str(tmp_path / "x"), "--since", "yesterday")
    assert_clean_error(bad, 2)
    assert "'yesterday': not a time" in bad.stderr


def test_time_bounds() -> None:
    now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
    assert parse_time_bound("2h", now) == dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
    assert parse_time_bound("2026-03-01", now) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert parse_time_bound("2026-03-01T10:00:00+02:00", now) == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)


@pytest.mark.slow
def test_export_while_another_process_holds_the_database(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(LINES)
    with LiveIngest(db, log) as live:
        wait_until(lambda: count(db) == 5)
        target = tmp_path / "live"
        result = run_cli("export", "--db", str(db), "--to", str(target))
        assert result.returncode == 0, result.stderr
        assert "exported 5 records" in result.stdout
        live.stop()
    assert read_back(target) == query_db(db, "SELECT * FROM logs ORDER BY id")
