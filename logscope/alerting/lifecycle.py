"""The life of one alert: inactive → pending → firing (after `for`) → resolved, with re-notify."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from logscope.alerting.durations import format_duration
from logscope.alerting.model import Rule
from logscope.alerting.template import render

EXAMPLES = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# What happened to an alert. Outputs are told about `firing`, `renotify` and `resolved`;
# the alerts table and subscribers also see `pending` and `cancelled` (pending that never fired).
NOTIFY_EVENTS = frozenset({"firing", "renotify", "resolved"})


def iso(micros: int | None) -> str | None:
    """RFC 3339 in UTC with milliseconds, as every output writes times (`2026-11-20T14:06:30.000Z`)."""
    if micros is None:
        return None
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass
class Alert:
    """One alert instance: a rule and a group, from the time its condition first held."""

    id: int
    rule: Rule
    group: tuple[str | None, ...]
    state: str = "pending"
    first_at: int = 0
    fired_at: int | None = None
    last_at: int = 0
    resolved_at: int | None = None
    count: int = 0
    matched: int = 0  # matching records counted into this alert since it began
    value: float | None = None
    summary: str = ""
    example_ids: list[int] = field(default_factory=list)
    notified_at: int | None = None
    updated_at: int = 0
    notifications: int = 0
    values: dict[str, Any] = field(default_factory=dict)  # the figures the summary can show

    def row(self) -> dict[str, Any]:
        """The alert as a row of the alerts table (store/alerts.py)."""
        return {
            "id": self.id,
            "rule": self.rule.name,
            "kind": self.rule.kind,
            "severity": self.rule.severity,
            "state": self.state,
            "group_key": self.group_key,
            "labels": self.labels,
            "first_at": self.first_at,
            "fired_at": self.fired_at,
            "last_at": self.last_at,
            "resolved_at": self.resolved_at,
            "updated_at": self.updated_at,
            "count": self.count,
            "value": self.value,
            "summary": self.summary,
            "example_ids": list(self.example_ids),
            "notifications": self.notifications,
        }

    def render_summary(self) -> str:
        """Fill in the rule's summary template with the alert's latest figures."""
        rule = self.rule
        values = {
            "rule": rule.name,
            "severity": rule.severity,
            "description": rule.description,
            "window": format_duration(rule.window),
            "threshold": rule.threshold,
            "factor": rule.factor,
            "limit": rule.ratio,
            "limit_pct": f"{rule.ratio:.1%}",
            "state": self.state,
            "first": iso(self.first_at),
            "last": iso(self.last_at),
            **rule.labels,
            **self.values,
            **self.group_labels,
        }
        self.summary = render(rule.summary, values)
        return self.summary

    @property
    def group_labels(self) -> dict[str, str | None]:
        return dict(zip(self.rule.group_names, self.group, strict=False))

    @property
    def group_key(self) -> str:
        return ",".join(f"{name}={value}" for name, value in self.group_labels.items())

    @property
    def labels(self) -> dict[str, Any]:
        return {**self.rule.labels, **self.group_labels}

    def to_json(self, event: str, at: int) -> dict[str, Any]:
        """The alert as sent to outputs: what happened (`event`) at event time `at`."""
        return {
            "event": event,
            "at": iso(at),
            "id": self.id,
            "rule": self.rule.name,
            "kind": self.rule.kind,
            "severity": self.rule.severity,
            "state": self.state,
            "group": self.group_labels,
            "labels": self.labels,
            "summary": self.summary,
            "description": self.rule.description,
            "count": self.count,
            "value": self.value,
            "first_at": iso(self.first_at),
            "fired_at": iso(self.fired_at),
            "last_at": iso(self.last_at),
            "resolved_at": iso(self.resolved_at),
            "example_ids": list(self.example_ids),
            "notifications": self.notifications,
        }


@dataclass
class Change:
    """An alert and what just happened to it, at which event time."""

    alert: Alert
    event: str
    at: int
    payload: dict[str, Any]


class AlertIdSource:
    """Hands out alert ids (continuing after the highest one stored)."""

    def __init__(self, start: int = 1) -> None:
        self.next = start

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


class Outbox:
    """What trackers report: changes in the order they happened, and alerts whose figures moved.

    New alerts get their ids when they are taken, in the order they began (then by rule and
    group), and changes at one instant come in rule and group order: so neither depends on
    how the records were split into batches, as long as no instant was split between two.
    """

    def __init__(self, ids: AlertIdSource | None = None, order: dict[str, int] | None = None) -> None:
        self.ids = ids or AlertIdSource()
        self.order = order or {}  # rule name -> its place among the rules
        self.changes: list[Change] = []
        self.touched: dict[int, Alert] = {}  # by id(alert): a new alert has no id yet

    def touch(self, alert: Alert) -> None:
        self.touched[id(alert)] = alert

    def emit(self, change: Change) -> None:
        self.touch(change.alert)
        self.changes.append(change)

    def take(self) -> tuple[list[Change], list[Alert]]:
        """The changes (in event-time order) and every alert touched since the last call."""
        for alert in sorted((alert for alert in self.touched.values() if not alert.id), key=self._began):
            alert.id = self.ids.take()
        changes = sorted(self.changes, key=lambda change: (change.at, *self._rule_group(change.alert)))
        for change in changes:
            change.payload["id"] = change.alert.id
        touched = list(self.touched.values())
        self.changes, self.touched = [], {}
        return changes, touched

    def _began(self, alert: Alert) -> tuple:
        return (alert.first_at, *self._rule_group(alert))

    def _rule_group(self, alert: Alert) -> tuple:
        group = tuple((value is None, value or "") for value in alert.group)
        return (self.order.get(alert.rule.name, len(self.order)), alert.rule.name, group)


class Tracker:
    """Follows one rule+group's condition over event time and produces Changes."""

    __slots__ = ("active", "alert", "group", "outbox", "rule", "values")

    def __init__(self, rule: Rule, group: tuple, outbox: Outbox) -> None:
        self.rule, self.group, self.outbox = rule, group, outbox
        self.alert: Alert | None = None
        self.active = False
        self.values: dict[str, Any] = {}

    @property
    def busy(self) -> bool:
        """Has a pending or firing alert."""
        return self.alert is not None

    def next_timer(self) -> int | None:
        """When `for` runs out or a re-notification is due, if the condition keeps holding."""
        alert = self.alert
        if alert is None or not self.active:
            return None
        if alert.state == "pending":
            return alert.first_at + self.rule.for_
        if self.rule.renotify > 0 and alert.notified_at is not None:
            return alert.notified_at + self.rule.renotify
        return None

    def advance(self, until: int, *, inclusive: bool = True) -> None:
        """Nothing changed up to `until`: fire pending alerts whose `for` ran out, re-notify."""
        while (due := self.next_timer()) is not None and (due < until or (inclusive and due == until)):
            alert = self.alert
            assert alert is not None
            if alert.state == "pending":
                self._fire(due)
            else:
                alert.notified_at = due
                alert.notifications += 1
                self._emit("renotify", due)

    def observe(
        self,
        at: int,
        active: bool,
        values: dict[str, Any],
        ids: list[int] = (),
        hits: int = 0,
        ids_at: int | None = None,
    ) -> None:
        """The condition's value from `at` on, with the figures the summary shows.

        `ids` are the latest matching records (when records arrived), kept as examples, and
        `ids_at` when the latest of them arrived (`at` if not given); `hits` how many matching
        records arrived since the last observation told.
        """
        self.advance(at, inclusive=False)  # what falls due at `at` depends on the new value
        alert = self.alert
        if active:
            self.values = values
            if alert is None:
                alert = self.alert = Alert(0, self.rule, self.group, first_at=at, last_at=at)
                self._update(alert, at, ids, hits, ids_at)
                self.active = True
                if self.rule.for_ == 0:
                    self._fire(at)
                else:
                    self._emit("pending", at)
                return
            self._update(alert, at, ids, hits, ids_at)
            self.advance(at)
        elif alert is not None:
            # A resolved alert keeps the figures and summary it last fired with.
            if alert.state == "firing":
                alert.state, alert.resolved_at = "resolved", at
                self._emit("resolved", at)
            else:
                alert.state = "cancelled"
                self._emit("cancelled", at)
            self.alert = None
        self.active = active

    def _update(self, alert: Alert, at: int, ids: list[int], hits: int, ids_at: int | None) -> None:
        self.outbox.touch(alert)
        alert.updated_at = at
        alert.matched += hits
        if self.rule.spec.counts_every_match:
            # Every match is deduplicated into the open alert: count them all, not the window.
            self.values = {**self.values, "count": alert.matched}
        if ids:
            alert.last_at = at if ids_at is None else ids_at
            alert.example_ids = list(ids)[-EXAMPLES:]
        alert.count = int(self.values.get("count") or 0)
        value = self.values.get("value")
        alert.value = float(value) if value is not None else None
        alert.values = self.values  # the summary is filled in when someone looks (render_summary)

    def _fire(self, at: int) -> None:
        alert = self.alert
        assert alert is not None
        alert.state, alert.fired_at, alert.notified_at = "firing", at, at
        alert.notifications += 1
        self._emit("firing", at)

    def _emit(self, event: str, at: int) -> None:
        alert = self.alert
        assert alert is not None
        alert.updated_at = max(alert.updated_at, at)
        alert.render_summary()
        self.outbox.emit(Change(alert, event, at, alert.to_json(event, at)))


class IntervalRule:
    """A rule evaluated at each multiple of its interval the event clock passes (sql and
    changed_after_marker rules); a subclass says what one evaluation does (`run_at`)."""

    def __init__(self, rule: Rule, outbox: Outbox) -> None:
        self.rule, self.outbox = rule, outbox
        self.trackers: dict[tuple, Tracker] = {}
        self.last_run: int | None = None

    def start(self, origin: int) -> None:
        """Called once with the engine's first event time: the first run is at the first
        multiple of the interval after it."""
        self.last_run = origin - origin % self.rule.interval

    def advance(self, now: int, store: duckdb.DuckDBPyConnection | None) -> None:
        """Evaluate at every interval boundary in (last run, now]."""
        interval = self.rule.interval
        if self.last_run is None:
            self.start(now)
        boundary = self.last_run + interval
        while boundary <= now:
            self.run_at(boundary, store)
            self.last_run = boundary
            boundary += interval
        for tracker in self.trackers.values():
            tracker.advance(now)

    def run_at(self, at: int, store: duckdb.DuckDBPyConnection | None) -> None:
        raise NotImplementedError
