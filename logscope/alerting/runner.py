"""How the rule engine's batches are run: in the caller's thread (`Sequential`, the default) or
in the engine's own thread (`Threaded`: a bounded queue, batches that queued up merged, the next
batch's predicates computed ahead, optionally at a lower CPU priority); and `Hold`, the changes
of an engine kept until it is released (a replay before it goes live). The engine (engine.py)
evaluates one batch at a time and knows nothing of threads.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from logscope.alerting.batches import Joined, concat
from logscope.alerting.lifecycle import Alert, Change
from logscope.alerting.priority import lower_thread_priority
from logscope.record import Record

if TYPE_CHECKING:
    from logscope.alerting.engine import RuleEngine

QUEUE_BATCHES = 8
MERGE_RECORDS = 100_000  # batches that queued up are evaluated as one, up to this many records
RELEASE_SECONDS = 10.0
_NOTHING = object()  # nothing queued


class Sequential:
    """Evaluates each batch at once, in the caller's thread."""

    def __init__(self, engine: RuleEngine) -> None:
        self.engine = engine

    def submit(self, records: Sequence[Record], table: pa.Table | None) -> None:
        self.engine.process(records, table)

    def finish(self) -> None:
        """Nothing is queued."""

    def abandon(self) -> None:
        """Nothing is queued."""


class Threaded:
    """Batches wait in a bounded queue for the engine's own thread (the writer only waits when it
    is full), so rule evaluation overlaps parsing and writing. While one batch steps through its
    windows, the next one's predicates are computed on another thread (DuckDB works without the
    GIL), on a cursor of the sandbox."""

    def __init__(self, engine: RuleEngine, low_priority: bool = False) -> None:
        self.engine = engine
        self.low_priority = low_priority
        self._queue: queue.Queue[tuple[Sequence[Record], pa.Table | None] | None] | None
        self._queue = queue.Queue(QUEUE_BATCHES)
        self._ending = False  # take nothing more from the queue
        # Live: a batch waits until this long after the previous one began, so that the batches
        # committed meanwhile are evaluated as one (each evaluation has a fixed cost of several
        # queries and an alerts-table write, whatever its size).
        self.period = 0.0
        self._began = 0.0
        self._finishing = threading.Event()
        self._worker = threading.Thread(target=self._work, name="alert-engine", daemon=True)
        self._worker.start()

    def submit(self, records: Sequence[Record], table: pa.Table | None) -> None:
        assert self._queue is not None
        self._queue.put((records, table))

    def finish(self) -> None:
        """Evaluate what is queued and stop the thread."""
        if self._queue is not None:
            self._finishing.set()
            self._queue.put(None)
            self._worker.join()
            self._queue = None

    def abandon(self) -> None:
        """Stop the thread without evaluating what is queued."""
        self._ending = True
        self.finish()

    def _work(self) -> None:
        """Evaluate queued batches in order; batches that queued up meanwhile are evaluated as one."""
        if self.low_priority:
            lower_thread_priority()  # (and so the thread computing predicates ahead, started here)
        engine = self.engine
        ahead = ThreadPoolExecutor(1, thread_name_prefix="alert-predicates")
        cursor = engine.evaluator.con.cursor()
        sandbox = engine.evaluator.con
        try:
            current = self._take(wait=True)
            future = self._predicates_ahead(ahead, cursor, current)
            while current is not None:
                following = self._take(wait=False)
                upcoming = self._predicates_ahead(ahead, cursor, following)
                try:
                    engine.process(*current, ahead=future)
                except Exception as exc:  # a bug must not stop alerting for the rest of the run
                    engine.on_error(f"rules: {type(exc).__name__}: {exc}")
                if sandbox is not engine.evaluator.con:  # renewed (a rule hit a limit): move over
                    _settle(upcoming)
                    cursor.close()
                    cursor, sandbox = engine.evaluator.con.cursor(), engine.evaluator.con
                    upcoming = self._predicates_ahead(ahead, cursor, following)
                if following is _NOTHING:
                    following = self._take(wait=True)
                    upcoming = self._predicates_ahead(ahead, cursor, following)
                current, future = following, upcoming
        finally:
            ahead.shutdown()
            cursor.close()

    def _take(self, *, wait: bool) -> Any:
        """The next batch with what queued up behind it: (records, table); None at the end;
        _NOTHING when nothing is queued and `wait` is false."""
        assert self._queue is not None
        if self._ending:
            return None
        try:
            item = self._queue.get(block=wait)
        except queue.Empty:
            return _NOTHING
        if item is None:
            return None
        if wait and self.period > 0:
            self._finishing.wait(max(0.0, self._began + self.period - time.monotonic()))
        self._began = time.monotonic()
        parts, tables = [item[0]], [item[1]]
        count = len(item[0])
        while count < MERGE_RECORDS:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._ending = True
                break
            parts.append(more[0])
            tables.append(more[1])
            count += len(more[0])
        records = parts[0] if len(parts) == 1 else Joined(parts)
        table = None
        if all(t is not None for t in tables):
            table = tables[0] if len(tables) == 1 else concat(tables)
        return records, table

    def _predicates_ahead(
        self, ahead: ThreadPoolExecutor, cursor: duckdb.DuckDBPyConnection, batch: Any
    ) -> Future | None:
        """Start computing a batch's predicate table: (the compiled rules used, the table)."""
        evaluator = self.engine.evaluator
        if batch is None or batch is _NOTHING or not evaluator.rules:
            return None
        compiled = evaluator.compiled
        return ahead.submit(lambda: evaluator.evaluate(*batch, con=cursor, compiled=compiled))


def _settle(future: Future | None) -> None:
    """Wait for a computation ahead whose result is not wanted any more."""
    if future is not None:
        with contextlib.suppress(Exception):  # (its batch is computed again)
            future.result()


class Hold:
    """An engine's changes and errors, kept until it is released: then delivered in order."""

    def __init__(self) -> None:
        self.changes: list[tuple[list[Change], list[Alert]]] = []
        self.errors: list[str] = []

    def release(
        self,
        report: Callable[[str], None],
        store: Callable[[list[Alert]], None],
        deliver: Callable[[list[Change], float], None],
    ) -> None:
        for message in self.errors:
            report(message)
        touched = {alert.id: alert for _, alerts in self.changes for alert in alerts}
        if touched:
            store(list(touched.values()))
        # Held changes come at once: outputs get time to take them (not beyond RELEASE_SECONDS).
        until = time.monotonic() + RELEASE_SECONDS
        for changes, _ in self.changes:
            deliver(changes, until)
