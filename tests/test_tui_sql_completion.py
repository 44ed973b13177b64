"""Table and column names completed in the SQL screen: the rule, and what a person sees in tmux."""

from __future__ import annotations

from pathlib import Path

import pytest
from terminal import SAMPLE_LOGS, Terminal, foreground_at, logscope_command, needs_tmux

from logscope.tui.sql_completion import complete

TABLES = ["alerts", "logs", "nginx_access", "syslog"]
COLUMNS = ["fields", "format", "host", "level", "message", "source", "ts"]


@pytest.mark.parametrize(
    ("typed", "completed"),
    [
        ("SELECT lev", "SELECT level"),
        ("SELECT LEV", "SELECT LEVel"),  # what was typed stays as typed
        ("SELECT level FROM ng", "SELECT level FROM nginx_access"),
        ("select * from L", "select * from Logs"),  # after FROM a table, though a column begins so too
        ("SELECT lo", "SELECT logs"),  # no column begins so: a table
        ("SELECT level, count(*) FROM logs WHERE so", "SELECT level, count(*) FROM logs WHERE source"),
        ("SELECT f", "SELECT fields"),  # the first in order
    ],
)
def test_the_last_word_is_completed_from_the_names(typed: str, completed: str) -> None:
    assert complete(typed, TABLES, COLUMNS) == completed


@pytest.mark.parametrize("typed", ["", "SELECT ", "SELECT level", "SELECT xyz", "SELECT 12", "SELECT level,"])
def test_nothing_is_suggested_without_a_begun_name_that_fits(typed: str) -> None:
    assert complete(typed, TABLES, COLUMNS) is None


@needs_tmux
@pytest.mark.slow
def test_the_sql_screen_shows_the_rest_of_a_name_dimmed_and_tab_takes_it(tmp_path: Path) -> None:
    command = logscope_command("tail", str(SAMPLE_LOGS), "--db", str(tmp_path / "tail.duckdb"))
    terminal = Terminal(command, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        terminal.wait_for("/1,282", timeout=60)
        terminal.keys("s")
        terminal.wait_for("Tab completes")
        terminal.type("SELECT lev")
        screen = terminal.wait_for("SELECT level ")
        row = next(index for index, line in enumerate(screen.splitlines()) if "SELECT lev" in line)
        line = terminal.styled_lines()[row]
        start = line.plain.index("SELECT lev")
        typed, suggested = start + len("SELECT l"), start + len("SELECT leve")
        assert foreground_at(line, suggested) != foreground_at(line, typed)  # the suggestion is dimmed
        terminal.keys("Tab")
        terminal.type(", count(*) AS n FROM ng")
        terminal.wait_for("FROM nginx_access ")
        terminal.keys("Tab")
        terminal.type(" GROUP BY ALL ORDER BY ALL")
        terminal.keys("Enter")
        screen = terminal.wait_for("rows")
        assert "SELECT level, count(*) AS n FROM nginx_access GROUP BY ALL ORDER BY ALL" in screen
        assert "error" in screen and "info" in screen  # the nginx view's levels, counted
    finally:
        terminal.close()
