"""Reading one file's content as it grows, from a checkpoint onward, batch by batch."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

from logscope.record import Checkpoint, LineBatch, now_us
from logscope.sources.base import SourceContext
from logscope.sources.compressed import CompressedReader
from logscope.sources.lines import LineSplitter
from logscope.sources.tail.identity import (
    FINGERPRINT_BYTES,
    CheckpointBook,
    FileId,
    fingerprint_length,
    fingerprint_of,
    matches,
    read_gzip_head,
    read_head,
)

CHUNK_BYTES = 1 << 20
# Bytes one follower reads per turn before the others get theirs.
TURN_BYTES = 8 << 20
Report = Callable[[str, str], None]  # (key, message): a problem reported once per key


class Follower:
    """One file (one identity) read from an offset on; the file handle may be closed and reopened.

    `name` is the source name its records carry: the path it was found by, kept when the file is
    renamed by rotation so a log's lines keep one source.
    """

    def __init__(
        self,
        path: str,
        name: str,
        file_id: FileId,
        checkpoint: Checkpoint,
        book: CheckpointBook,
        fd: int | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.file_id = file_id
        self.checkpoint = checkpoint
        self.book = book
        self.fd = fd
        self.splitter = LineSplitter(offset=checkpoint.offset, track_offsets=True)
        self.detached = False  # the path no longer leads here (renamed, deleted, replaced)
        self.last_growth = time.monotonic()
        self.last_used = self.last_growth

    @property
    def position(self) -> int:
        """Bytes of the file consumed (complete lines plus a held partial line)."""
        return self.splitter.offset + self.splitter.pending_bytes

    @property
    def key(self) -> str:
        return self.checkpoint.key

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def size(self) -> int | None:
        """The file's current size through the open handle (None when closed)."""
        if self.fd is None:
            return None
        return os.fstat(self.fd).st_size

    def replaced_in_place(self) -> bool:
        """Whether the content we read is gone: the file shrank, or its first bytes changed.

        The fingerprint check catches a truncation that the writer already outgrew before we
        looked (copytruncate under a fast writer).
        """
        assert self.fd is not None
        if os.fstat(self.fd).st_size < self.position:
            return True
        length = fingerprint_length(self.checkpoint.fingerprint)
        if length == 0:
            return False
        return not matches(self.checkpoint.fingerprint, os.pread(self.fd, length, 0))

    def restart(self, checkpoint: Checkpoint) -> None:
        """Read the same file anew from `checkpoint` (its old content was truncated away)."""
        self.checkpoint = checkpoint
        self.splitter = LineSplitter(offset=checkpoint.offset, track_offsets=True)

    def read_available(self, ctx: SourceContext, budget: int = TURN_BYTES) -> int:
        """Read what was appended, up to `budget` bytes, emitting batches; the bytes read."""
        assert self.fd is not None
        total = self._read_from(self.fd, ctx, budget)
        if total:
            self.last_growth = time.monotonic()
        self.last_used = time.monotonic()
        return total

    def read_other(self, ctx: SourceContext, path: str) -> None:
        """Read this content's continuation from another file holding it (a copytruncate copy)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._read_from(fd, ctx, budget=1 << 62)
        finally:
            os.close(fd)

    def _read_from(self, fd: int, ctx: SourceContext, budget: int) -> int:
        total = 0
        while total < budget and not ctx.stop.is_set():
            data = os.pread(fd, CHUNK_BYTES, self.position)
            if not data:
                break
            total += len(data)
            if fd == self.fd:
                self._refresh_fingerprint()
            self.feed(ctx, data)
        return total

    def feed(self, ctx: SourceContext, data: bytes) -> None:
        """Split bytes of this content into lines and emit them with their checkpoint."""
        ctx.add_bytes(self.name, len(data))
        lines, extras = self.splitter.feed(data)
        if lines:
            self._emit(ctx, lines, extras, list(self.splitter.last_offsets))

    def flush_partial(self, ctx: SourceContext) -> None:
        """Emit a held partial line as a line of its own (quiet time passed, or rotation)."""
        lines, extras = self.splitter.flush()
        if lines:
            self._emit(ctx, lines, extras, list(self.splitter.last_offsets))

    def emit_checkpoint(self, ctx: SourceContext) -> None:
        """Record where this content starts being read, before any line of it is (from-end)."""
        self._emit(ctx, [], None, [self.splitter.offset])

    def _emit(self, ctx: SourceContext, lines: list[str], extras, offsets: list[int]) -> None:
        self.checkpoint = replace(self.checkpoint, offset=self.splitter.offset)
        self.book.update(self.checkpoint)
        batch = LineBatch(self.name, lines, now_us(), None, extras, self.checkpoint, offsets)
        ctx.emit(batch)

    def _refresh_fingerprint(self) -> None:
        """Fingerprints of files shorter than FINGERPRINT_BYTES grow with them."""
        if fingerprint_length(self.checkpoint.fingerprint) >= FINGERPRINT_BYTES:
            return
        assert self.fd is not None
        head = read_head(self.fd)
        if len(head) > fingerprint_length(self.checkpoint.fingerprint):
            self.checkpoint = replace(self.checkpoint, fingerprint=fingerprint_of(head))


def read_gzip_rest(path: str, follower: Follower, ctx: SourceContext) -> str | None:
    """Feed the uncompressed content of a gzip file after the follower's offset, then flush.

    A damaged file is read to its last complete line; returns the damage (one line), else None."""
    with open(path, "rb") as raw:
        unzipped = CompressedReader(raw, path)
        unzipped.skip(follower.position)
        while not ctx.stop.is_set():
            data = unzipped.read(CHUNK_BYTES)
            if not data:
                break
            follower.feed(ctx, data)
    if not ctx.stop.is_set() and not unzipped.damage:
        follower.flush_partial(ctx)
    return unzipped.damage


def read_compressed(
    path: str, name: str, file_id: FileId, book: CheckpointBook, ctx: SourceContext, report: Report
) -> bool:
    """Read a gzip file from its checkpoint (from the start when its content is new); False when
    its content is being read by another follower (try again later)."""
    head = read_gzip_head(path)
    found, busy = book.resume(file_id, head, None)
    if busy:
        return False
    if found is None:
        found = book.start(file_id, head)
    follower = Follower(path, name, file_id, found, book)
    try:
        damage = read_gzip_rest(path, follower, ctx)
        if damage:
            report(path, damage)
        if follower.checkpoint.offset == found.offset:
            follower.emit_checkpoint(ctx)  # this file's own identity, for the next start
    except OSError as exc:
        report(path, f"{path}: cannot read compressed file ({exc})")
    finally:
        book.release(found.key)
    return True
