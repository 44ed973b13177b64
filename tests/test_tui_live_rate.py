"""The ingest rate the status bar and the sources table show: over a window, not between two
polls (a bulk import commits ~50,000 records a second in one block, and a poll that fell
between two commits showed "0 rec/s" while the count rose)."""

from __future__ import annotations

from logscope.tui.live import WindowRate


def test_block_commits_read_as_a_steady_rate_not_zero_or_double() -> None:
    rate = WindowRate(5.0)
    committed, shown = 0, []
    for tick in range(1, 31):  # a poll a second; a 52,000-record block every 1.05 s
        now = tick * 1.0
        committed = int(now / 1.05) * 52_000
        shown.append(rate.add(now, committed))
    steady = shown[6:]
    true_rate = 52_000 / 1.05
    assert all(abs(value - true_rate) / true_rate < 0.25 for value in steady), steady


def test_the_first_sample_has_no_rate_and_a_stop_falls_to_zero_within_the_window() -> None:
    rate = WindowRate(5.0)
    assert rate.add(0.0, 0) is None
    for tick in range(1, 6):
        rate.add(float(tick), tick * 100)
    assert rate.add(6.0, 600) == 100.0
    values = [rate.add(6.0 + tick, 600) for tick in range(1, 8)]
    assert values[-1] == 0.0
    assert values == sorted(values, reverse=True)
