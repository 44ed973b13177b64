"""Sliding windows over event time, one per rule and group, for the counting rule kinds.

Every kind but `sql` is a count of matching records in the window (t - window, t]: a record at
time ts counts until ts + window. Conditions change only when a record arrives or leaves a
window, so each group is stepped through exactly those instants, in time order.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from logscope.alerting.lifecycle import EXAMPLES, AlertIdSource, Outbox, Tracker
from logscope.alerting.model import Rule

# One arrival for a group at one instant: (ts, matching records, total records, last matching id).
Arrival = tuple[int, int, int, int | None]


class Window:
    """Counts of records at instants, in time order, with their sum."""

    __slots__ = ("entries", "sum")

    def __init__(self) -> None:
        self.entries: deque[tuple[int, int]] = deque()
        self.sum = 0

    def add(self, ts: int, count: int) -> None:
        self.entries.append((ts, count))
        self.sum += count

    def head(self) -> int | None:
        return self.entries[0][0] if self.entries else None

    def pop_until(self, ts: int) -> list[tuple[int, int]]:
        """Remove and return the entries at or before `ts`."""
        removed = []
        entries = self.entries
        while entries and entries[0][0] <= ts:
            entry = entries.popleft()
            self.sum -= entry[1]
            removed.append(entry)
        return removed


class GroupWindow:
    """One group's windows and alert tracker for a counting rule."""

    __slots__ = ("clock", "current", "previous", "ready_at", "recent", "rule", "totals", "tracker")

    def __init__(self, rule: Rule, tracker: Tracker, created: int, ready_at: int) -> None:
        self.rule, self.tracker = rule, tracker
        self.current, self.previous, self.totals = Window(), Window(), Window()
        self.clock = created
        self.ready_at = ready_at
        self.recent: deque[int] = deque(maxlen=EXAMPLES)  # ids of the latest matching records

    @property
    def idle(self) -> bool:
        """Holds nothing that can still change an alert (and is not watched for absence)."""
        if self.rule.kind == "absence" or self.tracker.busy:
            return False
        return not (self.current.entries or self.previous.entries or self.totals.entries)

    def feed(self, arrivals: list[Arrival]) -> None:
        """Arrivals in time order; a late one counts as arriving at the group's clock."""
        for ts, hits, totals, last_id in arrivals:
            ts = max(ts, self.clock)
            self.run_until(ts)
            if hits:
                self.current.add(ts, hits)
                if last_id is not None:
                    self.recent.append(last_id)
            if totals:
                self.totals.add(ts, totals)
            self.observe(ts, list(self.recent) if hits else [], hits)

    def run_until(self, now: int) -> None:
        """Step through every instant up to `now` where a record leaves a window."""
        while (change := self.next_change()) is not None and change <= now:
            self.expire(change)
            self.observe(change, [], 0)
        self.tracker.advance(now)
        self.clock = max(self.clock, now)

    def next_change(self) -> int | None:
        window = self.rule.window
        candidates = [
            head + span
            for head, span in (
                (self.current.head(), window),
                (self.previous.head(), 2 * window),
                (self.totals.head(), window),
            )
            if head is not None
        ]
        if self.ready_at > self.clock:
            candidates.append(self.ready_at)
        return min(candidates) if candidates else None

    def expire(self, now: int) -> None:
        window = self.rule.window
        moved = self.current.pop_until(now - window)
        if self.rule.kind == "spike":
            for ts, count in moved:
                self.previous.add(ts, count)
            self.previous.pop_until(now - 2 * window)
        self.totals.pop_until(now - window)
        self.clock = max(self.clock, now)

    def observe(self, now: int, ids: list[int], hits: int) -> None:
        active, values = self.condition(now)
        self.tracker.observe(now, active, values, ids, hits)

    def condition(self, now: int) -> tuple[bool, dict[str, Any]]:
        """Whether the rule's condition holds for this group at `now`, and the figures."""
        rule = self.rule
        count = self.current.sum
        kind = rule.kind
        if kind in ("match", "threshold", "new_value"):
            return count >= rule.threshold, {"count": count, "value": count}
        if kind == "ratio":
            total = self.totals.sum
            share = count / total if total else 0.0
            values = {
                "count": count,
                "total": total,
                "ratio": share,
                "ratio_pct": f"{share:.1%}",
                "value": share,
            }
            return total >= rule.min_total and share >= rule.ratio, values
        if kind == "spike":
            previous = self.previous.sum
            values = {"count": count, "previous": previous, "value": count / previous if previous else None}
            ready = now >= self.ready_at
            return ready and count >= rule.min_count and count >= rule.factor * previous, values
        if kind == "absence":
            return now >= self.ready_at and count < rule.threshold, {"count": count, "value": count}
        raise ValueError(f"not a counting kind: {kind}")


class CountingRule:
    """A counting rule's groups: feeds them arrivals and moves them along event time."""

    def __init__(self, rule: Rule, ids: AlertIdSource, outbox: Outbox) -> None:
        if rule.kind == "match":
            rule.threshold = 1
        self.rule, self.ids, self.outbox = rule, ids, outbox
        self.groups: dict[tuple, GroupWindow] = {}
        self.origin: int | None = None  # the first event time the engine saw
        self.seen: set[tuple] = set()  # new_value: every value met so far
        self.full = False

    def start(self, origin: int) -> None:
        """Called once with the first event time; an ungrouped absence rule starts watching."""
        self.origin = origin
        if self.rule.kind == "absence" and not self.rule.group_by:
            self._group((), origin)

    def _group(self, key: tuple, at: int) -> GroupWindow:
        group = self.groups.get(key)
        if group is None:
            rule = self.rule
            tracker = Tracker(rule, key, self.ids, self.outbox)
            origin = self.origin if self.origin is not None else at
            if rule.kind == "absence":
                ready = at + rule.window
            elif rule.kind == "spike":
                ready = origin + 2 * rule.window
            else:
                ready = at
            group = self.groups[key] = GroupWindow(rule, tracker, at, ready)
        return group

    def feed(self, arrivals: dict[tuple, list[Arrival]]) -> None:
        for key, items in arrivals.items():
            if self.rule.kind == "new_value":
                for item in items:
                    self._feed_new_value(key, item)
            else:
                self._group(key, items[0][0]).feed(items)

    def _feed_new_value(self, key: tuple, item: Arrival) -> None:
        """Only a value met for the first time (after `learn`) opens an alert; its repeats join it
        while it lasts, and after it resolved the value is known."""
        group = self.groups.get(key)
        if group is not None:
            group.run_until(item[0])
            if group.idle:
                del self.groups[key]
            else:
                group.feed([item])
                return
        if key in self.seen or self.full or all(value is None or value == "" for value in key):
            return
        if len(self.seen) >= self.rule.max_values:
            self.full = True
            return
        self.seen.add(key)
        assert self.origin is not None
        if item[0] >= self.origin + self.rule.learn:
            self._group(key, item[0]).feed([item])

    def advance(self, now: int) -> None:
        """Move every group to `now`; forget groups that hold nothing any more."""
        idle = []
        for key, group in self.groups.items():
            group.run_until(now)
            if group.idle:
                idle.append(key)
        for key in idle:
            del self.groups[key]
