"""The fast evaluator: a group's windows as the reference steps through them (reference.py),
with the shortcuts that skip what cannot change an alert. Each is switched by `Shortcuts`.

- cannot_fire: with no alert open, arrivals that even counted all at once would not reach the
  kind's bound (kinds/: `Bound`) are added in bulk, and so are expiries that cannot make the
  condition hold;
- bounds: stretches of arrivals the kind's stretch bound rules out (bounds.py);
- dry_runs: for kinds whose condition can start to hold as records leave, the arrivals before
  the first instant where it holds, found by a tight loop (stretches.py);
- held_stretches: while an open alert's condition keeps holding and no timer falls due, only
  its latest figures change: those stretches are added at once, the last instant's figures kept
  as the deferred observation (told to the tracker when anything else happens).
"""

from __future__ import annotations

from logscope.alerting.counting.bounds import quiet_span
from logscope.alerting.counting.reference import ReferenceGroup
from logscope.alerting.counting.shortcuts import Shortcuts
from logscope.alerting.counting.stretches import scan
from logscope.alerting.counting.window import Arrival
from logscope.alerting.lifecycle import Tracker
from logscope.alerting.model import Rule


class FastGroup(ReferenceGroup):
    """One group of a counting rule, with the shortcuts `shortcuts` allows."""

    __slots__ = ("shortcuts",)

    def __init__(
        self, rule: Rule, tracker: Tracker, created: int, ready_at: int, shortcuts: Shortcuts
    ) -> None:
        super().__init__(rule, tracker, created, ready_at)
        self.shortcuts = shortcuts

    def feed(self, arrivals: list[Arrival]) -> None:
        """Arrivals in time order; a late one counts as arriving at the group's clock."""
        in_order = arrivals[0][0] >= self.clock
        shortcuts = self.shortcuts
        if in_order and shortcuts.cannot_fire and self._cannot_fire(arrivals):
            self._feed_quietly(arrivals)
            return
        dry_run = in_order and shortcuts.dry_runs and not self.kind.only_falls
        stretches = in_order and shortcuts.held_stretches
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
        proven = quiet_span(self, arrivals) if self.shortcuts.bounds else 0
        if proven:
            self._feed_quietly(arrivals[:proven])
            if proven == len(arrivals):
                return proven
            arrivals = arrivals[proven:]
        return proven + scan(self, arrivals, 0, False, None)

    def _cannot_fire(self, arrivals: list[Arrival]) -> bool:
        """No alert is open and even counting every arrival at once would not reach the bound."""
        bound = self.kind.bound(self.rule)
        if self.tracker.busy or bound is None:
            return False
        hits = self.current.sum + sum(item[1] for item in arrivals)
        return not bound.reachable(hits, self.totals.sum + sum(item[2] for item in arrivals))

    def _feed_quietly(self, arrivals: list[Arrival]) -> None:
        """Add arrivals in bulk: the condition stays false throughout, so there is nothing to observe."""
        self.current.extend((item[0], item[1]) for item in arrivals if item[1])
        self.totals.extend((item[0], item[2]) for item in arrivals if item[2])
        self.note_examples(arrivals)
        self.clock = arrivals[-1][0]
        self._expire_quietly(self.clock)

    def _step_until(self, now: int) -> None:
        if self.shortcuts.cannot_fire and self._expiry_cannot_fire():
            self._expire_quietly(now)
            self.clock = max(self.clock, now)
        elif self.kind.two_windows:
            super()._step_until(now)
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
        if self.kind.only_falls:
            return True  # counts only fall
        bound = self.kind.bound(self.rule)
        return bound is not None and not bound.reachable(self.current.sum, self.totals.sum)

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

    def flush(self) -> None:
        """Hand a remembered observation to the tracker."""
        if self.deferred is not None:
            now, count, total, previous, ids, ids_at, hits = self.deferred
            self.deferred = None
            self.tracker.observe(now, True, self.figures(count, total, previous), ids, hits, ids_at)
