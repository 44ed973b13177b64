"""The reference evaluator: one group's windows stepped through every arrival and every instant
where a record leaves a window, telling the tracker at each. What the rule means, with no
shortcut; the fast evaluator (fast.py) must give exactly its alerts (tests/test_rules_stepping.py).

Every counting kind is a count of matching records in the window (t - window, t]: a record at
time ts counts until ts + window. Conditions change only when a record arrives or leaves a
window, so a group is stepped through exactly those instants, in time order.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from logscope.alerting.counting.window import Arrival, Window
from logscope.alerting.lifecycle import EXAMPLES, Tracker
from logscope.alerting.model import Rule


class ReferenceGroup:
    """One group's windows and alert tracker for a counting rule, stepped through one by one."""

    __slots__ = (
        "clock",
        "current",
        "deferred",
        "holds_at",
        "kind",
        "previous",
        "ready_at",
        "recent",
        "rule",
        "totals",
        "tracker",
    )

    def __init__(self, rule: Rule, tracker: Tracker, created: int, ready_at: int) -> None:
        self.rule, self.tracker, self.kind = rule, tracker, rule.spec
        self.current, self.previous, self.totals = Window(), Window(), Window()
        self.clock = created
        self.ready_at = ready_at
        self.holds_at = self.kind.condition(rule, ready_at)  # the kind's condition (kinds/)
        # (instant, id) of the latest matching records: those still in the window are examples.
        self.recent: deque[tuple[int, int]] = deque(maxlen=EXAMPLES)
        # The fast evaluator's observation not yet told to the tracker (fast.py); never here.
        self.deferred: tuple[int, int, int, int, list[int], int | None, int] | None = None

    @property
    def idle(self) -> bool:
        """Holds nothing that can still change an alert (and is not watched for absence)."""
        if self.kind.watches_silence or self.tracker.busy:
            return False
        return not (self.current.entries or self.previous.entries or self.totals.entries)

    def feed(self, arrivals: list[Arrival]) -> None:
        """Arrivals in time order; a late one counts as arriving at the group's clock."""
        for arrival in arrivals:
            self._step(arrival)
        self.flush()

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

    def run_until(self, now: int) -> None:
        """Step through every instant up to `now` where a record leaves a window."""
        self._step_until(now)
        self.flush()
        self.tracker.advance(now)

    def _step_until(self, now: int) -> None:
        while (change := self.next_change()) is not None and change <= now:
            self.expire(change)
            self.observe(change, [], 0)
        self.clock = max(self.clock, now)

    def next_change(self) -> int | None:
        """The next instant where a record leaves a window (or the group becomes ready)."""
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

    def _expire_quietly(self, now: int) -> None:
        window = self.rule.window
        if self.kind.two_windows:  # the current window's records move on to the previous one
            self.previous.extend(self.current.pop_until(now - window))
            self.previous.pop_until(now - 2 * window)
        else:
            self.current.drop_until(now - window)
        self.totals.drop_until(now - window)

    def observe(self, now: int, ids: list[int], hits: int) -> None:
        """Tell the tracker the condition's value at `now` (when it holds or an alert is open)."""
        active = self.holds(now)
        if active or self.tracker.busy:
            figures = self.figures(self.current.sum, self.totals.sum, self.previous.sum)
            self.tracker.observe(now, active, figures, ids, hits)

    def flush(self) -> None:
        """Hand a remembered observation to the tracker (the fast evaluator remembers some)."""

    def note_examples(self, arrivals: list[Arrival]) -> None:
        """Keep the ids of the latest matching records of arrivals added without stepping."""
        self.recent.extend((item[0], item[3]) for item in arrivals if item[1] and item[3] is not None)

    def examples(self, now: int) -> list[int]:
        """Ids of the latest matching records still in the window at `now`."""
        since = now - self.rule.window
        return [record for at, record in self.recent if at > since]

    def holds(self, now: int) -> bool:
        """Whether the rule's condition holds for this group at `now`."""
        other = self.previous.sum if self.kind.two_windows else self.totals.sum
        return self.holds_at(now, self.current.sum, other)

    def figures(self, count: int, total: int, previous: int) -> dict[str, Any]:
        """The numbers a summary can show."""
        return self.kind.figures(count, total, previous)
