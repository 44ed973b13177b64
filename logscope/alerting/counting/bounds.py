"""Bounds that show, a stretch of arrivals at a time, that a condition cannot hold.

Used before a dry run (stretches.py `scan`) for groups with no open alert: for arrivals in
(c, b], with c the group's clock, every instant the group would observe has a window inside
(c - w, b] and containing (b - w, c]. So the matching records in (c - w, b] bound each window's
count from above, and the records in (b - w, c] bound its count (or total) from below. When the
bounds rule the condition out, the stretch needs no stepping through. Stretches span half a
window, so that (b - w, c] is never empty of time.
"""

from __future__ import annotations

from bisect import bisect_right
from heapq import merge
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logscope.alerting.counting.fast import FastGroup as GroupWindow
    from logscope.alerting.counting.window import Arrival

SPLITS = 64  # the shortest stretch tried: this part of a window
FEW = 64  # arrivals below which a dry run is cheaper than reading the window's entries
BLOCK = 512  # arrivals taken in at a time (a group's bounds often fail early: read no further)


def quiet_span(group: GroupWindow, arrivals: list[Arrival]) -> int:
    """How many of the leading arrivals (in order, none before the group's clock) provably
    leave the group's condition false at every instant it would observe."""
    rule = group.rule
    if not group.kind.stretch_bound or len(arrivals) < FEW:
        return 0  # a dry run through a few arrivals costs less than adding up the window
    window = rule.window
    old = merge(
        ((ts, count, 0) for ts, count in group.current.entries),
        ((ts, 0, count) for ts, count in group.totals.entries),
    )
    times: list[int] = []
    hits, totals = [0], [0]
    for ts, matched, counted in old:
        times.append(ts)
        hits.append(hits[-1] + matched)
        totals.append(totals[-1] + counted)
    arrival_times: list[int] = []

    def load(upto: int) -> None:
        """Make the arrivals up to `upto` part of the entries (a block at a time, as needed)."""
        for ts, matched, counted, _ in arrivals[len(arrival_times) : upto]:
            times.append(ts)
            arrival_times.append(ts)
            hits.append(hits[-1] + matched)
            totals.append(totals[-1] + counted)

    def between(low: int, high: int) -> tuple[int, int]:
        """Matching records and total records with low < ts <= high."""
        first, last = bisect_right(times, low), bisect_right(times, high)
        return hits[last] - hits[first], totals[last] - totals[first]

    clock, done, span = group.clock, 0, window // 2
    while done < len(arrivals):
        while len(arrival_times) < len(arrivals) and (
            len(arrival_times) <= done or arrival_times[-1] <= clock + span
        ):
            load(len(arrival_times) + BLOCK)
        end = max(done + 1, bisect_right(arrival_times, clock + span, lo=done))
        last = arrival_times[end - 1]
        most, _ = between(clock - window, last)
        least, least_total = between(last - window, clock)
        if group.kind.ruled_out(rule, group.ready_at, last, most, least, least_total):
            clock, done, span = last, end, min(2 * span, window // 2)
        elif end > done + 1 and span > window // SPLITS:
            span //= 2  # shorter stretches give tighter bounds
        else:
            break
    return done
