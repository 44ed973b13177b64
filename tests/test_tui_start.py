"""What a person sees while `logscope tail` starts, and at 80x24: keys typed before the app is up
act as typed (in the widget they were meant for), the filter row's hints stay apart, and the
overview opens at its top. A real `logscope tail` in tmux (tests/terminal.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from terminal import SAMPLE_LOGS, Terminal, logscope_command, needs_tmux

pytestmark = needs_tmux

LOG_ROW = re.compile(r"^(?:\d\d-\d\d )?\d\d:\d\d:\d\d(?:\.\d{3})? \S+\s+(\S+) ")


def start_tail(tmp_path: Path, width: int, height: int) -> Terminal:
    db = tmp_path / "tail.duckdb"
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    return Terminal(logscope_command("tail", str(SAMPLE_LOGS), "--db", str(db)), width, height, env)


@pytest.mark.slow
def test_keys_typed_while_tail_starts_are_not_lost_nor_land_in_another_box(tmp_path: Path) -> None:
    terminal = start_tail(tmp_path, 120, 30)
    try:
        # At once: the program is not even running yet (the shell waits before starting it).
        terminal.keys("f", pause=0)
        terminal.type("level = 'error'")
        terminal.keys("Enter", pause=0)
        applied = "filter: where level = 'error'"
        screen = terminal.wait_for(lambda text: applied in text and "/125" in text, 60)
        assert screen.splitlines()[0].startswith("level = 'error'")  # typed into the filter box
        levels = {match[1] for line in screen.splitlines() if (match := LOG_ROW.match(line))}
        assert levels == {"ERROR"}
    finally:
        terminal.close()


@pytest.mark.slow
def test_at_80x24_the_filter_hints_stay_apart_and_the_overview_opens_at_its_top(tmp_path: Path) -> None:
    terminal = start_tail(tmp_path, 80, 24)
    try:
        screen = terminal.wait_for("/1,282", 60)
        filter_row = screen.splitlines()[0]
        # Both hints whole, with room between them (the long one had run into "time:": "texttime").
        assert re.fullmatch(r"filter: .*/regex/\s{2,}time: 15m · 14:00\.\.14:30\s*", filter_row), filter_row
        terminal.keys("o")
        screen = terminal.wait_for(lambda text: "sample_logs/syslog" in text and "Back to logs" in text)
        lines = screen.rstrip("\n").splitlines()
        assert lines[0].strip().startswith("Errors per time bucket")  # not scrolled down
        assert "Sources" in screen and "sample_logs/syslog" in screen  # the rest fits below
        assert len(lines) == 24 and "Back to logs" in lines[-1]
    finally:
        terminal.close()


@pytest.mark.slow
def test_a_fresh_database_shows_the_files_end_before_its_records_are_stored(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    stamps = (f"2026-11-20T14:{n // 6000:02d}:{n // 100 % 60:02d}Z" for n in range(60000))
    lines = [f"{stamp} INFO request {n} done" for n, stamp in enumerate(stamps)]
    log.write_text("\n".join(lines) + "\n")
    command = logscope_command("tail", str(log), "--db", str(tmp_path / "tail.duckdb"))
    terminal = Terminal(command, 120, 30, {"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        # The file's last line, as written, while the status says the records are not stored yet.
        screen = terminal.wait_for(lambda text: "request 59999 done" in text, 60)
        assert "storing their records" in screen, screen
        assert "big.log 2026-11-20T14:09:59Z INFO request 59999 done" in screen, screen
        # Then the stored records take their place: parsed, counted, the newest at the bottom.
        parsed = re.compile(r"14:09:59 +big\.log +INFO +request 59999 done")
        screen = terminal.wait_for(lambda text: "60,000/60,000" in text and bool(parsed.search(text)), 120)
        assert "storing their records" not in screen
    finally:
        terminal.close()
