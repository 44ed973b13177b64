"""`printf ... | logscope tail -` in a real terminal (tmux): the pipe is read, keys come from the tty."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, assert_clean_error, query_db, run_cli
from terminal import tmux_socket_name

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(
        [TMUX, "-L", socket, *args], capture_output=True, text=True, timeout=10, check=False
    ).stdout


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@needs_tmux
@pytest.mark.slow
def test_piped_stdin_shows_lines_and_quits_on_q(tmp_path: Path) -> None:
    db = tmp_path / "tail.duckdb"
    status = tmp_path / "status"
    socket = tmux_socket_name("logscope-test")
    lines = 'level=info msg="hello from a pipe"\\nlevel=error msg="second piped line"\\n'
    command = (
        f"sleep 0.5; cd {shlex.quote(str(REPO))} && printf '{lines}' | TZ=UTC {shlex.quote(sys.executable)}"
        f" -m logscope tail - --db {shlex.quote(str(db))} --no-default-rules;"
        f" echo $? > {shlex.quote(str(status))}; sleep 30"
    )
    tmux(socket, "new-session", "-d", "-x", "120", "-y", "30", command)
    tmux(socket, "resize-window", "-x", "120", "-y", "30")
    try:
        try:
            wait_until(lambda: "second piped line" in tmux(socket, "capture-pane", "-p"))
        except AssertionError:
            raise AssertionError(f"not shown; the pane:\n{tmux(socket, 'capture-pane', '-p')}") from None
        screen = tmux(socket, "capture-pane", "-p")
        assert "hello from a pipe" in screen
        assert "ERROR second piped line" in screen
        assert "following" in screen
        tmux(socket, "send-keys", "q")
        wait_until(status.exists, timeout=20)
        wait_until(lambda: status.read_text().strip() != "", timeout=5)
        assert status.read_text().strip() == "0"
    finally:
        tmux(socket, "kill-server")
    rows = query_db(db, "SELECT source, level, message FROM logs ORDER BY id")
    assert rows == [("stdin", "info", "hello from a pipe"), ("stdin", "error", "second piped line")]


@needs_tmux
@pytest.mark.slow
def test_tail_follows_a_growing_file_and_answers_queries_meanwhile(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text('level=info msg="before start"\n')
    db = tmp_path / "follow.duckdb"
    status = tmp_path / "status"
    socket = tmux_socket_name("logscope-test")
    command = (
        f"sleep 0.5; cd {shlex.quote(str(REPO))} && TZ=UTC {shlex.quote(sys.executable)} -m logscope tail"
        f" {shlex.quote(str(log.parent))} --db {shlex.quote(str(db))};"
        f" echo $? > {shlex.quote(str(status))}; sleep 30"
    )
    tmux(socket, "new-session", "-d", "-x", "120", "-y", "30", command)
    tmux(socket, "resize-window", "-x", "120", "-y", "30")
    try:
        wait_until(lambda: "before start" in tmux(socket, "capture-pane", "-p"))
        with log.open("a") as out:
            out.write('level=error msg="appended while tailing"\n')
        wait_until(lambda: "appended while tailing" in tmux(socket, "capture-pane", "-p"))
        # The app holds the database; other commands reach it through the query service.
        result = run_cli("query", "SELECT count(*) FROM logs", "--db", str(db), "--format", "csv")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "2"
        tmux(socket, "send-keys", "q")
        wait_until(lambda: status.exists() and status.read_text().strip() != "", timeout=20)
        assert status.read_text().strip() == "0"
    finally:
        tmux(socket, "kill-server")
    rows = query_db(db, "SELECT level, message FROM logs ORDER BY id")
    assert rows == [("info", "before start"), ("error", "appended while tailing")]


def test_tail_without_a_terminal_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("tail", "--db", str(tmp_path / "x.duckdb"), input=b"")
    assert_clean_error(result, 1)
    assert "standard error is not" in result.stderr
