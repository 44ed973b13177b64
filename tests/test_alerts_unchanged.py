"""The alerts of `ingest` and `rules backtest` on sample_logs/ are those the code gave before the
run assembly (pipeline/run.py) replaced the commands' own: the files in tests/data/alerts/ were
written by commit 4534274 with `python tests/test_alerts_unchanged.py` (sorted JSON lines).

sample_logs/syslog is left out: its lines carry no year, and the year inferred moves with the
clock."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import duckdb

if __name__ != "__main__":
    from conftest import REPO, run_cli
else:
    REPO = Path(__file__).resolve().parents[1]

EXPECTED = REPO / "tests" / "data" / "alerts"
FILES = ("app.jsonl", "nginx_access.log")
ALERTS_SQL = """
SELECT rule, severity, state, group_key, first_at::VARCHAR, fired_at::VARCHAR, last_at::VARCHAR,
       resolved_at::VARCHAR, count, value, summary, notifications, example_ids
FROM alerts
"""


def copy_logs(directory: Path) -> Path:
    logs = directory / "logs"
    logs.mkdir()
    for name in FILES:
        shutil.copy(REPO / "sample_logs" / name, logs / name)
    return logs


def stored_alerts(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(ALERTS_SQL).fetchall()
    finally:
        con.close()
    return "".join(sorted(json.dumps(row, default=str) + "\n" for row in rows))


def sorted_lines(text: str) -> str:
    return "".join(sorted(line + "\n" for line in text.splitlines()))


def test_ingest_stores_the_alerts_it_stored_before(tmp_path: Path) -> None:
    logs = copy_logs(tmp_path)
    db = tmp_path / "test.duckdb"
    result = run_cli("ingest", "-q", "logs", "--db", str(db), cwd=logs.parent)
    assert result.returncode == 0, result.stderr
    assert stored_alerts(db) == (EXPECTED / "ingest.jsonl").read_text()


def test_backtest_prints_the_alerts_and_notifications_it_printed_before(tmp_path: Path) -> None:
    logs = copy_logs(tmp_path)
    rules = str(REPO / "rules")
    table = run_cli("rules", "backtest", "--alerts", rules, "logs", "--nl", cwd=logs.parent)
    assert table.returncode == 0, table.stderr
    assert sorted_lines(table.stdout) == (EXPECTED / "backtest_alerts.jsonl").read_text()
    notes = run_cli("rules", "backtest", rules, "logs", "--nl", cwd=logs.parent)
    assert notes.returncode == 0, notes.stderr
    assert notes.stdout == (EXPECTED / "backtest_notifications.jsonl").read_text()


def write_expected() -> None:
    """Write tests/data/alerts/ with the code on PYTHONPATH (the commit before the change)."""
    import subprocess
    import tempfile

    EXPECTED.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        logs = copy_logs(Path(temporary))

        def cli(*args: str) -> str:
            command = [sys.executable, "-m", "logscope", *args]
            return subprocess.run(command, cwd=logs.parent, check=True, capture_output=True, text=True).stdout

        db = logs.parent / "expected.duckdb"
        cli("ingest", "-q", "logs", "--db", str(db))
        (EXPECTED / "ingest.jsonl").write_text(stored_alerts(db))
        rules = str(REPO / "rules")
        (EXPECTED / "backtest_alerts.jsonl").write_text(
            sorted_lines(cli("rules", "backtest", "--alerts", rules, "logs", "--nl"))
        )
        (EXPECTED / "backtest_notifications.jsonl").write_text(
            cli("rules", "backtest", rules, "logs", "--nl")
        )


if __name__ == "__main__":
    write_expected()
