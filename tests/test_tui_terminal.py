"""What a person sees: the real `logscope tail` on sample_logs/ in a real terminal (tmux).

These read the screen as text (`capture-pane -p`) and with its colours (`capture-pane -e`): the
pilot tests prove the logic, these prove it reaches the eye.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from terminal import SAMPLE_LOGS, Terminal, background_at, logscope_command, needs_tmux

pytestmark = needs_tmux

LOG_ROW = re.compile(r"^\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")
SAMPLE_RECORDS = "1,282"


def open_tail(tmp_path: Path, width: int = 180, height: int = 45, **env: str) -> Terminal:
    """`logscope tail sample_logs/` on a fresh database, once every sample line is shown."""
    db = tmp_path / "tail.duckdb"
    terminal = Terminal(logscope_command("tail", str(SAMPLE_LOGS), "--db", str(db)), width, height, env)
    try:
        terminal.wait_for(f"/{SAMPLE_RECORDS}", timeout=60)
    except BaseException:
        terminal.close()
        raise
    return terminal


@pytest.fixture
def tail(tmp_path: Path):
    terminal = open_tail(tmp_path)
    yield terminal
    terminal.close()


@pytest.fixture
def narrow_tail(tmp_path: Path):
    terminal = open_tail(tmp_path, 80, 24)
    yield terminal
    terminal.close()


def log_rows(terminal: Terminal) -> list[int]:
    """The screen rows that show a log line."""
    return [index for index, line in enumerate(terminal.lines()) if LOG_ROW.match(line)]


@pytest.mark.parametrize("terminal_fixture", ["tail", "narrow_tail"])
def test_typed_filter_search_and_time_text_is_shown_as_typed(terminal_fixture: str, request) -> None:
    terminal: Terminal = request.getfixturevalue(terminal_fixture)
    terminal.keys("f")
    terminal.type("level = 'error'")
    screen = terminal.wait_for("level = 'error'")
    assert screen.splitlines()[0].strip().startswith("level = 'error'")
    terminal.keys("Enter")
    screen = terminal.wait_for(lambda text: "where level = 'error'" in text and "filtering" not in text)
    levels = {line.split()[3] for line in screen.splitlines() if LOG_ROW.match(line)}
    assert levels == {"ERROR"}

    terminal.keys("/")
    terminal.type("checkout")
    terminal.wait_for(lambda screen: "checkout" in screen.splitlines()[1])

    terminal.keys("Escape", "t")
    terminal.type("2026-11-20T14:05..")
    terminal.wait_for("2026-11-20T14:05..")


@pytest.mark.parametrize("colours", ["256", "truecolor"])
def test_exactly_one_row_carries_the_cursor_background(tmp_path: Path, colours: str) -> None:
    env = {"COLORTERM": "truecolor"} if colours == "truecolor" else {}
    terminal = open_tail(tmp_path, **env)
    try:
        terminal.keys("G", "k", "k", "k")
        terminal.wait_for("paused")
        rows = log_rows(terminal)
        styled = terminal.styled_lines()
        backgrounds = {row: background_at(styled[row], 0) for row in rows}
        usual, _ = Counter(backgrounds.values()).most_common(1)[0]
        marked = [row for row, background in backgrounds.items() if background != usual]
        assert marked == [rows[-4]], backgrounds  # three up from the last line
        # The whole line carries it, not only the time.
        assert background_at(styled[rows[-4]], 40) == backgrounds[rows[-4]]
    finally:
        terminal.close()
