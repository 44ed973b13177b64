"""Sliding windows over event time, one per rule and group, for the counting rule kinds.

Every kind but `sql` is a count of matching records in the window (t - window, t]: a record at
time ts counts until ts + window. Conditions change only when a record arrives or leaves a
window, so each group is stepped through exactly those instants, in time order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from logscope.alerting.bounds import quiet_span
from logscope.alerting.lifecycle import EXAMPLES, Outbox, Tracker
from logscope.alerting.model import Rule
from logscope.alerting.stretches import STRETCH_KINDS, scan

# One arrival for a group at one instant: (ts, matching records, total records, last matching id).
Arrival = tuple[int, int, int, int | None]
# Kinds whose condition can start to hold when records leave a window: while no alert is open, a
# group's arrivals go through a dry run (stretches.scan) up to the first instant where the
# condition holds, and only from there are they stepped through, telling the tracker.
DRY_RUN_KINDS = ("ratio", "absence", "spike")


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

    def extend(self, entries: Iterable[tuple[int, int]]) -> None:
        for entry in entries:
            self.entries.append(entry)
            self.sum += entry[1]

    def drop_until(self, ts: int) -> None:
        """Remove the entries at or before `ts`."""
        entries = self.entries
        while entries and entries[0][0] <= ts:
            self.sum -= entries.popleft()[1]

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

    __slots__ = (
        "clock",
        "current",
        "deferred",
        "previous",
        "ready_at",
        "recent",
        "rule",
        "totals",
        "tracker",
    )

    def __init__(self, rule: Rule, tracker: Tracker, created: int, ready_at: int) -> None:
        self.rule, self.tracker = rule, tracker
        self.current, self.previous, self.totals = Window(), Window(), Window()
        self.clock = created
        self.ready_at = ready_at
        # (instant, id) of the latest matching records: those still in the window are examples.
        self.recent: deque[tuple[int, int]] = deque(maxlen=EXAMPLES)
        # An open alert's latest observation that changed nothing but its figures, not yet told
        # to the tracker: (instant, count, total, previous, examples, when the latest of them
        # arrived, matching records since told).
        self.deferred: tuple[int, int, int, int, list[int], int | None, int] | None = None

    @property
    def idle(self) -> bool:
        """Holds nothing that can still change an alert (and is not watched for absence)."""
        if self.rule.kind == "absence" or self.tracker.busy:
            return False
        return not (self.current.entries or self.previous.entries or self.totals.entries)

    def feed(self, arrivals: list[Arrival]) -> None:
        """Arrivals in time order; a late one counts as arriving at the group's clock.

        For DRY_RUN_KINDS, while no alert is open, the arrivals before the first instant where
        the condition holds are added quietly; from there they are stepped through one by one
        until no alert is open any more. While an open alert's condition keeps holding and no
        timer falls due, only its latest figures change: those stretches are added at once
        (stretches.py)."""
        in_order = arrivals[0][0] >= self.clock
        if in_order and self._cannot_fire(arrivals):
            self._feed_quietly(arrivals)
            return
        kind = self.rule.kind
        dry_run = in_order and kind in DRY_RUN_KINDS
        stretches = in_order and kind in STRETCH_KINDS
        tracker = self.tracker
        position, count = 0, len(arrivals)
        while position < count:
            if stretches and tracker.busy and tracker.active:
                position += self._hold(arrivals, position)
            elif dry_run and not tracker.busy and self.deferred is None:
                position += self._skip_quiet(arrivals[position:] if position else arrivals)
            if position == count:
                break
            self._step(arrivals[position])
            position += 1
        self.flush()

    def _hold(self, arrivals: list[Arrival], start: int) -> int:
        """Add the arrivals from `start` on through which the open alert's condition keeps
        holding and no timer falls due, keeping the last instant's figures as the deferred
        observation; how many there were."""
        held = scan(self, arrivals, start, True, self.tracker.next_timer())
        if not held:
            return 0
        stretch = arrivals[start : start + held]
        last_hit = next((item[0] for item in reversed(stretch) if item[1]), None)
        examples = self.examples(last_hit) if last_hit is not None else []
        self._defer(self.clock, examples, last_hit, sum(item[1] for item in stretch))
        return held

    def _skip_quiet(self, arrivals: list[Arrival]) -> int:
        """Add the leading arrivals that leave the condition false at every instant (first those
        the bounds rule out, then those a dry run shows); how many there were."""
        proven = quiet_span(self, arrivals)
        if proven:
            self._feed_quietly(arrivals[:proven])
            if proven == len(arrivals):
                return proven
            arrivals = arrivals[proven:]
        return proven + scan(self, arrivals, 0, False, None)

    def _step(self, arrival: Arrival) -> None:
        """Step through one arrival: the instants before it, timers due, then its records."""
        ts, hits, totals, last_id = arrival
        tracker = self.tracker
        ts = max(ts, self.clock)
        self._step_until(ts)
        due = tracker.next_timer()
        if due is not None and due <= ts:  # timers due now go off before this instant's records
            self.flush()
            tracker.advance(ts)
        if hits:
            self.current.add(ts, hits)
            if last_id is not None:
                self.recent.append((ts, last_id))
        if totals:
            self.totals.add(ts, totals)
        self.observe(ts, self.examples(ts) if hits else [], hits)

    def _cannot_fire(self, arrivals: list[Arrival]) -> bool:
        """No alert is open and even counting every arrival at once would not reach the condition."""
        if self.tracker.busy:
            return False
        rule, kind = self.rule, self.rule.kind
        if kind in ("match", "threshold", "new_value"):
            return self.current.sum + sum(item[1] for item in arrivals) < rule.threshold
        if kind == "spike":
            return self.current.sum + sum(item[1] for item in arrivals) < rule.min_count
        if kind == "ratio":
            hits = self.current.sum + sum(item[1] for item in arrivals)
            return hits == 0 or self.totals.sum + sum(item[2] for item in arrivals) < rule.min_total
        return False  # absence: every gap between arrivals matters

    def _feed_quietly(self, arrivals: list[Arrival]) -> None:
        """Add arrivals in bulk: the condition stays false throughout, so there is nothing to observe."""
        self.current.extend((item[0], item[1]) for item in arrivals if item[1])
        self.totals.extend((item[0], item[2]) for item in arrivals if item[2])
        self.note_examples(arrivals)
        self.clock = arrivals[-1][0]
        self._expire_quietly(self.clock)

    def run_until(self, now: int) -> None:
        """Step through every instant up to `now` where a record leaves a window."""
        self._step_until(now)
        self.flush()
        self.tracker.advance(now)

    def _step_until(self, now: int) -> None:
        if self._expiry_cannot_fire():
            self._expire_quietly(now)
        elif self.rule.kind == "spike":
            while (change := self.next_change()) is not None and change <= now:
                self.expire(change)
                self.observe(change, [], 0)
        else:
            self._step_one_window(now)
        self.clock = max(self.clock, now)

    def _step_one_window(self, now: int) -> None:
        """`_step_until` for kinds with one window (all but spike), with the lookups inlined:
        this loop runs once per instant of every group that could fire."""
        window = self.rule.window
        current, totals = self.current, self.totals
        hits_entries, total_entries = current.entries, totals.entries
        while True:
            change = hits_entries[0][0] + window if hits_entries else None
            if total_entries:
                other = total_entries[0][0] + window
                if change is None or other < change:
                    change = other
            if self.ready_at > self.clock and (change is None or self.ready_at < change):
                change = self.ready_at
            if change is None or change > now:
                return
            current.drop_until(change - window)
            totals.drop_until(change - window)
            if change > self.clock:
                self.clock = change
            self.observe(change, [], 0)

    def _expiry_cannot_fire(self) -> bool:
        """Records leaving windows cannot make the condition hold (and no alert is open)."""
        if self.tracker.busy:
            return False
        kind = self.rule.kind
        if kind in ("match", "threshold", "new_value"):
            return True  # counts only fall
        if kind == "ratio":
            return self.totals.sum < self.rule.min_total or self.current.sum == 0
        if kind == "spike":
            return self.current.sum < self.rule.min_count
        return False

    def _expire_quietly(self, now: int) -> None:
        window = self.rule.window
        if self.rule.kind == "spike":
            self.previous.extend(self.current.pop_until(now - window))
            self.previous.pop_until(now - 2 * window)
        else:
            self.current.drop_until(now - window)
        self.totals.drop_until(now - window)

    def next_change(self) -> int | None:
        window = self.rule.window
        best = None
        for head, span in (
            (self.current.head(), window),
            (self.previous.head(), 2 * window),
            (self.totals.head(), window),
        ):
            if head is not None and (best is None or head + span < best):
                best = head + span
        if self.ready_at > self.clock and (best is None or self.ready_at < best):
            best = self.ready_at
        return best

    def expire(self, now: int) -> None:
        self._expire_quietly(now)
        self.clock = max(self.clock, now)

    def observe(self, now: int, ids: list[int], hits: int) -> None:
        """Tell the tracker when the condition changes; while it holds, only remember the figures."""
        active = self.holds(now)
        tracker = self.tracker
        due = tracker.next_timer() if active and tracker.busy and tracker.active else now
        if due is None or due > now:  # nothing falls due before this instant: remember only
            self._defer(now, ids, now, hits)
            return
        self.flush()
        if active or tracker.busy:
            tracker.observe(
                now, active, self.figures(self.current.sum, self.totals.sum, self.previous.sum), ids, hits
            )

    def _defer(self, now: int, ids: list[int], ids_at: int | None, hits: int) -> None:
        """Remember the figures at `now` instead of telling the tracker (with the examples, which
        arrived at `ids_at`, or else the ones remembered before), and the `hits` since then."""
        earlier = self.deferred
        if not ids:
            ids, ids_at = (earlier[4], earlier[5]) if earlier else ([], None)
        told = (earlier[6] if earlier else 0) + hits
        self.deferred = (now, self.current.sum, self.totals.sum, self.previous.sum, ids, ids_at, told)

    def note_examples(self, arrivals: list[Arrival]) -> None:
        """Keep the ids of the latest matching records of arrivals added without stepping."""
        self.recent.extend((item[0], item[3]) for item in arrivals if item[1] and item[3] is not None)

    def flush(self) -> None:
        """Hand a remembered observation to the tracker."""
        if self.deferred is not None:
            now, count, total, previous, ids, ids_at, hits = self.deferred
            self.deferred = None
            self.tracker.observe(now, True, self.figures(count, total, previous), ids, hits, ids_at)

    def examples(self, now: int) -> list[int]:
        """Ids of the latest matching records still in the window at `now`."""
        since = now - self.rule.window
        return [record for at, record in self.recent if at > since]

    def holds(self, now: int) -> bool:
        """Whether the rule's condition holds for this group at `now`."""
        rule = self.rule
        count = self.current.sum
        kind = rule.kind
        if kind in ("match", "threshold", "new_value"):
            return count >= rule.threshold
        if kind == "ratio":
            total = self.totals.sum
            return total >= rule.min_total and count >= rule.ratio * total
        if kind == "spike":
            return (
                now >= self.ready_at and count >= rule.min_count and count >= rule.factor * self.previous.sum
            )
        if kind == "absence":
            return now >= self.ready_at and count < rule.threshold
        raise ValueError(f"not a counting kind: {kind}")

    def figures(self, count: int, total: int, previous: int) -> dict[str, Any]:
        """The numbers a summary can show."""
        kind = self.rule.kind
        if kind == "ratio":
            share = count / total if total else 0.0
            return {
                "count": count,
                "total": total,
                "ratio": share,
                "ratio_pct": f"{share:.1%}",
                "value": share,
            }
        if kind == "spike":
            return {"count": count, "previous": previous, "value": count / previous if previous else None}
        return {"count": count, "value": count}


class CountingRule:
    """A counting rule's groups: feeds them arrivals and moves them along event time."""

    def __init__(self, rule: Rule, outbox: Outbox) -> None:
        if rule.kind == "match":
            rule.threshold = 1
        self.rule, self.outbox = rule, outbox
        self.groups: dict[tuple, GroupWindow] = {}
        self.origin: int | None = None  # the first event time the engine saw
        self.seen: set[tuple] = set()  # new_value: every value met so far
        self.learn_from: int | None = None  # new_value: where the stored history starts
        self.full = False

    def seed(self, values: list[tuple], since: int) -> None:
        """new_value: values stored before this run are known; learning started at `since`."""
        self.seen.update(values)
        self.learn_from = since

    def start(self, origin: int) -> None:
        """Called once with the first event time; an ungrouped absence rule starts watching."""
        self.origin = origin
        if self.rule.kind == "absence" and not self.rule.group_by:
            self._group((), origin)

    def _group(self, key: tuple, at: int) -> GroupWindow:
        group = self.groups.get(key)
        if group is None:
            rule = self.rule
            tracker = Tracker(rule, key, self.outbox)
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
                if key in self.seen and key not in self.groups:
                    continue  # a known value: the common case
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
        origin = self.origin if self.learn_from is None else min(self.origin, self.learn_from)
        if item[0] >= origin + self.rule.learn:
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
