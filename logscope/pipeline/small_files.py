"""Many small files in few transactions: the fixed cost of each file of `ingest DIR`.

Importing a file through the bulk path (pipeline/bulk.py) costs a reader thread, a memory-limit
switch and a commit, an fsync, of its own: about 80 ms a file, when a directory of 2,000 files of
5 lines took 156 s (docs/benchmarks.md). A file smaller than SMALL_FILE_BYTES is instead read
whole, parsed by a streaming parser of its own (its format detected as the bulk path detects it,
so the stored rows are the same), and written with the next small files and the checkpoints that
cover them in one transaction: exactly once holds as it does for the bulk path.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace

from logscope.parsing.base import Parser
from logscope.parsing.registry import FormatRegistry
from logscope.parsing.source_parser import SourceParser
from logscope.pipeline.bulk import BulkResult
from logscope.record import Checkpoint, LineBatch, Record, now_us
from logscope.sources.lines import LineSplitter
from logscope.sources.tail.identity import CheckpointBook, is_gzip
from logscope.sources.tail.resume import import_checkpoint
from logscope.store.writer import LogWriter

# Files up to this size take the small-file path (a few hundred lines: most of them would go
# through the streaming parser anyway while the format is detected); larger ones the bulk path.
SMALL_FILE_BYTES = 32 * 1024
# A transaction of small files ends after this many bytes or files.
GROUP_BYTES = 8 << 20
GROUP_FILES = 2000


@dataclass
class SmallFile:
    """One small file read and parsed, waiting for its group's commit."""

    path: str
    name: str
    book: CheckpointBook | None
    result: BulkResult = field(default_factory=BulkResult)
    records: list[Record] = field(default_factory=list)
    bytes_read: int = 0
    error: str | None = None
    whole_lines: bool = False  # a last line without its newline is left to a follower
    claimed: Checkpoint | None = None  # its checkpoint as claimed in the book (released at commit)


class SmallFileGroup:
    """Small files read one by one and committed together (`commit`)."""

    def __init__(self, writer: LogWriter, registry: FormatRegistry, forced: Parser | None = None) -> None:
        self.writer = writer
        self.registry = registry
        self.forced = forced
        self.files: list[SmallFile] = []
        self.bytes = 0

    @property
    def full(self) -> bool:
        return self.bytes >= GROUP_BYTES or len(self.files) >= GROUP_FILES

    def add(self, path: str, name: str, book: CheckpointBook | None, whole_lines: bool = False) -> SmallFile:
        """Read and parse `path` from its checkpoint (claimed in `book` until the commit); with
        `whole_lines`, only up to its last newline (a follower goes on from there)."""
        small = SmallFile(path, name, book, whole_lines=whole_lines)
        self.files.append(small)
        try:
            checkpoint = small.claimed = import_checkpoint(book, path) if book is not None else None
            start = checkpoint.offset if checkpoint is not None else 0
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except OSError as exc:
            small.error = f"{path}: {exc.strerror or exc}"
            return small
        small.bytes_read = len(data)  # (a partial last line left to a follower is read again)
        self.bytes += len(data)
        splitter = LineSplitter(offset=start)
        lines, extras = splitter.feed(data)
        tail, tail_extras = ([], None) if whole_lines else splitter.flush()
        if tail:
            extras = _joined_extras(extras, len(lines), tail_extras, len(tail))
            lines += tail
        parser = SourceParser(self.registry, self.forced)
        small.records = parser.parse_batch(LineBatch(name, lines, now_us(), None, extras, final=True))
        result = small.result
        result.lines = len(lines)
        result.records = len(small.records)
        result.formats = Counter(record.format for record in small.records)
        result.skipped_bytes = start
        if checkpoint is not None:
            result.checkpoint = replace(checkpoint, offset=splitter.offset)
        return small

    def commit(self) -> list[SmallFile]:
        """Write every file's records and checkpoints in one transaction; the files, in order."""
        files, self.files, self.bytes = self.files, [], 0
        records = [record for small in files for record in small.records]
        checkpoints: list[Checkpoint] = [
            small.result.checkpoint
            for small in files
            if small.result.checkpoint is not None and _moved(small)
        ]
        try:
            self.writer.write(records, checkpoints)
        finally:
            for small in files:
                if small.book is None or small.claimed is None:
                    continue
                if small.result.checkpoint is not None:
                    small.book.update(small.result.checkpoint)
                small.book.release(small.claimed.key)  # also when the file could not be read
        return files


def is_small(path: str, size: int) -> bool:
    """Whether a plain (not compressed) file this size takes the small-file path."""
    return 0 < size <= SMALL_FILE_BYTES and os.path.isfile(path) and not is_gzip(path)


def _moved(small: SmallFile) -> bool:
    """Whether the checkpoint is new or moved (a file read before and unchanged writes nothing)."""
    checkpoint = small.result.checkpoint
    assert checkpoint is not None and small.book is not None
    stored = small.book.stored(checkpoint.key)
    return stored is None or stored.offset != checkpoint.offset


def _joined_extras(extras, count: int, more, more_count: int):
    if extras is None and more is None:
        return None
    return (extras or [None] * count) + (more or [None] * more_count)
