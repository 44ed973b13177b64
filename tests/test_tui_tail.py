"""`printf ... | logscope tail -` in a real terminal (tmux): the pipe is read, keys come from the tty."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, query_db

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")


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


def test_piped_stdin_shows_lines_and_quits_on_q(tmp_path: Path) -> None:
    db = tmp_path / "tail.duckdb"
    status = tmp_path / "status"
    socket = f"logscope-test-{tmp_path.name}"
    lines = 'level=info msg="hello from a pipe"\\nlevel=error msg="second piped line"\\n'
    command = (
        f"sleep 0.5; cd {shlex.quote(str(REPO))} && printf '{lines}' | TZ=UTC {shlex.quote(sys.executable)}"
        f" -m logscope tail - --db {shlex.quote(str(db))} --no-rules;"
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
