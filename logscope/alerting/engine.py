"""The rule engine: evaluates rules on each committed batch, keeps alerts, hands them to outputs.

Per committed batch: one sandboxed DuckDB query computes every rule's predicate, one more turns
the matches into arrivals per rule and group (predicates.py, counting/arrivals.py); groups that
could fire step through their windows on event time (counting/: the reference or the fast
evaluator, by `shortcuts`) and their alerts' life cycle
(lifecycle.py); changes go to the alerts table, to subscribers and to outputs, which deliver in
their own threads (actions.py). The engine evaluates one batch at a time; how batches are run
(in the caller's thread, or the engine's own with merging and predicates computed ahead) and
holding changes until release are runner.py's.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from logscope.alerting.actions import ErrorCallback, Output, build_action
from logscope.alerting.batches import same_records, span
from logscope.alerting.counting import ArrivalCollector, CountingRule, Shortcuts, key_tuple
from logscope.alerting.history import StoredValues
from logscope.alerting.lifecycle import NOTIFY_EVENTS, Alert, AlertIdSource, Change, Outbox
from logscope.alerting.loader import RuleSet
from logscope.alerting.markerrules import MarkerRule
from logscope.alerting.model import Rule
from logscope.alerting.predicates import BatchPredicates, PredicateEvaluator
from logscope.alerting.runner import MERGE_RECORDS, Hold, Sequential, Threaded
from logscope.alerting.sandbox import RuleLimitError, RuleSqlError, one_line
from logscope.alerting.sqlrules import SqlRule
from logscope.record import Record
from logscope.store.alerts import next_alert_id, write_alerts

ChangesCallback = Callable[[list[Change]], None]
TICK_SECONDS = 0.5
# The live clock moves event time on only while the newest record is live: its event time no
# further than this behind the wall clock when it arrived. Older records are history (a file
# caught up on, a replayed archive): they give the alerts `ingest` and `rules backtest` give.
LIVE_LAG_US = 3600 * 1_000_000
# Live: a firing alert's moving count and last time are written to the alerts table at most this
# often (a change of state is written at once); each write is a transaction on the store.
STORE_SECONDS = 1.0
__all__ = ["MERGE_RECORDS", "RuleEngine", "format_field_types"]


def format_field_types(parsers: Iterable[Any]) -> dict[str, str]:
    """Field name -> DuckDB type from every format's `field_types`; VARCHAR where formats disagree."""
    types: dict[str, str] = {}
    for parser in parsers:
        for name, kind in (getattr(parser, "field_types", None) or {}).items():
            types[name] = kind if types.get(name, kind) == kind else "VARCHAR"
    return types


class RuleEngine:
    """Rules over the record stream. Feed it with `on_records`; watch it with `subscribe`."""

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        store: duckdb.DuckDBPyConnection | None = None,
        format_types: dict[str, str] | None = None,
        outputs: Iterable[Output] = (),
        on_error: ErrorCallback | None = None,
        threaded: bool = False,
        held: bool = False,
        history: StoredValues | None = None,
        low_priority: bool = False,
        shortcuts: Shortcuts = Shortcuts.ALL,
    ) -> None:
        self._report = on_error or (lambda message: None)
        # held: changes and errors are kept until `release` (or dropped by `discard`).
        self._hold: Hold | None = Hold() if held else None
        self.store = store.cursor() if store is not None else None
        self.rules = list(ruleset.rules)
        ids = AlertIdSource(next_alert_id(self.store) if self.store is not None else 1)
        self.outbox = Outbox(ids, {rule.name: number for number, rule in enumerate(self.rules)})
        counting = [rule for rule in self.rules if rule.spec.counting]
        self.evaluator = PredicateEvaluator(counting, format_types)
        self.counting = {rule.name: CountingRule(rule, self.outbox, shortcuts) for rule in counting}
        self.sql_rules = {  # (and changed_after_marker rules: they too query the store)
            rule.name: (MarkerRule if rule.kind == "changed_after_marker" else SqlRule)(rule, self.outbox)
            for rule in self.rules
            if not rule.spec.counting
        }
        self.outputs = list(outputs)
        packs = {rule.name: Path(rule.file).stem for rule in self.rules if rule.file}
        self.actions = {
            name: build_action(spec, self.on_error, packs)
            for name, spec in ruleset.actions.items()
            if any(name in rule.actions for rule in self.rules)
        }
        self.disabled: dict[str, str] = {}
        self.writer: Any = None  # a LogWriter whose `last_table` holds the batch just committed
        self.collector = ArrivalCollector(self.evaluator.con, self.evaluator.compiled.plans, shortcuts)
        self.now: int | None = None
        self.origin: int | None = None  # the first event time: new_value rules learn from it
        self.history = history  # new_value rules' values stored before this run
        self.notifications = 0
        self._subscribers: list[ChangesCallback] = []
        self._store_seconds = 0.0  # live: see evaluate_every
        self._unstored: dict[int, Alert] = {}  # touched alerts not written yet, by alert id
        self._stored_at = 0.0
        self._lock = threading.RLock()
        # (event time, monotonic time, wall-clock time in µs) when the last batch was seen
        self._anchor = (0, 0.0, 0)
        self._clock: threading.Thread | None = None
        self._stop = threading.Event()
        # threaded: batches are evaluated in the engine's own thread (runner.py).
        self.runner = Threaded(self, low_priority) if threaded else Sequential(self)

    # --- what the pipeline and faces call --------------------------------------------------

    def on_error(self, message: str) -> None:
        """Report a problem (kept while the engine is held)."""
        if self._hold is not None:
            self._hold.errors.append(message)
        else:
            self._report(message)

    def subscribe(self, callback: ChangesCallback) -> None:
        """Call `callback` with every list of alert changes (in event-time order)."""
        self._subscribers.append(callback)

    def on_records(self, records: Sequence[Record], table: pa.Table | None = None) -> None:
        """Evaluate a committed batch (the pipeline subscriber).

        `table`: the store writer's Arrow table of these records, whose columns are reused;
        by default the `writer`'s latest (set `engine.writer` to the pipeline's LogWriter).
        """
        if not records:
            return
        if table is None:
            table = getattr(records, "table", None)  # records read back from the store carry theirs
        if table is None and self.writer is not None:
            table = self.writer.last_table
        if table is not None and not same_records(table, records):
            table = None  # the writer's table is of an earlier batch
        self.runner.submit(records, table)

    def process(
        self, records: Sequence[Record], table: pa.Table | None = None, ahead: Future | None = None
    ) -> None:
        """Evaluate one batch (`ahead`: its predicate table being computed by the runner)."""
        with self._lock:
            batch = self._ahead_result(ahead)
            if not isinstance(batch, BatchPredicates):
                batch = self._evaluate(records, table, failure=batch)
            if batch is None:
                return
            try:
                clock = self.now  # event time before this batch
                if self.now is None:
                    self._start(batch.first)
                now = max(self.now or 0, batch.last)
                self._feed(batch, now, clock)
            finally:
                batch.drop(self.evaluator.con)
            self.now = now
            self._anchor = _anchor_at(self.now)
            self._advance(self.now)
            self._publish()

    def _ahead_result(self, ahead: Future | None) -> BatchPredicates | RuleLimitError | None:
        """The predicate table computed ahead, if it is for the rules in force (else None: a
        failure is left to `_evaluate`, which finds and disables the failing rules; a limit
        that was reached is handed on, not reached again)."""
        if ahead is None:
            return None
        try:
            batch = ahead.result()
        except RuleLimitError as exc:
            return exc
        except (duckdb.Error, RuleSqlError):
            return None
        if batch.compiled is not self.evaluator.compiled:
            batch.drop(self.evaluator.con)
            return None
        return batch

    def advance(self, now: int) -> None:
        """Move event time to `now` with no new records (ends of tests, live clock ticks)."""
        with self._lock:
            if self.now is None:
                self._start(now)
            self.now = max(self.now or now, now)
            self._advance(self.now)
            self._publish()

    def evaluate_every(self, seconds: float) -> None:
        """Live: evaluate at most one batch this often; what is committed meanwhile is merged (a
        threaded engine; each evaluation has a fixed cost whatever its size)."""
        if isinstance(self.runner, Threaded):
            self.runner.period = seconds
        self._store_seconds = STORE_SECONDS if seconds > 0 else 0.0

    def start_clock(self, seconds: float = TICK_SECONDS) -> None:
        """Live mode: while no records arrive, event time moves on with the wall clock."""
        self._clock = threading.Thread(target=self._tick, args=(seconds,), name="alert-clock", daemon=True)
        self._clock.start()

    def close(self, timeout: float = 10.0) -> None:
        """Evaluate what is queued, stop the clock, publish (what was held too), and let outputs
        deliver what is queued."""
        self._finish()
        with self._lock:
            self._publish(flush=True)
        self.release()
        deadline = time.monotonic() + timeout
        for output in [*self.outputs, *self.actions.values()]:
            output.close(max(0.1, deadline - time.monotonic()))

    def release(self) -> None:
        """Deliver the errors and changes held so far, in order; from now on deliver at once."""
        with self._lock:
            hold, self._hold = self._hold, None
            if hold is not None:
                hold.release(self._report, self._store, self._deliver)

    def discard(self) -> None:
        """Stop a held engine, delivering nothing (what is queued is not evaluated): its outputs
        are left open for another."""
        self.runner.abandon()
        self._finish()
        self._hold = Hold()
        for action in self.actions.values():
            action.close(0.1)

    # --- internals -------------------------------------------------------------------------

    def _finish(self) -> None:
        """Evaluate what is queued; stop the engine's thread and the clock."""
        self.runner.finish()
        self._stop.set()
        if self._clock is not None:
            self._clock.join()

    def _start(self, origin: int) -> None:
        self.now = self.origin = origin
        for state in self.counting.values():
            state.start(origin)
        for sql_rule in self.sql_rules.values():
            sql_rule.start(origin)
        self._seed()

    def _seed(self) -> None:
        """new_value rules start out knowing the values of the records stored before this run."""
        if self.history is None:
            return
        seeds, errors = self.history.seeds()
        for message in errors:
            self.on_error(message)
        for name, seed in seeds.items():
            state = self.counting.get(name)
            if state is None:
                continue
            groups = len(state.rule.group_names)
            state.seed([key_tuple(key, groups) for key in seed.keys], seed.since)
            self.collector.seed(name, seed.keys, seed.since)

    def _tick(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            with self._lock:
                if self._unstored:
                    self._publish()  # (moving counts held back are written when due)
                if self.now is None:
                    continue
                anchor_ts, anchor_wall, wall_us = self._anchor
                if anchor_ts < wall_us - LIVE_LAG_US:
                    continue  # old records (a file caught up on): history, not a live stream
                target = anchor_ts + int((time.monotonic() - anchor_wall) * 1_000_000)
                if target > self.now:
                    self.now = target
                    self._advance(target)
                    self._publish()

    def _evaluate(
        self, records: Sequence[Record], table: pa.Table | None = None, failure: Exception | None = None
    ) -> BatchPredicates | None:
        """The predicate table for the batch; rules that fail are reported, disabled and left out
        (`failure`: how computing it ahead failed)."""
        while self.evaluator.rules:
            try:
                if failure is not None:
                    raise failure
                return self.evaluator.evaluate(records, table)
            except (duckdb.Error, RuleSqlError) as exc:
                failure = None
                if isinstance(exc, RuleLimitError):
                    self._renew_sandbox()
                rules = self.evaluator.rules
                if isinstance(exc, RuleLimitError) and len(rules) == 1:
                    failed = [(rules[0], str(exc))]  # (not run to the limit once more)
                else:
                    failed = self.evaluator.failing_rules(records, table)
                if not failed:
                    self.on_error(f"rules: evaluating a batch failed: {one_line(exc)}")
                    return None
                for rule, message in failed:
                    self._disable(rule, message)
                self.evaluator.without([rule for rule, _ in failed])
        first, last = span(records, table)
        if self.now is None:
            self._start(first)
        self.now = max(self.now or 0, last)
        self._anchor = _anchor_at(self.now)
        self._advance(self.now)
        self._publish()
        return None

    def _renew_sandbox(self) -> None:
        """Move the rules' state to a new sandbox: a query stopped at its memory limit leaves
        what it took with its DuckDB, freed only when that is closed (here, before the rules are
        tried one by one: else each trial would start a gigabyte higher)."""
        old = self.evaluator.renew()
        self.collector.move(old, self.evaluator.con)
        with contextlib.suppress(duckdb.Error):
            old.close()  # (waits for a query computed ahead on it: that one is under its limits too)

    def _feed(self, batch: BatchPredicates, now: int, clock: int | None) -> None:
        """Hand each counting rule the arrivals of its groups in this batch."""
        plans = [
            (index, plan)
            for index, plan in enumerate(batch.compiled.plans)
            if plan.rule.name in self.counting and batch.matched[index]
        ]
        if not plans:
            return
        live = {name: list(state.groups) for name, state in self.counting.items() if state.groups}
        arrivals = self.collector.collect(plans, now, live, clock, batch, self.origin)
        for name, groups in arrivals.items():
            self.counting[name].feed(groups)

    def _disable(self, rule: Rule, message: str) -> None:
        self.disabled[rule.name] = message
        self.counting.pop(rule.name, None)
        self.collector.forget(rule.name)
        self.sql_rules.pop(rule.name, None)
        self.on_error(f"{rule.file}: rule {rule.name!r} failed and is disabled: {message}")

    def _advance(self, now: int) -> None:
        for state in self.counting.values():
            state.advance(now)
        for sql_rule in list(self.sql_rules.values()):
            try:
                sql_rule.advance(now, self.store)
            except (RuleSqlError, duckdb.Error) as exc:
                self._disable(sql_rule.rule, str(exc) if isinstance(exc, RuleSqlError) else one_line(exc))

    def _publish(self, flush: bool = False) -> None:
        changes, touched = self.outbox.take()
        if self._hold is not None:
            if changes or touched:
                self._hold.changes.append((changes, touched))
            return
        if self.store is not None:
            self._unstored.update((alert.id, alert) for alert in touched)
            due = time.monotonic() - self._stored_at >= self._store_seconds
            if self._unstored and (flush or changes or due):
                self._stored_at = time.monotonic()
                unstored, self._unstored = list(self._unstored.values()), {}
                self._store(unstored)
        self._deliver(changes)

    def _deliver(self, changes: list[Change], until: float | None = None) -> None:
        """Hand changes to outputs, actions and subscribers (`until`: see Output.send)."""
        if not changes:
            return
        for change in changes:
            if change.event not in NOTIFY_EVENTS:
                continue
            self.notifications += 1
            for output in self.outputs:
                output.send(change.payload, until)
            for name in change.alert.rule.actions:
                action = self.actions.get(name)
                if action is not None:
                    action.send(change.payload, until)
        for callback in self._subscribers:
            try:
                callback(changes)
            except Exception as exc:
                self.on_error(f"alert subscriber {getattr(callback, '__name__', callback)}: {exc}")

    def _store(self, alerts: list[Alert]) -> None:
        """Upsert the latest state of each alert; a pending alert that was cancelled is deleted."""
        if self.store is None:
            return
        rows = []
        for alert in alerts:
            if alert.state != "cancelled":
                alert.render_summary()
                rows.append(alert.row())
        deleted = [alert.id for alert in alerts if alert.state == "cancelled"]
        try:
            write_alerts(self.store, rows, deleted)
        except duckdb.Error as exc:
            self.on_error(f"writing alerts failed: {one_line(exc)}")


def _anchor_at(now: int) -> tuple[int, float, int]:
    return now, time.monotonic(), time.time_ns() // 1000
