"""The in-process CLI runner (tests/cli_runner.py) answers as `python -m logscope` does and leaves
the test process as it found it."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from conftest import REPO, cli_env, run_cli, run_cli_process


@pytest.mark.slow  # five subprocesses
def test_in_process_and_subprocess_give_the_same_output_and_status(tmp_path: Path) -> None:
    texts = ["msg=hello", "not json {", "é"]
    lines = "".join(f"2024-05-01 10:00:0{n} {text}\n" for n, text in enumerate(texts))
    tokyo = cli_env(TZ="Asia/Tokyo")  # naive times are read in the local zone
    assert "2024-05-01T01:00:00.000Z" in run_cli("parse", "-", input=lines, env=tokyo).stdout
    for args, data in (
        (("parse", "-"), lines),
        (("parse", "sample_logs/syslog"), None),
        (("query", "--db", ":memory:", "SELECT 42 AS answer"), None),
        (("query", "--db", ":memory:", "SELECT nope"), None),
        (("no-such-verb",), None),
    ):
        inside = run_cli(*args, input=data, cwd=REPO, env=tokyo)
        outside = run_cli_process(*args, input=data, cwd=REPO, env=tokyo)
        assert (inside.returncode, _unstamped(inside.stdout), inside.stderr) == (
            outside.returncode,
            _unstamped(outside.stdout),
            outside.stderr,
        ), args


def _unstamped(output: str) -> str:
    """The output without the times of arrival."""
    return re.sub(r'"received_at":"[^"]*"', '"received_at":…', output)


def test_environment_directory_and_signal_handlers_are_restored(tmp_path: Path) -> None:
    environ, cwd = dict(os.environ), os.getcwd()
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    log = tmp_path / "a.log"
    log.write_text("x=1\n")
    db = tmp_path / "a.duckdb"
    env = cli_env(LOGSCOPE_DB=str(db), TZ="America/New_York")
    result = run_cli("ingest", "a.log", env=env, cwd=tmp_path)  # ingest sets SIGINT/SIGTERM handlers
    assert result.returncode == 0, result.stderr
    assert dict(os.environ) == environ and os.getcwd() == cwd
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    again = run_cli("query", "--csv", "SELECT count(*) AS n FROM logs", env=env)
    assert again.stdout == "n\n1\n", again.stderr
