"""A counting rule's groups: fed arrivals, moved along event time, by either evaluator."""

from __future__ import annotations

from logscope.alerting.counting.fast import FastGroup
from logscope.alerting.counting.reference import ReferenceGroup
from logscope.alerting.counting.shortcuts import Shortcuts
from logscope.alerting.counting.window import Arrival
from logscope.alerting.lifecycle import Outbox, Tracker
from logscope.alerting.model import Rule


class CountingRule:
    """A counting rule's groups: feeds them arrivals and moves them along event time."""

    def __init__(self, rule: Rule, outbox: Outbox, shortcuts: Shortcuts = Shortcuts.ALL) -> None:
        self.rule, self.outbox, self.kind = rule, outbox, rule.spec
        self.shortcuts = shortcuts
        self.groups: dict[tuple, ReferenceGroup] = {}
        self.origin: int | None = None  # the first event time the engine saw
        self.seen: set[tuple] = set()  # first-seen kinds: every value met so far
        self.learn_from: int | None = None  # first-seen kinds: where the stored history starts
        self.full = False

    def seed(self, values: list[tuple], since: int) -> None:
        """First-seen kinds: values stored before this run are known; learning started at `since`."""
        self.seen.update(values)
        self.learn_from = since

    def start(self, origin: int) -> None:
        """Called once with the first event time; an ungrouped absence rule starts watching."""
        self.origin = origin
        if self.kind.watched_from_start(self.rule):
            self._group((), origin)

    def _group(self, key: tuple, at: int) -> ReferenceGroup:
        group = self.groups.get(key)
        if group is None:
            rule = self.rule
            tracker = Tracker(rule, key, self.outbox)
            ready = self.kind.ready_at(rule, at, self.origin if self.origin is not None else at)
            if self.shortcuts.any:
                group = FastGroup(rule, tracker, at, ready, self.shortcuts)
            else:
                group = ReferenceGroup(rule, tracker, at, ready)
            self.groups[key] = group
        return group

    def feed(self, arrivals: dict[tuple, list[Arrival]]) -> None:
        for key, items in arrivals.items():
            if self.kind.first_seen:
                if key in self.seen and key not in self.groups:
                    continue  # a known value: the common case
                for item in items:
                    self._feed_first_seen(key, item)
            else:
                self._group(key, items[0][0]).feed(items)

    def _feed_first_seen(self, key: tuple, item: Arrival) -> None:
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
