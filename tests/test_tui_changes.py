"""What a person sees of patterns, markers and compare in the real `logscope tail` (tmux): the
patterns view filters and hides, markers show on the log view and the charts, the compare view
says what `logscope compare` says (docs/tui.md, docs/compare.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from deploylog import NEW_ERROR, deploy_log
from terminal import Terminal, background_at, logscope_command, needs_tmux

pytestmark = [needs_tmux, pytest.mark.slow]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tuichanges")
    log = deploy_log(folder / "api.jsonl")
    path = folder / "deploy.duckdb"
    assert run_cli("ingest", str(log.path), "--db", str(path), "--quiet").returncode == 0
    # A marker at the last second of the log, so the marked record is on the first screen.
    done = run_cli("mark", "config push", "--at", "2026-11-20T14:33:19Z", "--db", str(path))
    assert done.returncode == 0, done.stderr
    return path


def open_tail(db: Path, tmp_path: Path, width: int, height: int) -> Terminal:
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    terminal = Terminal(logscope_command("tail", "--db", str(db)), width, height, env)
    try:
        terminal.wait_for("/4,000", timeout=60)
    except BaseException:
        terminal.close()
        raise
    return terminal


@pytest.mark.parametrize("size", [(180, 45), (80, 24)])
def test_patterns_view_filters_and_hides_and_markers_show(db: Path, tmp_path: Path, size) -> None:
    terminal = open_tail(db, tmp_path, *size)
    try:
        # The first record at the marker: its time in cyan.
        marked = [row for row, line in enumerate(terminal.lines()) if "14:33:19" in line[:20]]
        assert background_at(terminal.styled_lines()[marked[0]], 0) is not None
        assert all(background_at(terminal.styled_lines()[row], 0) is None for row in marked[1:-1])
        terminal.keys("P")
        screen = terminal.wait_for("Log patterns")
        assert "upstream" in screen and "first seen" in screen
        rows = [line for line in screen.splitlines() if "upstream" in line]
        assert "88" in rows[0] and "11-20 14:17:00.500" in rows[0]
        lines = screen.splitlines()
        header = next(i for i, line in enumerate(lines) if "template" in line and "count" in line)
        table = lines[header + 1 :]
        # Enter on the new error's pattern: the log view shows only its 88 records.
        terminal.keys(*["Down"] * next(i for i, line in enumerate(table) if "upstream" in line))
        terminal.keys("Enter")
        screen = terminal.wait_for("/88", timeout=30)
        assert "filter: pattern" in screen or "pattern 5" in screen
        assert "upstream timeout" in screen
        terminal.keys("c")
        terminal.wait_for("/4,000")
        terminal.keys("P")
        terminal.wait_for("Log patterns")
        terminal.keys("h")  # the row chosen before (the new error's pattern), hidden
        screen = terminal.wait_for("hidden")
        assert "upstream" in next(line for line in screen.splitlines() if "hidden" in line)
        terminal.keys("Escape")
        screen = terminal.wait_for("1 pattern hidden")
        assert "/3,912" in screen  # 4,000 records but the pattern's 88
        terminal.keys("o")
        screen = terminal.wait_for("marker:")
        assert "◆" in screen
        terminal.keys("Escape")
        # A key that reaches the app with the Escape in one read is alt+KEY: wait for the log view.
        terminal.wait_for(lambda text: "Back to logs" not in text and "/3,912" in text)
        terminal.keys("D")
        screen = terminal.wait_for("config push at", timeout=30)
        assert "too few" in screen
        terminal.keys("[")
        # (at 80 columns the heading wraps: compare the words)
        screen = terminal.wait_for(lambda text: "version 2.2 → 2.3 at" in " ".join(text.split()), timeout=30)
        words = " ".join(screen.split())
        assert "higher" in words and " ".join(NEW_ERROR.split()) in words
    finally:
        terminal.close()
