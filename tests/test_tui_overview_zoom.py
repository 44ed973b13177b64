"""The overview's charts zoom in and out of the time axis (lnav's z / Z): the rule, and what a
person sees in tmux."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from terminal import SAMPLE_LOGS, Terminal, logscope_command, needs_tmux

from logscope.tui.log_reader import Histogram
from logscope.tui.overview_screen import zoomed

S = 1_000_000  # µs
WHOLE = Histogram(start_us=0, bucket_us=6 * S, counts={"info": [1] * 100}, first_us=0, last_us=600 * S)


def test_zooming_in_halves_the_span_around_the_focus() -> None:
    assert zoomed(WHOLE, None, 300 * S, 0.5) == (150 * S, 450 * S)
    assert zoomed(WHOLE, (150 * S, 450 * S), 200 * S, 0.5) == (125 * S, 275 * S)


def test_a_window_stays_inside_the_records_span() -> None:
    assert zoomed(WHOLE, None, 10 * S, 0.5) == (0, 300 * S)
    assert zoomed(WHOLE, None, 590 * S, 0.5) == (300 * S, 600 * S)


def test_zooming_in_stops_at_a_second_a_bar() -> None:
    window = (200 * S, 300 * S)  # 100 bars of 1 s
    assert zoomed(WHOLE, window, 250 * S, 0.5) == window


def test_zooming_out_to_every_record_shows_the_whole_span_again() -> None:
    assert zoomed(WHOLE, (150 * S, 450 * S), 300 * S, 2) is None
    assert zoomed(WHOLE, (200 * S, 300 * S), 250 * S, 2) == (150 * S, 350 * S)


def bar_width(screen: str) -> float:
    """The seconds a bar of the level chart stands for (`1.78s/bar`)."""
    return float(re.search(r"([\d.]+)s/bar", screen).group(1))


@needs_tmux
@pytest.mark.slow
def test_z_and_shift_z_zoom_the_overview_in_and_out(tmp_path: Path) -> None:
    command = logscope_command("tail", str(SAMPLE_LOGS), "--db", str(tmp_path / "tail.duckdb"))
    terminal = Terminal(command, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        terminal.wait_for("/1,282", timeout=60)
        terminal.keys("o")
        whole = terminal.wait_for("s/bar")
        assert "z zooms in" in whole and "zoomed" not in whole
        terminal.keys("Tab", "z")
        # The title and the chart are drawn apart: wait for the zoomed chart, not only the title.
        half = bar_width(whole) / 2
        screen = terminal.wait_for(
            lambda text: "zoomed to" in text and "s/bar" in text and abs(bar_width(text) - half) <= half / 20
        )
        assert "z zooms in, Z out" in screen
        assert bar_width(screen) == pytest.approx(half, rel=0.05)
        terminal.keys("Z")
        screen = terminal.wait_for(
            lambda text: "zoomed" not in text and "s/bar" in text and bar_width(text) == bar_width(whole)
        )
        assert bar_width(screen) == bar_width(whole)
    finally:
        terminal.close()
