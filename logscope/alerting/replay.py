"""Rules over a one-shot import (`ingest FILE...`): every record in event-time order, evaluated
while the import runs whenever the file allows it.

A one-shot import hands the rules its records as a backtest does: all of them, in event-time
order (ties by id). Files are mostly written in time order: then each committed block follows
the one before it, so the engine takes the blocks (through its own thread) while the next ones
are parsed and written, instead of after the whole import: the first block at once, then
100,000 records at a time, and block by block once fewer than that are still to come, so that
little is left when the import ends.
Its threads run at a lower CPU priority (priority.py), so that the import goes first and the
rules use what it leaves. That engine is *held* (nothing delivered, no errors reported) until the import ends.
If a block starts before the one before it ended, or a committed range was not seen, the held
engine is discarded and the records are replayed from the store once the import ends, as the
backtest does, `REPLAY_ROWS` at a time. Either way the engine gets the same records in the same
order, and batches never end inside an instant (the records of the last instant wait for the
next block, unless the import is done): where batches end changes nothing then
(lifecycle.Outbox), so the alerts are the same.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Collection, Iterator, Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from logscope.alerting.engine import RuleEngine
from logscope.alerting.priority import lower_thread_priority
from logscope.alerting.runner import MERGE_RECORDS
from logscope.record import Record
from logscope.store.bulk import StoredRecords, id_span, stored_columns, stored_records_in_time_order

# Chunks of the replay after an import as large as the engine merges queued batches into: its
# fixed cost per batch (about 55 ms with 50 rules) weighs little.
REPLAY_ROWS = MERGE_RECORDS
SPECULATE = True  # evaluate while importing when blocks come in time order (tests turn it off)
# Records read back with `fields` holding only the keys the rules read (store/bulk.py
# narrowed_fields; tests turn it off to compare).
NARROW_FIELDS = True

EngineFactory = Callable[[bool], RuleEngine]  # held -> a new engine
# -> (bytes imported, bytes in all, whether every record is handed on)
Progress = Callable[[], tuple[int, int, bool]]


class OrderedReplay:
    """Feeds an engine a one-shot import's records in event-time order (subscribe `on_records`
    to the pipeline, call `finish` or `abandon` after it ends; `engine` is the engine in use)."""

    def __init__(
        self,
        make_engine: EngineFactory,
        con: duckdb.DuckDBPyConnection,
        first_id: int,
        rows: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.make_engine = make_engine
        self.progress = progress
        self.con = con
        self.first_id = first_id
        self.rows = rows or REPLAY_ROWS
        # sql rules query the store at event times: only once everything is stored.
        self.held = SPECULATE
        self.engine = make_engine(self.held)
        self.ordered = self.held and not self.engine.sql_rules
        compiled = self.engine.evaluator.compiled
        self.columns = list(compiled.record_columns)
        self.field_keys = compiled.field_keys if NARROW_FIELDS else None  # (None: every key)
        self.next_id = first_id  # the first id not yet seen
        self.last_ts: int | None = None  # the latest event time taken (µs)
        self.last_instant_fed = False  # whether its records were fed whole (none held back)
        self.fed = 0  # records handed to the engine
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._queue: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if self.ordered:
            # The cursor is made here: made on the new thread, it raced the writer's use of `con`
            # ("connection is busy with another call").
            cursor = con.cursor()
            self._thread = threading.Thread(
                target=self._run, args=(cursor,), name="rules-replay", daemon=True
            )
            self._thread.start()

    def on_records(self, records: Sequence[Record]) -> None:
        """A committed batch (the pipeline subscriber): its ids are noted, its rows read on this
        object's thread."""
        if not self.ordered or not len(records):
            return
        self._queue.put(id_span(records))

    def finish(self, last_id: int, evaluate: bool = True) -> RuleEngine:
        """After the import, whose last record has id `last_id`: the engine, once it has been
        handed every record (none with `evaluate` false), ready to `close`."""
        self._stop()
        if not evaluate:
            return self.abandon()
        if not (self.ordered and self.next_id == last_id + 1):
            self._unheld()
            cursor = self.con.cursor()  # (the store's connection may serve queries meanwhile)
            try:
                for records in batches_in_time_order(
                    cursor, self.first_id, self.columns, self.rows, self.field_keys
                ):
                    self.engine.on_records(records)
            finally:
                cursor.close()
        elif self._pending_rows:
            self._feed(self._pending_rows)  # the last instant too: no record can follow it
        return self.engine

    def abandon(self) -> RuleEngine:
        """Evaluate nothing (the import failed): an engine that has delivered nothing, to close."""
        self.ordered = False  # the blocks still queued are not read
        self._stop()
        self._unheld()
        return self.engine

    def _unheld(self) -> None:
        """Drop a held engine (what it saw is not delivered) for a new one."""
        if self.held:
            self.engine.discard()
            self.engine = self.make_engine(False)
            self.held = False

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self, cursor: duckdb.DuckDBPyConnection) -> None:
        lower_thread_priority()  # as the held engine's threads: the import goes first
        try:
            while (item := self._queue.get()) is not None:
                if not self.ordered:
                    continue
                try:
                    self._take(cursor, *item)
                except Exception:  # the replay after the import reads (and reports) it again
                    self.ordered = False
        finally:
            cursor.close()

    def _take(self, cursor: duckdb.DuckDBPyConnection, first: int, last: int) -> None:
        """Read a committed range in time order; feed it on if it follows what came before."""
        if first != self.next_id:
            self.ordered = False
            return
        self.next_id = last + 1
        table = stored_columns(cursor, first, last, self.columns, self.field_keys)
        if not table.num_rows:
            return
        ts = pc.cast(table["ts"], pa.int64())
        first_ts = ts[0].as_py()
        if self.last_ts is not None and (
            first_ts < self.last_ts or (first_ts == self.last_ts and self.last_instant_fed)
        ):
            self.ordered = False  # (an instant split between two batches: replayed after all)
            return
        self.last_ts = ts[-1].as_py()
        self._add(table)

    def _add(self, table: pa.Table) -> None:
        """Records that follow the pending ones, handed on up to their last instant: the first
        block at once (rather than leave the engine idle), then once `rows` are pending, and
        block by block once fewer than `rows` are still to come (so that little is left to
        evaluate when the import ends)."""
        self._pending.append(table)
        self._pending_rows += table.num_rows
        progress = self.progress() if self.progress is not None else None
        if progress is not None and progress[2] and self._queue.empty():
            # The import's last block (every record is handed on, none waits to be taken): its
            # last instant too (_take sees to it if more come).
            self._feed(self._pending_rows)
            self.last_instant_fed = True
            return
        to_come = _still_to_come(progress, self.next_id - self.first_id)
        if not self.fed or self._pending_rows >= self.rows or (to_come is not None and to_come < self.rows):
            self._feed(self._pending_rows, whole=False)

    def _feed(self, rows: int, whole: bool = True) -> None:
        """Hand the engine the first `rows` pending records (unless `whole`, only those before
        the instant of the last of them)."""
        table = pa.concat_tables(self._pending)
        if not whole:
            rows = instant_cut(pc.cast(table["ts"], pa.int64()), rows)
        if rows:
            rest = table.slice(rows)
            self._pending = [rest] if rest.num_rows else []
            self._pending_rows = rest.num_rows
            self.fed += rows
            self.engine.on_records(StoredRecords(table.slice(0, rows)))


class CatchUpThenLive:
    """Rules over a run that follows (`tail`, `ingest --follow`, a stream): the records of the
    files it catches up on at start are evaluated as a one-shot import's (OrderedReplay: all of
    them in event-time order, delivered once the catch-up ends), then the same engine takes what
    arrives live, as it comes. Subscribe `on_records` to the pipeline and call `caught_up` (in
    the writer's thread) where the catch-up ends: no live record is handed on before it."""

    def __init__(
        self,
        replay: OrderedReplay,
        start_clock: bool = True,
        writer: object = None,
        live_seconds: float = 0.0,
    ) -> None:
        self.replay = replay
        self.start_clock = start_clock
        self.live_seconds = live_seconds  # live: evaluate at most once this often (merging batches)
        self.writer = writer  # a LogWriter whose Arrow table of each batch the engine reuses
        self.live: RuleEngine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> RuleEngine:
        return self.live if self.live is not None else self.replay.engine

    def on_records(self, records: Sequence[Record]) -> None:
        if self.live is None:
            self.replay.on_records(records)
        else:
            self.live.on_records(records)

    def caught_up(self, last_id: int, evaluate: bool = True) -> None:
        """The catch-up ended with record `last_id`: evaluate it all, deliver, go live (once)."""
        with self._lock:
            if self.live is not None:
                return
            try:
                engine = self.replay.finish(last_id, evaluate)
            except Exception as exc:  # (the store failed): the rules go on with live records
                engine = self.replay.abandon()
                engine.on_error(f"rules: evaluating the records caught up on failed: {exc}")
            engine.release()
            engine.writer = self.writer
            engine.evaluate_every(self.live_seconds)
            if self.start_clock:
                engine.start_clock()
            self.live = engine

    def abandon(self) -> RuleEngine:
        """The run failed: what the catch-up saw is not delivered (what went live was)."""
        with self._lock:
            return self.live if self.live is not None else self.replay.abandon()


def _still_to_come(progress: tuple[int, int, bool] | None, imported: int) -> float | None:
    """How many records are still to come after `imported`, judging by the bytes imported
    (Pipeline.bulk_progress); None if that is not known."""
    if progress is None or progress[0] <= 0 or progress[1] <= 0:
        return None
    done, total, _ = progress
    return max(0.0, imported * (total - done) / done)


def batches_in_time_order(
    con: duckdb.DuckDBPyConnection,
    first_id: int,
    columns: list[str],
    rows: int = REPLAY_ROWS,
    field_keys: Collection[str] | None = None,
) -> Iterator[StoredRecords]:
    """`columns` of the stored records from id `first_id` on, in event-time order (ties by id),
    about `rows` at a time: a batch never ends inside an instant (`fields` holding only
    `field_keys`, if given)."""
    rest: pa.Table | None = None
    for records in stored_records_in_time_order(con, first_id, rows, columns, field_keys):
        table = records.table if rest is None else pa.concat_tables([rest, records.table])
        while table.num_rows > rows:
            cut = instant_cut(pc.cast(table["ts"], pa.int64()), rows)
            yield StoredRecords(table.slice(0, cut))
            table = table.slice(cut)
        rest = table
    if rest is not None and rest.num_rows:
        yield StoredRecords(rest)


def instant_cut(ts: pa.ChunkedArray, rows: int) -> int:
    """Where to end a batch of records sorted by `ts` near `rows`, so that no instant is split:
    before the instant of record `rows` (the last one when `rows` is all of them), else after it
    when it is the first (0 when every record is at that instant and `rows` is all of them)."""
    count = len(ts)
    at = ts[min(rows, count - 1)]
    before = pc.sum(pc.less(ts, at)).as_py() or 0
    if before or rows < count:
        return before or (pc.sum(pc.less_equal(ts, at)).as_py() or 0)
    return 0
