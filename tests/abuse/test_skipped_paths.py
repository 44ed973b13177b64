"""A directory or glob holding paths that are not regular files (a dangling symbolic link, a FIFO,
a socket): each is said on stderr in one warning line naming it, the good files are read, and the
run succeeds. lnav and Vector warn the same way; before, they were skipped without a word."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env, query_db, run_cli


@pytest.fixture
def logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "app.log").write_text("one\ntwo\n")
    (folder / "gone.log").symlink_to(tmp_path / "rotated-away.log")
    os.mkfifo(folder / "pipe.log")
    listening = socket.socket(socket.AF_UNIX)
    with monkeypatch.context() as inside:
        inside.chdir(folder)  # a relative name: a socket's path is limited to 107 bytes
        listening.bind("agent.sock")
    yield folder
    listening.close()


def warnings(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("logscope: warning:")]


def expected_warnings(logs: Path, prefix: str = "") -> list[str]:
    where = prefix or str(logs)
    return [
        f"logscope: warning: {where}/agent.sock: skipped: a socket",
        f"logscope: warning: {where}/gone.log: skipped: a dangling symbolic link"
        f" (to {logs.parent / 'rotated-away.log'})",
        f"logscope: warning: {where}/pipe.log: skipped: a FIFO (name it on its own to read it as a stream)",
    ]


def test_ingest_of_a_directory_says_what_it_skips(logs: Path, db: Path) -> None:
    result = run_cli("ingest", "--db", str(db), str(logs), timeout=30)
    assert result.returncode == 0, result.stderr
    assert warnings(result.stderr) == expected_warnings(logs)
    assert query_db(db, "SELECT source, count(*) FROM logs GROUP BY ALL") == [(str(logs / "app.log"), 2)]


def test_ingest_of_a_glob_says_what_it_skips(logs: Path, db: Path) -> None:
    result = run_cli("ingest", "--db", str(db), f"{logs}/*.log", timeout=30)
    assert result.returncode == 0, result.stderr
    assert warnings(result.stderr) == expected_warnings(logs)[1:]
    assert query_db(db, "SELECT count(*) FROM logs") == [(2,)]


def test_query_in_place_and_parse_say_what_they_skip(logs: Path) -> None:
    result = run_cli("query", "--csv", "SELECT count(*) FROM logs", str(logs), timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["count_star()", "2"]
    assert warnings(result.stderr) == expected_warnings(logs)
    result = run_cli("parse", str(logs), timeout=30)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert warnings(result.stderr) == expected_warnings(logs)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_follow_of_a_directory_says_what_it_skips_and_stops_on_a_signal(
    logs: Path, db: Path, signum: int
) -> None:
    """Before, `--follow DIR` opened the FIFO the directory holds to read its first bytes and
    waited there for a writer, before the signal handlers were set: no warning, and SIGTERM
    killed it with nothing said."""
    process = subprocess.Popen(
        [sys.executable, "-m", "logscope", "ingest", "--db", str(db), "--follow", str(logs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while not _stored_rows(db) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert warnings(stderr) == expected_warnings(logs)
    assert query_db(db, "SELECT count(*) FROM logs") == [(2,)]


def _stored_rows(db: Path) -> int:
    """The rows a following ingest has stored so far (through its query service)."""
    from logscope.store.client import connect_if_served

    client = connect_if_served(str(db))
    if client is None:
        return 0
    with client:
        return next(iter(client.query("SELECT count(*) FROM logs").rows()))[0]
