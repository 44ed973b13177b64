"""Stretches of a group's arrivals stepped through at once, in one tight loop, when the tracker
needs to hear nothing about them.

A group's condition changes only at the instants where records arrive or leave its window, so
while its value stays the same the tracker has nothing to learn: with no alert open, nothing at
all (a dry run); with an alert open that keeps holding, only the latest figures (kept as the
group's deferred observation). `scan` steps through those instants and stops at the first
one where that is no longer so, leaving the windows as after the arrivals before it. For kinds
with one window; spike's two windows (`_scan_spike`) hand records from the current window on to
the previous one. The two loops share their shape on purpose: the next instant computed by one
shared function cost the engine 6% (0.67 s against 0.71-0.72 s CPU, best of 3 of
`bench/rules_overhead.py --lines 100000 --engine`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logscope.alerting.counting.fast import FastGroup
    from logscope.alerting.counting.window import Arrival


def scan(group: FastGroup, arrivals: list[Arrival], start: int, holding: bool, due: int | None) -> int:
    """Step through `arrivals[start:]` (in order, none before the group's clock) while the
    condition's value stays `holding` and no instant reaches `due`: the number of arrivals
    stepped through before one does. The group's windows, clock and examples are left as after
    those arrivals (what the arrival that stopped the scan changed is undone)."""
    if group.kind.two_windows:
        return _scan_spike(group, arrivals, start, holding, due)
    window, holds = group.rule.window, group.holds_at
    hits_entries, total_entries = group.current.entries, group.totals.entries
    count, total = group.current.sum, group.totals.sum
    clock, ready_at = group.clock, group.ready_at
    limit = due if due is not None else float("inf")
    index, end = start, len(arrivals)
    while index < end:
        ts, hits, totals, _ = arrivals[index]
        before = (count, total, clock)
        left_hits: list[tuple[int, int]] = []  # entries this arrival's instants removed
        left_totals: list[tuple[int, int]] = []
        stopped = False
        while True:  # the instants where records leave the windows, up to ts
            change = hits_entries[0][0] + window if hits_entries else None
            if total_entries:
                other = total_entries[0][0] + window
                if change is None or other < change:
                    change = other
            if ready_at > clock and (change is None or ready_at < change):
                change = ready_at
            if change is None or change > ts:
                break
            edge = change - window
            while hits_entries and hits_entries[0][0] <= edge:
                left_hits.append(hits_entries.popleft())
                count -= left_hits[-1][1]
            while total_entries and total_entries[0][0] <= edge:
                left_totals.append(total_entries.popleft())
                total -= left_totals[-1][1]
            clock = max(clock, change)
            if change >= limit or holds(change, count, total) is not holding:
                stopped = True
                break
        added = False
        if not stopped:
            clock = max(clock, ts)
            stopped = ts >= limit
        if not stopped:
            if hits:
                hits_entries.append((ts, hits))
                count += hits
            if totals:
                total_entries.append((ts, totals))
                total += totals
            added = True
            stopped = holds(ts, count, total) is not holding
        if stopped:  # undo this arrival: the caller steps through it
            if added:
                if hits:
                    hits_entries.pop()
                if totals:
                    total_entries.pop()
            hits_entries.extendleft(reversed(left_hits))
            total_entries.extendleft(reversed(left_totals))
            count, total, clock = before
            break
        index += 1
    group.current.sum, group.totals.sum = count, total
    group.note_examples(arrivals[start:index])
    group.clock = clock
    return index - start


def _scan_spike(group: FastGroup, arrivals: list[Arrival], start: int, holding: bool, due: int | None) -> int:
    """`scan` for spike rules: at each instant records move from the current window to the
    previous one (and leave that after two windows); undone in reverse order if need be."""
    window, holds = group.rule.window, group.holds_at
    current, previous = group.current.entries, group.previous.entries
    count, before = group.current.sum, group.previous.sum
    clock, ready_at = group.clock, group.ready_at
    limit = due if due is not None else float("inf")
    index, end = start, len(arrivals)
    while index < end:
        ts, hits, _, _ = arrivals[index]
        saved = (count, before, clock)
        done: list[tuple[bool, tuple[int, int]]] = []  # (moved on, entry) in the order done
        stopped = False
        while True:  # the instants where records move on or leave, up to ts
            change = current[0][0] + window if current else None
            if previous:
                other = previous[0][0] + 2 * window
                if change is None or other < change:
                    change = other
            if ready_at > clock and (change is None or ready_at < change):
                change = ready_at
            if change is None or change > ts:
                break
            while current and current[0][0] <= change - window:
                entry = current.popleft()
                previous.append(entry)
                count, before = count - entry[1], before + entry[1]
                done.append((True, entry))
            while previous and previous[0][0] <= change - 2 * window:
                entry = previous.popleft()
                before -= entry[1]
                done.append((False, entry))
            clock = max(clock, change)
            if change >= limit or holds(change, count, before) is not holding:
                stopped = True
                break
        added = False
        if not stopped:
            clock = max(clock, ts)
            stopped = ts >= limit
        if not stopped:
            if hits:
                current.append((ts, hits))
                count += hits
            added = True
            stopped = holds(ts, count, before) is not holding
        if stopped:  # undo this arrival, last change first: the caller steps through it
            if added and hits:
                current.pop()
            for moved, entry in reversed(done):
                if moved:
                    previous.pop()
                    current.appendleft(entry)
                else:
                    previous.appendleft(entry)
            count, before, clock = saved
            break
        index += 1
    group.current.sum, group.previous.sum = count, before
    group.note_examples(arrivals[start:index])
    group.clock = clock
    return index - start
