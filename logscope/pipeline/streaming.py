"""The pipeline: sources → bounded queue → parse stage → batched DuckDB writer → subscribers."""

from __future__ import annotations

import ctypes
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pyarrow as pa

from logscope.parsing.base import Parser
from logscope.parsing.registry import RAW, FormatRegistry
from logscope.parsing.source_parser import SourceParser
from logscope.pipeline.bulk import BulkResult
from logscope.pipeline.figures import SourceStats, Summary
from logscope.pipeline.whole_files import BulkFile, WholeFiles
from logscope.record import Checkpoint, LineBatch, Record
from logscope.sources.base import Source
from logscope.sources.readers import FileReader
from logscope.sources.tail.identity import CheckpointBook
from logscope.sources.tail.source import TailSource
from logscope.store.views import FormatViews
from logscope.store.writer import LogWriter

# Batches (not lines) the queue holds before a source has to wait: backpressure, never a drop.
QUEUE_BATCHES = 64
FLUSH_ROWS = 50_000
FLUSH_SECONDS = 0.1
# When no batch is waiting, pending records are committed at once, but commits are kept at least
# this far apart (a commit costs a few ms; more often would slow a busy stream).
MIN_COMMIT_SECONDS = 0.025
# After a stop request, the run ends once no source has handed anything over for this long.
STOP_QUIET_SECONDS = 0.5

RecordsCallback = Callable[[list[Record]], None]
CommitHook = Callable[[], None]


# glibc's malloc gives freed memory above 1 MiB back to the system (M_TRIM_THRESHOLD). Setting it
# also keeps blocks of 128 KiB and more mapped on their own, freed at once: by default that
# threshold grows to 32 MiB as large blocks are freed, and their pages stay with the process.
_MALLOC_OPTIONS = ((-1, 1 << 20),)
# How long a thread holding the GIL keeps it while another waits (Python's default: 5 ms). DuckDB
# takes the GIL to scan each Arrow table it is handed, and our code runs between its calls: beside
# a thread parsing in Python (JSON lines' per-line plan, the rules, the miner) each of those waits
# cost up to 5 ms. A million JSON lines imported in 8.3-8.5 s instead of 9.6-9.7, the same CPU
# time (docs/benchmarks.md, "Bulk import fast path").
GIL_SWITCH_SECONDS = 0.0005


def use_system_allocator() -> None:
    """Give Arrow buffers the system allocator for the rest of the process: Arrow's default pool
    (mimalloc) keeps freed buffers, so a million nginx lines imported peaked ~60 MB higher with
    it, and `tail` ~20 MB higher after a million lines, at the same CPU time; and have glibc
    return freed blocks of 1 MiB or more at once (a million nginx lines with the bundled rules
    peaked 100 MB lower at the same CPU time; docs/benchmarks.md)."""
    pa.set_memory_pool(pa.system_memory_pool())
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # glibc only
    if mallopt is not None:
        for option, value in _MALLOC_OPTIONS:
            mallopt(option, value)


def hand_gil_over_often() -> None:
    """Have a thread waiting for the GIL get it within `GIL_SWITCH_SECONDS` (for the process)."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)


def _checkpoint_before_held(batch: LineBatch, parser: SourceParser) -> Checkpoint:
    """The batch's checkpoint, moved back to where a record the parser still holds begins.

    A held (multiline, unfinished) record is not written yet, so a restart must read it again.
    """
    checkpoint = batch.checkpoint
    assert checkpoint is not None
    held_from = parser.pending_start
    if held_from is None or held_from >= checkpoint.offset:
        return checkpoint
    return replace(checkpoint, offset=held_from)


class _SourceDone:
    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source


class Pipeline:
    """Runs sources in threads and one parse-and-write thread that commits in batches."""

    queue_capacity = QUEUE_BATCHES

    def __init__(
        self,
        writer: LogWriter | None,
        registry: FormatRegistry,
        forced: Parser | None = None,
        *,
        flush_rows: int = FLUSH_ROWS,
        flush_seconds: float = FLUSH_SECONDS,
        min_commit_seconds: float = MIN_COMMIT_SECONDS,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        use_system_allocator()
        hand_gil_over_often()
        self.writer = writer
        # One typed view per format in the database (see store/views.py).
        self.views = FormatViews(writer.con, registry.field_types) if writer is not None else None
        self.registry = registry
        self.forced = forced
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.min_commit_seconds = min_commit_seconds
        self.on_error = on_error
        self.stop = threading.Event()
        self.stats: dict[str, SourceStats] = {}
        self.summary = Summary()
        self._queue: queue.Queue[LineBatch | _SourceDone] = queue.Queue(QUEUE_BATCHES)
        self._sources: list[Source] = []
        # Whole files for the bulk-import fast path, imported before any streamed batch.
        self._whole_files = WholeFiles(self)
        self.bulk_results: dict[str, BulkResult] = {}
        self._after_bulk: list[Source] = []  # sources that start once the bulk files are read
        self._parsers: dict[str, SourceParser] = {}
        self._subscribers: list[RecordsCallback] = []
        self._caught_up: list[Callable[[int], None]] = []
        # Called with the seconds each commit of streamed records took (`--metrics`).
        self.commit_observers: list[Callable[[float], None]] = []
        self._commit_hooks: list[CommitHook] = []
        self._processor: threading.Thread | None = None
        self._lock = threading.Lock()
        self._started = 0.0
        self.fatal: str | None = None

    # --- what sources call (SourceContext) -------------------------------------------------

    def emit(self, batch: LineBatch) -> None:
        """Queue a batch, waiting while the queue is full unless the pipeline is stopping."""
        while True:
            try:
                self._queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                if self.stop.is_set() and self._processor is not None and not self._processor.is_alive():
                    return

    def report_error(self, message: str, source: str | None = None, count: int = 1) -> None:
        """See SourceContext.report_error."""
        if source is not None:
            self.stats_for(source).errors += count
        with self._lock:
            self.summary.errors.append(message)
        if self.on_error:
            self.on_error(message)

    def add_bytes(self, source: str, count: int) -> None:
        self.stats_for(source).bytes += count

    def add_drops(self, source: str, count: int) -> None:
        self.stats_for(source).drops += count

    # --- what the face calls ---------------------------------------------------------------

    def add_source(self, source: Source, *, after_bulk_files: bool = False) -> None:
        """Read `source` in a thread of its own; `after_bulk_files`: only once the bulk files are
        imported (a file follower that goes on where their import ended)."""
        self._sources.append(source)
        if after_bulk_files:
            self._after_bulk.append(source)
        if not getattr(source, "reports_per_file", False):  # a follower's files appear as read
            self.stats_for(source.name)

    def add_sources(self, sources: list[Source], book: CheckpointBook | None = None) -> None:
        """Whole files (resuming from `book`) and the files a follower finds at start (to their
        last complete line) through the bulk path; every other source as it comes."""
        for source in sources:
            if isinstance(source, FileReader):
                self.add_bulk_file(source.path, source.name, book)
            elif isinstance(source, TailSource):
                for path in source.catch_up_files():
                    self.add_bulk_file(path, path, source.book, follow=True)
                self.add_source(source, after_bulk_files=True)
            else:
                self.add_source(source)

    @property
    def only_whole_files(self) -> bool:
        """Whether every source went the bulk path (a one-shot import of whole files): the rules
        then take every record in event-time order."""
        return not self._sources

    @property
    def bulk_files(self) -> list[BulkFile]:
        """The whole files added for the bulk path."""
        return list(self._whole_files.files)

    @property
    def sources(self) -> list[Source]:
        """The sources added (not the bulk files)."""
        return list(self._sources)

    def queued_batches(self) -> int:
        """Batches waiting for the parse-and-write thread (at most QUEUE_BATCHES)."""
        return self._queue.qsize()

    def subscribe(self, callback: RecordsCallback) -> None:
        """Call `callback` with every batch of records after it is committed."""
        self._subscribers.append(callback)

    def on_caught_up(self, callback: Callable[[int], None]) -> None:
        """Call `callback(id of the last record stored)` in the writer's thread once the bulk files
        are imported, before any other source's records are committed."""
        self._caught_up.append(callback)

    def after_commit(self, hook: CommitHook) -> None:
        """Call `hook()` in the writer thread after each committed batch or bulk block (the
        patterns stage mines what was stored)."""
        self._commit_hooks.append(hook)

    def run_commit_hooks(self) -> None:
        for hook in self._commit_hooks:
            try:
                hook()
            except Exception as exc:
                self.report_error(f"{getattr(hook, '__qualname__', hook)}: {type(exc).__name__}: {exc}")

    def add_bulk_file(
        self, path: str, name: str | None = None, book: CheckpointBook | None = None, follow: bool = False
    ) -> None:
        """Read a whole file through the fast path (subscribers get each committed block).

        With a checkpoint `book`, from where earlier runs left it, checkpointing as it goes. With
        `follow`, only its complete lines: a follower of the file goes on from there."""
        self._whole_files.add(path, name or path, book, follow)
        self.stats_for(name or path)

    def bulk_progress(self) -> tuple[int, int, bool]:
        """(bytes read, bytes in all, whether every record is handed on) of the files on the
        fast path (of a compressed file, its compressed bytes). Every record is handed on once
        each file is done, or once every byte is read if each file ended with a newline (its
        block with the last bytes held its last line)."""
        return self._whole_files.progress()

    def start(self) -> None:
        self._started = time.monotonic()
        if self.writer is None:
            for bulk in self._whole_files.files:
                self._sources.append(FileReader(bulk.path))
            self._whole_files.files = []
        self._processor = threading.Thread(target=self._process, name="logscope-writer", daemon=True)
        self._processor.start()
        for source in self._sources:
            threading.Thread(
                target=self._run_source, args=(source,), name=f"source:{source.name}", daemon=True
            ).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the parse-and-write thread to finish; True when it has."""
        assert self._processor is not None
        self._processor.join(timeout)
        finished = not self._processor.is_alive()
        if finished:
            self.summary.seconds = time.monotonic() - self._started
        return finished

    def run(self) -> Summary:
        """Start, then wait until every source has ended (or stop was requested)."""
        self.start()
        while not self.wait(0.2):
            pass
        return self.summary

    def request_stop(self) -> None:
        """Stop reading; what was read is parsed, written and committed before the run ends."""
        self.summary.stop_requested = True
        self.stop.set()

    def _wait_for_items(self, seconds: float) -> bool:
        """Whether something arrives in the queue within `seconds`."""
        end = time.monotonic() + seconds
        while self._queue.empty():
            if time.monotonic() >= end:
                return False
            time.sleep(0.01)
        return True

    # --- internals -------------------------------------------------------------------------

    def stats_for(self, source: str) -> SourceStats:
        stats = self.stats.get(source)
        if stats is None:
            with self._lock:
                stats = self.stats.setdefault(source, SourceStats())
        return stats

    def _run_source(self, source: Source) -> None:
        try:
            if source in self._after_bulk:
                self._whole_files.done.wait()
            source.run(self)
        except Exception as exc:  # a broken source must not take the others down
            self.report_error(f"{source.name}: {type(exc).__name__}: {exc}", source.name)
        finally:
            self._emit_done(source.name)

    def _emit_done(self, name: str) -> None:
        stats = self.stats.get(name)
        if stats is not None:
            stats.done = True
        self.emit(_SourceDone(name))  # type: ignore[arg-type]

    def _parser_for(self, batch: LineBatch) -> SourceParser:
        """One parser per source, and per file content for checkpointed file sources.

        A rotated file and its successor share a source name; separate parsers keep a record
        held from one from ever being continued by (or checkpointed against) the other.
        """
        key = batch.checkpoint.key if batch.checkpoint is not None else batch.source
        parser = self._parsers.get(key)
        if parser is None:
            parser = self._parsers[key] = SourceParser(self.registry, self.forced)
            self._parsers.setdefault(batch.source, parser)
        return parser

    def _process(self) -> None:
        try:
            if self.views is not None:
                self.views.refresh()
            self._whole_files.import_all()
            self._announce_caught_up()
            self._process_items()
        except Exception as exc:  # the store failed: nothing more can be kept, so stop cleanly
            self.fatal = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            self.stop.set()

    def _process_items(self) -> None:
        pending: list[Record] = []
        checkpoints: dict[str, Checkpoint] = {}
        deadline = 0.0
        last_flush = 0.0
        running = len(self._sources)
        while running > 0:
            timeout = max(0.0, self._commit_at(deadline, last_flush) - time.monotonic()) if pending else 0.2
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, _SourceDone):
                running -= 1
                released = self._release_held(checkpoints, item.source)
            else:
                released = self._release_held(checkpoints)
            if released:
                if not pending:
                    deadline = time.monotonic() + self.flush_seconds
                pending.extend(released)
            if item is not None and not isinstance(item, _SourceDone) and item.records is not None:
                records = item.records  # built by the source (OTLP): nothing to parse
                self.stats_for(item.source).lines += len(records)
                self._note_parsed(item, records)
                if records and not pending:
                    deadline = time.monotonic() + self.flush_seconds
                pending.extend(records)
            elif item is not None and not isinstance(item, _SourceDone):
                parser = self._parser_for(item)
                records = parser.parse_batch(item)
                self.stats_for(item.source).lines += len(item.lines)
                self._note_parsed(item, records)
                if records and not pending:
                    deadline = time.monotonic() + self.flush_seconds
                pending.extend(records)
                if item.checkpoint is not None:
                    checkpoints[item.checkpoint.key] = _checkpoint_before_held(item, parser)
            now = time.monotonic()
            full = len(pending) >= self.flush_rows
            due = pending and (full or now >= self._commit_at(deadline, last_flush))
            if due or (checkpoints and not pending) or (running == 0 and (pending or checkpoints)):
                self._flush(pending, list(checkpoints.values()))
                pending, checkpoints = [], {}
                last_flush = now
            # Give sources a moment to hand over what they hold (listeners read what their clients
            # already sent); the run ends once none has for STOP_QUIET_SECONDS. Anything later is
            # not checkpointed, so a file source reads it again on the next run.
            if (
                self.stop.is_set()
                and self._queue.empty()
                and not pending
                and not self._wait_for_items(STOP_QUIET_SECONDS)
            ):
                break

    def _announce_caught_up(self) -> None:
        for callback in self._caught_up:
            callback(self.writer.next_id - 1 if self.writer is not None else 0)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def hand_on(self, records: list[Record]) -> None:
        """Give committed records to the subscribers (the rule engine, metrics, the TUI)."""
        for callback in self._subscribers:
            try:
                callback(records)
            except Exception as exc:
                self.report_error(f"subscriber {getattr(callback, '__name__', callback)}: {exc}")

    def count_stored(self, formats: Counter[str], source: str | None = None) -> None:
        """Count committed records (by format) in the summary and the views; with `source`, its
        unparsed (`raw`) ones too (streamed ones are counted as they are parsed)."""
        if source is not None:
            self.stats_for(source).parse_failures += formats.get(RAW, 0)
        self.summary.lines += sum(formats.values())
        self.summary.formats.update(formats)
        if self.views is not None:
            self.views.note(set(formats))

    def _release_held(self, checkpoints: dict[str, Checkpoint], ended: str | None = None) -> list[Record]:
        """Multiline records held by the parsers: all of an ended source's, others after quiet time.

        What is released covers its parser's last batch, so that batch's full checkpoint is due."""
        released: list[Record] = []
        now = time.monotonic()
        for parser in {id(parser): parser for parser in self._parsers.values()}.values():
            ending = ended is not None and parser.source == ended
            records = parser.release() if ending else parser.flush_held(now)
            if records:
                released.extend(records)
                if parser.last_checkpoint is not None:
                    checkpoints[parser.last_checkpoint.key] = parser.last_checkpoint
        return released

    def _commit_at(self, deadline: float, last_flush: float) -> float:
        """When the pending records are committed: at their deadline, or at once if nothing more
        is waiting (low latency when following); never sooner than min_commit_seconds after the
        last commit (a follower's records trickle in: the deadline alone committed every 0.1 s
        whatever min_commit_seconds said)."""
        earliest = last_flush + self.min_commit_seconds
        return earliest if self._queue.empty() else max(deadline, earliest)

    def _flush(self, records: list[Record], checkpoints: list[Checkpoint]) -> None:
        if self.writer is not None:
            started = time.perf_counter()
            self.writer.write(records, checkpoints)
            for observe in self.commit_observers:
                observe(time.perf_counter() - started)
        self._note_committed(records)
        self.count_stored(Counter(record.format for record in records))
        if records and self.writer is not None:
            self.run_commit_hooks()
        self.hand_on(records)

    def _note_parsed(self, batch: LineBatch, records: list[Record]) -> None:
        """Count unparsed (`raw`) records; remember when the oldest uncommitted line was read."""
        stats = self.stats_for(batch.source)
        stats.parse_failures += [record.format for record in records].count("raw")
        if not stats.pending_since:
            stats.pending_since = batch.received_at

    def _note_committed(self, records: list[Record]) -> None:
        """Lag per source: how long its oldest line of this commit waited since it was read."""
        now = time.time_ns() // 1000
        for stats in list(self.stats.values()):
            if stats.pending_since:
                stats.lag = max(0.0, (now - stats.pending_since) / 1e6)
                stats.pending_since = 0
