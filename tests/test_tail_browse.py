"""`logscope tail --db DB` with no SOURCE browses what the database holds: nothing new arrives, so
no run is assembled (pipeline, rules, patterns stage: they bring pyarrow, ~70 MB); the query
service stays, for other processes to query while the tail holds the database (issue 15)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from conftest import run_cli
from terminal import SAMPLE_LOGS, Terminal, logscope_command, needs_tmux

pytestmark = needs_tmux


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (children first)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def logscope_pid(terminal: Terminal) -> int:
    """The pid of the `logscope tail` the terminal runs."""
    shell = int(terminal._tmux("display-message", "-p", "#{pane_pid}").strip())
    for pid in descendants(shell):
        if b"logscope" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError("no logscope process in the terminal")


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_browsing_a_database_shows_records_and_alerts_serves_queries_and_leaves_out_pyarrow(
    tmp_path: Path,
) -> None:
    db = tmp_path / "browse.duckdb"
    ingest = run_cli("ingest", str(SAMPLE_LOGS), "--db", str(db))
    assert ingest.returncode == 0, ingest.stderr
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    terminal = Terminal(logscope_command("tail", "--db", str(db)), env=env)
    try:
        terminal.wait_for("/1,282", timeout=60)
        screen = terminal.wait_for("web_5xx_burst")  # the stored alerts, in the panel
        panel = " ".join(line.split("│", 1)[1] for line in screen.splitlines() if "│" in line)
        assert re.search(r"web_5xx_burst ×\d+ \w+ 14:06:\d\d\s+20 HTTP 5xx", panel), panel
        pid = logscope_pid(terminal)
        # The query service is up once whatever runs beside the app was started (a whole run, as
        # before, would have loaded pyarrow by then: its rules and pipeline are built first).
        wait_until(lambda: Path(f"{db}.sock").exists())
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "libarrow" not in maps and "numpy" not in maps
        # Another process queries and marks through the service while the tail holds the database.
        result = run_cli("query", "SELECT count(*) FROM logs", "--db", str(db), "--format", "csv")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "1282"
        marked = run_cli("mark", "deploy v2", "--db", str(db))
        assert marked.returncode == 0, marked.stderr
        terminal.keys("q")
        screen = terminal.wait_for("__exited 0", timeout=20)
    finally:
        terminal.close()
    assert "Traceback" not in screen
    assert not Path(f"{db}.sock").exists()
    after = run_cli("query", "SELECT count(*) FROM logs", "--db", str(db), "--format", "csv")
    assert after.stdout.splitlines()[-1] == "1282"
    markers = run_cli(
        "query", "SELECT count(*) FROM markers WHERE text = 'deploy v2'", "--db", str(db), "--format", "csv"
    )
    assert markers.stdout.splitlines()[-1] == "1", markers.stderr
