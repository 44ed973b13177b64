"""`logscope tail BIGFILE` on a fresh database: a filter typed while the import is far behind is
answered over the whole file (the part not imported read where it lies), and stays the same as the
import catches up. A real `logscope tail` in tmux (tests/terminal.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from terminal import Terminal, logscope_command, needs_tmux

pytestmark = needs_tmux

LINES = 500_000  # imported at some 20,000-60,000 lines/s here: the import is behind for seconds


def big_nginx_file(path: Path) -> Path:
    """An nginx access log with one line near its start and one near its end that no other has."""
    with path.open("w") as out:
        for n in range(LINES):
            page = {10: "/unique-near-start", LINES - 10: "/unique-near-end"}.get(n, f"/item/{n}")
            stamp = f"20/Nov/2026:{n // 36000 % 24:02d}:{n // 600 % 60:02d}:{n // 10 % 60:02d} +0000"
            out.write(
                f'10.0.{n % 250}.{n % 7} - - [{stamp}] "GET {page} HTTP/1.1" 200 {n} "-" "curl/8.5.0"\n'
            )
    return path


def status_line(screen: str) -> str:
    return next(line for line in screen.splitlines() if "following" in line or "paused" in line)


@pytest.mark.slow
def test_a_filter_while_the_import_is_behind_finds_lines_not_imported_yet(tmp_path: Path) -> None:
    log = big_nginx_file(tmp_path / "access.log")
    command = logscope_command("tail", str(log), "--db", str(tmp_path / "tail.duckdb"))
    terminal = Terminal(command, 180, 45, {"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        terminal.wait_for(re.compile(r"importing \d+%").search, 60)
        terminal.keys("f")
        terminal.type("unique-near")
        terminal.keys("Enter")
        found = terminal.wait_for(lambda text: "/unique-near-end" in text and "2/2" in text, 60)
        # Both lines, the first stored long ago, the last far beyond the import: read in place.
        assert "/unique-near-start" in found, found
        status = status_line(found)
        assert re.search(r"importing \d+% · filter over the whole file in place", status), status
        percent = int(re.search(r"importing (\d+)%", status).group(1))
        assert percent < 90, status
        # The import catches up: the same two lines, now from the store.
        done = terminal.wait_for(lambda text: "importing" not in status_line(text), 240)
        assert "/unique-near-start" in done and "/unique-near-end" in done and "2/2" in done, done
        assert str(LINES) in terminal.text() or f"{LINES:,}" in terminal.text()  # the sources count
    finally:
        terminal.close()
