"""`cmd:"COMMAND ARGS"` sources through the real CLI: stdout and stderr lines, exit status, restart, stop."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env, query_db, run_cli


def records(db: Path) -> list[tuple[str, str, str, dict]]:
    found = query_db(db, "SELECT source, format, message, fields FROM logs ORDER BY id")
    return [
        (source, fmt, message, json.loads(fields) if fields else {}) for source, fmt, message, fields in found
    ]


def test_stdout_and_stderr_lines_with_stderr_marked(tmp_path: Path) -> None:
    db = tmp_path / "cmd.duckdb"
    script = (
        'echo \'{"level":"info","msg":"from stdout"}\'; echo \'plain failure\' >&2;'
        " printf 'last line without newline'"
    )
    result = run_cli("ingest", "--follow", f"cmd:sh -c {shlex.quote(script)}", "--db", str(db), timeout=60)
    assert result.returncode == 0, result.stderr
    got = records(db)
    assert {row[0] for row in got} == {"cmd:" + shlex.join(["sh", "-c", script])}
    by_message = {row[2]: row for row in got}
    assert by_message["from stdout"][1] == "json" and "stream" not in by_message["from stdout"][3]
    assert by_message["plain failure"][1] == "raw" and by_message["plain failure"][3] == {"stream": "stderr"}
    assert by_message["last line without newline"][3] == {}


def test_quoted_command_form_and_a_failing_exit_status(tmp_path: Path) -> None:
    db = tmp_path / "fail.duckdb"
    # The shell keeps the quotes when the whole spec is quoted once more: cmd:"sh -c '...'".
    result = run_cli("ingest", "--follow", "cmd:\"sh -c 'echo doomed; exit 3'\"", "--db", str(db), timeout=60)
    # Every source ended by itself and one failed: the run fails (what it printed is kept).
    assert result.returncode == 1
    assert "logscope: error: cmd:sh -c 'echo doomed; exit 3': exited with status 3" in result.stderr
    assert [row[2] for row in records(db)] == ["doomed"]


def test_unknown_command_is_one_error_line(tmp_path: Path) -> None:
    result = run_cli(
        "ingest", "--follow", "cmd:no-such-command-xyz --flag", "--db", str(tmp_path / "x.duckdb")
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "logscope: error: cmd:no-such-command-xyz --flag: command not found: no-such-command-xyz"
    ]


def _follow(db: Path, spec: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "logscope", "ingest", "--follow", spec, "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )


@pytest.mark.slow
def test_restart_only_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "restart.duckdb"
    process = _follow(db, "cmd+restart:sh -c 'echo run; exit 1'")
    assert process.stderr is not None
    reported = []
    for line in process.stderr:  # runs at once, again 1 s after it ended, then 2 s after that
        reported.append(line)
        if "restarting in 2 s" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    runs = [row[2] for row in records(db)]
    assert runs.count("run") >= 2 and set(runs) == {"run"}
    assert any("exited with status 1; restarting in 1 s" in line for line in reported)

    once = tmp_path / "once.duckdb"
    result = run_cli("ingest", "--follow", "cmd:sh -c 'echo run'", "--db", str(once), timeout=60)
    assert result.returncode == 0 and [row[2] for row in records(once)] == ["run"]


@pytest.mark.slow
def test_stop_ends_a_long_running_command_and_keeps_its_output(tmp_path: Path) -> None:
    db = tmp_path / "long.duckdb"
    pid_file = tmp_path / "child.pid"
    process = _follow(db, f"cmd:sh -c 'echo pid $$; echo $$ > {pid_file}; exec sleep 600'")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not pid_file.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 10
    (message,) = [row[2] for row in records(db)]
    child = int(message.split()[1])
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not running any more
        return stat.read().split()[2] != "Z"
