"""`logscope status` and the `stats` table: the tool's own health, live and after the run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_clean_error, query_db, run_cli
from server_helpers import LiveIngest, count, json_line, wait_until

RULES = """
[[rule]]
name = "test_errors"
kind = "match"
description = "Every error line."
severity = "critical"
where = "level = 'error'"
window = "10m"
summary = "{count} errors in {window}"
"""


def status(db: Path) -> dict:
    result = run_cli("status", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_status_while_running_and_after(tmp_path: Path, db: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    log = tmp_path / "app.jsonl"
    lines = [json_line("2026-01-01T00:00:00Z", f"ok {n}") for n in range(30)]
    lines += ["this line is no format at all\n"] * 4
    # Raw lines take their receive time as event time: the error comes after them, so it fires.
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    lines += [json_line(now, "boom", level="error")]
    log.write_text("".join(lines))
    with LiveIngest(db, log, "--rules", str(rules), "--no-default-rules") as live:
        wait_until(lambda: count(db) == 35)
        live_status = wait_until(
            lambda: (s := status(db)) and by_source(s).get(str(log), {}).get("lines") == 35 and s
        )
        assert live_status["held"] is True and live_status["serving"] is True
        assert live_status["pid"] == live.process.pid
        assert live_status["records"] == 35
        assert set(by_source(live_status)) == {str(log)}  # the file, not the follower ("files")
        source = by_source(live_status)[str(log)]
        assert source["parse_failures"] == 4 and source["drops"] == 0 and not source["done"]
        assert source["bytes"] == log.stat().st_size
        assert 0 <= source["lag_s"] < 30 and source["lines_per_s"] >= 0
        assert live_status["rules"] == {"loaded": 1, "disabled": 0}
        firing = wait_until(lambda: status(db)["alerts"]["by_state"].get("firing"))
        assert firing == 1
        text = run_cli("status", "--db", str(db))
        assert f"held by:  PID {live.process.pid}" in text.stdout
        assert "test_errors" in text.stdout and "firing 1" in text.stdout
        # The stats table is written periodically by the running process.
        rows = wait_until(lambda: len(query_db_live(db)) >= 2 and query_db_live(db))
        assert all(row[1] == live.process.pid for row in rows)
        live.stop()
    after = status(db)
    assert after["held"] is False and after["pid"] is None
    source = by_source(after)[str(log)]
    assert source["lines"] == 35 and source["parse_failures"] == 4  # the final figures, kept
    assert after["alerts"]["total"] >= 1
    stats_rows = query_db(db, "SELECT ts, lines FROM stats WHERE source = ? ORDER BY ts", [str(log)])
    assert len(stats_rows) >= 3
    assert [row[1] for row in stats_rows] == sorted(row[1] for row in stats_rows)
    assert "no process" in run_cli("status", "--db", str(db)).stdout


def by_source(info: dict) -> dict[str, dict]:
    return {row["source"]: row for row in info["sources"]}


def query_db_live(db: Path) -> list[list]:
    result = run_cli("query", "--db", str(db), "--json", "SELECT ts, pid, lines FROM stats ORDER BY ts")
    assert result.returncode == 0, result.stderr
    return [[row["ts"], row["pid"], row["lines"]] for row in json.loads(result.stdout)]


def test_status_names_a_holder_that_serves_no_queries(tmp_path: Path, db: Path) -> None:
    assert run_cli("ingest", "--db", str(db), "-", input="a line\n").returncode == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('ok', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"ok\n"
        info = status(db)
        assert info == {"db": str(db), "held": True, "pid": holder.pid, "serving": False}
        assert f"PID {holder.pid} (it serves no queries" in run_cli("status", "--db", str(db)).stdout
    finally:
        holder.communicate(b"", timeout=30)


def test_status_of_a_missing_database_is_a_clean_error(tmp_path: Path) -> None:
    result = run_cli("status", "--db", str(tmp_path / "none.duckdb"))
    assert_clean_error(result, 1)
    assert "no database here yet" in result.stderr
    assert not os.path.exists(tmp_path / "none.duckdb")


@pytest.mark.slow
def test_status_lists_every_source_the_database_holds(tmp_path: Path, db: Path) -> None:
    """Three runs, one source each: all three are listed, not only the last run's."""
    names = []
    for number in range(3):
        log = tmp_path / f"app{number}.jsonl"
        log.write_text(
            "".join(json_line("2026-01-01T00:00:00Z", f"file {number} line {n}") for n in range(number + 1))
        )
        assert run_cli("ingest", str(log), "--db", str(db)).returncode == 0
        names.append(str(log))
    sources = status(db)["sources"]
    assert [(s["source"], s["records"], s["lines"], s["done"]) for s in sources] == [
        (names[0], 1, 1, True),
        (names[1], 2, 2, True),
        (names[2], 3, 3, True),
    ]
    text = run_cli("status", "--db", str(db))
    rows = [line.split("│")[1:3] for line in text.stdout.splitlines() if line.startswith("│ ")]
    assert [(name.strip(), records.strip()) for name, records in rows] == [
        (names[0], "1"),
        (names[1], "2"),
        (names[2], "3"),
    ]
    assert "records:  6 records from 2026-01-01T00:00:00.000Z to 2026-01-01T00:00:00.000Z" in text.stdout
