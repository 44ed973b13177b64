"""Bulk import of whole files: the fast path of one-shot `ingest` (docs/benchmarks.md).

A file is read in blocks of complete lines (never whole: memory stays bounded). The first lines
go through the streaming `SourceParser`, which detects the format exactly as the streaming path
does. When the detected format has a vectorized plan (parsing/vectorized/plans.py), each block is parsed by
RE2 and DuckDB, otherwise (JSON lines, logfmt, ...) by the format's own `parse` per line straight
into Arrow columns (parsing/vectorized/per_line.py), in the reader thread, and written in one transaction
(store/bulk.py); the lines the plan cannot read exactly, and everything after them that a
multiline format holds, go through the same `SourceParser`, line by line, in order. Multiline
formats have no plan: their blocks go through `parse_batch` whole.
Either way the stored rows equal the streaming path's (tests/test_bulk_identity.py).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC

import pyarrow as pa
import pyarrow.compute as pc

from logscope.parsing.base import Parser
from logscope.parsing.registry import FormatRegistry
from logscope.parsing.source_parser import SourceParser
from logscope.parsing.vectorized.per_line import ParserPlan, parser_plan_for
from logscope.parsing.vectorized.plans import RegexPlan, plan_for
from logscope.record import Checkpoint, LineBatch, Record, now_us
from logscope.sources.compressed import read_blocks
from logscope.sources.lines import Extras, LineSplitter
from logscope.store.bulk import ROW_GROUP_ROWS, BulkStore, Parsed
from logscope.store.writer import LogWriter

BLOCK_BYTES = 8 << 20
# When more of a block's lines than this share need the streaming parser, the plan is dropped.
MAX_FALLBACK_SHARE = 0.2
MAX_PLANS = 3  # formats planned in the order lines are tried
JUDGED_BLOCK_LINES = 1000  # smaller blocks (a file's tail) say too little to drop the plan

Plan = RegexPlan | ParserPlan

Progress = Callable[[int, int], None]
RecordsCallback = Callable[[list[Record]], None]


@dataclass
class BulkResult:
    """What importing one file did."""

    lines: int = 0
    records: int = 0
    fast_records: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    plan: str | None = None  # the format the fast path parsed, or why there was none
    skipped_bytes: int = 0  # (uncompressed) bytes an earlier run had read already
    checkpoint: Checkpoint | None = None  # how far the file is read now
    damage: str | None = None  # a compressed file's damaged end, one line (read up to it)


class BulkImporter:
    """Imports whole files through the fast path, writing with the pipeline's `LogWriter`."""

    def __init__(self, writer: LogWriter, registry: FormatRegistry, forced: Parser | None = None) -> None:
        self.writer = writer
        self.store = BulkStore(writer)
        self.registry = registry
        self.forced = forced

    def import_file(
        self,
        path: str,
        source: str | None = None,
        progress: Progress | None = None,
        *,
        stop: threading.Event | None = None,
        block_bytes: int = BLOCK_BYTES,
        on_records: RecordsCallback | None = None,
        checkpoint: Checkpoint | None = None,
        whole_lines: bool = False,
        commit_rows: int = ROW_GROUP_ROWS,
    ) -> BulkResult:
        """Import `path` to its end (or until `stop` is set); `progress(bytes, lines)` after each
        commit, which comes once the blocks written hold `commit_rows` rows or more (and DuckDB's
        last row group of them is more than half full), or after each block of rows too wide to
        wait for that (store/bulk_commits.py `commit_due`).

        With a `checkpoint`, reading starts at its offset, and each block's rows are committed
        with the checkpoint moved past them (sources/tail/resume.py). With `whole_lines`, a last
        line without its newline is left unread (a follower reads it once it is complete).

        A reader thread reads, splits and (once the plan is known) runs RE2 on the next block
        while this thread parses and writes the current one in DuckDB: both release the GIL."""
        run = _FileRun(self, source or path, on_records, checkpoint)
        start = checkpoint.offset if checkpoint is not None else 0
        run.result.skipped_bytes = start
        self.store.commit_rows = commit_rows
        with self.store.import_settings():
            reader = _BlockReader(path, block_bytes, run, start, whole_lines)
            return self._import(run, reader, progress, stop)

    def _import(
        self, run: _FileRun, reader: _BlockReader, progress: Progress | None, stop: threading.Event | None
    ) -> BulkResult:
        counted = written = lines_read = 0  # bytes handed to `progress`, bytes and lines written
        try:
            for lines, extras, consumed, prepared, final, end in reader:
                stopping = stop is not None and stop.is_set() and not final
                if stopping:
                    run.block([], None, True)  # what was read is kept, held records included
                else:
                    run.block(lines, extras, final, prepared, end)
                    written, lines_read = consumed, lines_read + len(lines)
                # Progress (and the commit hooks it runs) once the blocks written are committed.
                if run.commit(final or stopping, written - counted):
                    self.store.checkpoint_if_due()
                    if progress is not None:
                        progress(written - counted, lines_read)
                    counted, lines_read = written, 0
                if stopping:
                    break
        finally:
            try:
                run.commit(True)  # the blocks written before an error, as each was before
            finally:
                reader.close()
        run.result.damage = reader.damage[0] if reader.damage else None
        return run.result


@dataclass
class Prepared:
    """A block read ahead for the first plan: its Arrow table, and what the plan's `ok` pass
    made of it (store/bulk.py `BulkStore.parse_ahead`)."""

    plan: Plan
    table: pa.Table
    parsed: Parsed


# lines, their extras, bytes of the file consumed, the block prepared, final, end offset
_Item = tuple[list[str], Extras | None, int, Prepared | None, bool, int]


class _BlockReader:
    """Blocks of lines from a file, read ahead by one thread (at most `AHEAD` blocks wait)."""

    AHEAD = 1

    def __init__(
        self, path: str, block_bytes: int, run: _FileRun, start: int = 0, whole_lines: bool = False
    ) -> None:
        self.path = path
        self.block_bytes = block_bytes
        self.run = run
        self.start = start
        self.whole_lines = whole_lines
        self.queue: queue.Queue[_Item | BaseException | None] = queue.Queue(self.AHEAD)
        self.cancelled = threading.Event()
        self.damage: list[str] = []  # a damaged compressed file's one-line report
        self.thread = threading.Thread(target=self._read, name=f"bulk:{path}", daemon=True)
        self.thread.start()

    def __iter__(self) -> Iterator[_Item]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.cancelled.set()
        while self.thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)
        self.thread.join()

    def _put(self, item: _Item | BaseException | None) -> None:
        while not self.cancelled.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _read(self) -> None:
        splitter = LineSplitter(offset=self.start)
        try:
            consumed = 0
            for data, consumed in read_blocks(self.path, self.block_bytes, self.start, self.damage):
                if self.cancelled.is_set():
                    return
                lines, extras = splitter.feed(data)
                self._put((lines, extras, consumed, self._prepare(lines), False, splitter.offset))
            # The bytes after a damaged file's last newline are a line cut off: not kept, so the
            # checkpoint stays after the last complete line.
            cut_off = self.whole_lines or bool(self.damage)
            lines, extras = ([], None) if cut_off else splitter.flush()
            self._put((lines, extras, consumed, None, True, splitter.offset))
            self._put(None)
        except BaseException as exc:  # handed to the importing thread, which raises it
            self._put(exc)

    def _prepare(self, lines: list[str]) -> Prepared | None:
        plan = self.run.plan
        if plan is None or not lines:
            return None
        return self.run.prepare(plan, lines)


def prepare_block(plan: Plan, lines: list[str], keys: list[int] | None = None) -> pa.Table:
    """The Arrow table of a block the plan's SQL reads, with the line numbers in it."""
    block = plan.prepare_lines(lines)
    return block.append_column("key", pa.array(range(len(lines)) if keys is None else keys, pa.int64()))


class _FileRun:
    """The state of one file's import: its parser, the plan, the next line number."""

    def __init__(
        self,
        importer: BulkImporter,
        source: str,
        on_records: RecordsCallback | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.importer = importer
        self.source = source
        self.parser = SourceParser(importer.registry, importer.forced)
        self.plans: list[Plan] = []
        self.plan: Plan | None = None  # the first plan: the reader thread prepares blocks for it
        self.on_records = on_records
        self.checkpoint = checkpoint  # the file's, at the start of the next block
        # The offset after the current block's lines: where the checkpoint is, until a block moves
        # it (a block without lines never moves it back).
        self.end_offset = checkpoint.offset if checkpoint is not None else 0
        self.next_key = 0
        self.result = BulkResult()

    def block(
        self,
        lines: list[str],
        extras: Extras | None,
        final: bool,
        prepared: Prepared | None = None,
        end_offset: int | None = None,
    ) -> None:
        """Parse and write one block; `end_offset`: the file offset after its lines (None: the
        block adds no lines, and the checkpoint stays where the last block left it)."""
        if end_offset is not None:
            self.end_offset = end_offset
        first_key = self.next_key
        self.next_key += len(lines)
        self.result.lines += len(lines)
        received_at = now_us()
        keyed: list[tuple[int, Record]] = []
        handled: list[int] = []
        if self.parser.sampling:
            sampled = range(min(len(lines), _sampling_left(self.parser)))
            keyed, handled = self._python(lines, extras, list(sampled), first_key, received_at, 0)
        start = handled[-1] + 1 if handled else 0
        plans = self._settle_plans()
        if not plans:
            self._write_records(lines[start:], extras[start:] if extras else None, keyed, received_at, final)
            return
        store = self.importer.store
        try:
            not_ok = self._parse_passes(plans, lines, prepared)
            self._write_planned(
                plans, lines, extras, final, not_ok, keyed, handled, first_key, start, received_at
            )
        finally:
            store.done()

    def prepare(self, plan: Plan, lines: list[str]) -> Prepared:
        """The block's Arrow table for `plan`, and its `ok` pass (in the reader thread, while the
        importing thread writes the block before)."""
        table = prepare_block(plan, lines)
        return Prepared(plan, table, self.importer.store.parse_ahead(table, plan))

    def _parse_passes(self, plans: list[Plan], lines: list[str], prepared: Prepared | None) -> list[int]:
        """Parse the block with the first plan, the lines it surely rejects with the next, and so
        on, as the streaming parser tries the formats in order; the lines left to that parser."""
        store = self.importer.store
        ahead = prepared if prepared is not None and prepared.plan is plans[0] else None
        table = ahead.table if ahead is not None else prepare_block(plans[0], lines)
        uncertain: list[int] = []
        for number, plan in enumerate(plans):
            not_ok = store.parse(table, plan, ahead.parsed if ahead is not None and not number else None)
            if number == len(plans) - 1 or not not_ok:
                break
            rejected = pc.filter(table.column("key"), plan.rejected(table)).to_pylist()
            refused = set(rejected)
            uncertain += [key for key in not_ok if key not in refused]
            if not rejected:
                not_ok = []
                break
            table = prepare_block(plans[number + 1], [lines[key] for key in rejected], rejected)
        return sorted(uncertain + not_ok)

    def _write_planned(
        self, plans, lines, extras, final, not_ok, keyed, handled, first_key, start, received_at
    ) -> None:
        """Write a block the plans parsed: their `ok` rows and what the streaming parser made."""
        if len(lines) >= JUDGED_BLOCK_LINES and len(not_ok) > MAX_FALLBACK_SHARE * len(lines):
            # Most lines are in formats without a plan: line-by-line fallback would cost more
            # than the streaming parser on the whole block, so that takes this block and the rest.
            self.plans = []
            self.plan = None
            self.result.plan = f"none ({len(not_ok):,} of {len(lines):,} lines in formats without a plan)"
            self._write_records(lines[start:], extras[start:] if extras else None, keyed, received_at, final)
            return
        wanted = set(not_ok)
        if extras is not None:
            wanted.update(index for index, extra in enumerate(extras) if extra)
        more, more_handled = self._python(
            lines, extras, sorted(i for i in wanted if i >= start), first_key, received_at, start
        )
        keyed += more
        handled += more_handled
        if final:
            keyed += self._release(first_key + len(lines))
        not_ok_set = set(not_ok)
        formats = self.importer.store.write(
            source=self.source,
            received_at=received_at,
            fallback=keyed,
            skip=[first_key + i for i in handled if i not in not_ok_set],
            key_offset=first_key,
            all_parsed=not not_ok,
            checkpoints=self._checkpoints(),
        )
        fast = sum(formats.values()) - len(keyed)
        self.result.fast_records += fast
        self.result.records += sum(formats.values())
        self.result.formats.update(formats)

    def commit(self, final: bool = False, held_bytes: int = 0) -> bool:
        """Commit the blocks written (`held_bytes` of the file) once the store's transaction holds
        enough rows (`final`: in any case) and hand their records on, a block at a time; whether
        all written is committed."""
        store = self.importer.store
        spans = store.commit_if_due(final, held_bytes)
        if self.on_records is not None:
            for span in spans:
                self.on_records(store.committed_records(span))
        return store.open_from is None

    def _write_records(self, lines, extras, keyed, received_at, final) -> None:
        """No plan (yet): the streaming parser takes the block whole, as the streaming path does."""
        self.commit(True)  # the blocks before are committed (and handed on) first
        records = [record for _, record in sorted(keyed, key=lambda item: item[0])]
        batch = LineBatch(self.source, lines, received_at, None, extras, final=final)
        if lines or final:
            records += self.parser.parse_batch(batch)
        self.importer.writer.write(records, self._checkpoints())
        self._count(0, None, [(0, record) for record in records])
        if self.on_records is not None and records:
            self.on_records(records)

    def _checkpoints(self) -> list[Checkpoint]:
        """The file's checkpoint moved past this block, unless the parser holds a record begun in
        it (then the next block's checkpoint covers it)."""
        if self.checkpoint is None or self.parser.pending_start is not None:
            return []
        self.checkpoint = replace(self.checkpoint, offset=self.end_offset)
        self.result.checkpoint = self.checkpoint
        return [self.checkpoint]

    def _settle_plans(self) -> list[Plan]:
        """Once sampling is over, the plans for the formats lines are tried against first, in
        that order, up to the first format without one (at most MAX_PLANS)."""
        if self.plans or self.result.plan is not None or self.parser.sampling:
            return self.plans
        reason = "no formats"
        for candidate in self.parser.order[:MAX_PLANS]:
            planned = _plan_for(candidate)
            if isinstance(planned, str):
                reason = planned
                break
            self.plans.append(planned)
        if not self.plans:
            self.result.plan = f"none ({reason})"
            return []
        self.plan = self.plans[0]
        self.result.plan = ", ".join(plan.name for plan in self.plans)
        return self.plans

    def _python(self, lines, extras, indices, first_key, received_at, start):
        """Parse lines `indices` (and the lines a held record may take) with the streaming parser.

        Returns the records, each with the line number it starts at, and the lines parsed."""
        parser = self.parser
        keyed: list[tuple[int, Record]] = []
        handled: list[int] = []
        wanted = iter(indices)
        holding = parser.pending_start is not None and start < len(lines)
        position = start if holding else next(wanted, None)
        while position is not None:
            held_from = parser.pending_start
            batch = LineBatch(
                self.source,
                [lines[position]],
                received_at,
                None,
                [extras[position]] if extras is not None else None,
                offsets=[first_key + position, first_key + position + 1],
            )
            records = parser.parse_batch(batch)
            handled.append(position)
            released = held_from is not None and len(records) > 0
            keys = ([held_from] if released else []) + [first_key + position] * (len(records) - released)
            keyed.extend(zip(keys, records, strict=True))
            if parser.pending_start is not None and position + 1 < len(lines):
                position += 1
            else:
                position = next((index for index in wanted if index > position), None)
        return keyed, handled

    def _release(self, end_key: int) -> list[tuple[int, Record]]:
        held_from = self.parser.pending_start
        return [(held_from if held_from is not None else end_key, r) for r in self.parser.release()]

    def _count(self, fast: int, plan: Plan | None, fallback: list[tuple[int, Record]]) -> None:
        result = self.result
        if plan is not None and fast:
            result.formats[plan.name] += fast
            result.fast_records += fast
        for _, record in fallback:
            result.formats[record.format] += 1
        result.records += fast + len(fallback)


def _plan_for(parser: Parser) -> Plan | str:
    """The vectorized plan for the format, else the per-line one, else why there is none."""
    clock = getattr(parser, "clock", None)
    planned = plan_for(parser, getattr(parser, "zone", UTC), clock() if clock else None)
    return parser_plan_for(parser) if isinstance(planned, str) else planned


def _sampling_left(parser: SourceParser) -> int:
    from logscope.parsing.source_parser import SAMPLE_LINES

    return SAMPLE_LINES - parser._sampled if parser.sampling else 0
