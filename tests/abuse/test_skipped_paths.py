"""A directory or glob holding paths that are not regular files (a dangling symbolic link, a FIFO,
a socket): each is said on stderr in one warning line naming it, the good files are read, and the
run succeeds. lnav and Vector warn the same way; before, they were skipped without a word."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from conftest import query_db, run_cli


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
