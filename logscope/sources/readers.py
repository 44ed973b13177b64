"""Read whole inputs to their end: plain and gzip files, stdin, FIFOs and character devices."""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import Callable

from logscope.record import LineBatch, now_us
from logscope.sources.base import SourceContext
from logscope.sources.compressed import GZIP_MAGIC, open_log
from logscope.sources.lines import LineSplitter

__all__ = ["GZIP_MAGIC", "FileReader", "StdinReader", "StreamReader", "is_stream_path", "pump"]

CHUNK_BYTES = 1 << 20
# A stream with nothing to read is looked at again this often, so a stop request is seen at once.
POLL_SECONDS = 0.2


def pump(
    read: Callable[[int], bytes],
    source: str,
    ctx: SourceContext,
    position: Callable[[], int] | None = None,
    *,
    partial_end: bool = True,
) -> None:
    """Read chunks until EOF or stop, emitting one batch of complete lines per chunk.

    `position` gives the bytes of the underlying input consumed so far, where that differs
    from the bytes returned by `read` (compressed input). `partial_end`: a last line without a
    newline is kept (False: it is dropped, for input cut off by damage).
    """
    splitter = LineSplitter()
    counted = 0
    while not ctx.stop.is_set():
        data = read(CHUNK_BYTES)
        if not data:
            break
        consumed = position() if position else counted + len(data)
        ctx.add_bytes(source, consumed - counted)
        counted = consumed
        lines, extras = splitter.feed(data)
        if lines:
            ctx.emit(LineBatch(source, lines, now_us(), None, extras))
    lines, extras = splitter.flush() if partial_end else ([], None)
    ctx.emit(LineBatch(source, lines, now_us(), None, extras, final=True))


class FileReader:
    """A file read once from start to end (gzip detected by its magic bytes, not its name)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = path

    def size_hint(self) -> int | None:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return None

    def run(self, ctx: SourceContext) -> None:
        try:
            raw, unzipped = open_log(self.path)
            with raw:
                if unzipped is None:
                    pump(raw.read1, self.name, ctx)
                    return
                # A damaged file is read to its last complete line; its broken end is reported.
                pump(unzipped.read, self.name, ctx, lambda: unzipped.consumed, partial_end=False)
                if unzipped.damage:
                    ctx.report_error(unzipped.damage, self.name)
        except OSError as exc:
            ctx.report_error(f"{self.path}: {exc.strerror or exc}", self.name)


class StdinReader:
    """Standard input, read as bytes as soon as they arrive (a pipe is not waited on to fill)."""

    name = "stdin"

    def size_hint(self) -> int | None:
        return None

    def run(self, ctx: SourceContext) -> None:
        fd = sys.stdin.fileno()
        try:
            pump(lambda size: read_when_ready(fd, size, ctx), self.name, ctx)
        except OSError as exc:
            ctx.report_error(f"stdin: {exc.strerror or exc}", self.name)


def is_stream_path(path: str) -> bool:
    """Whether `path` is a FIFO or a character device: read as a stream, never seeked or reopened."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def read_when_ready(fd: int, size: int, ctx: SourceContext) -> bytes:
    """Up to `size` bytes from a descriptor once it has some; b"" at its end or when stopping.

    Waits in short polls, so a stop request (SIGINT, SIGTERM) ends the wait at once."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    while not ctx.stop.is_set():
        if not poller.poll(POLL_SECONDS * 1000):
            continue
        try:
            return os.read(fd, size)
        except BlockingIOError:
            continue
    return b""


class StreamReader:
    """A FIFO (named pipe) or character device named as a source: read as a stream, as it comes.

    It is opened once, without waiting for a writer, and read until every writer has closed it
    (the FIFO's end of file), or, with `keep_open` (follow mode), until stopped: then writers may
    come and go. It is never seeked, peeked at or reopened, so no writer loses a byte to us.
    """

    def __init__(self, path: str, keep_open: bool = False) -> None:
        self.path = path
        self.name = path
        self.keep_open = keep_open

    def size_hint(self) -> int | None:
        return None

    def run(self, ctx: SourceContext) -> None:
        try:
            fd = os.open(self.path, self._flags() | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            ctx.report_error(f"{self.path}: {exc.strerror or exc}", self.name)
            ctx.emit(LineBatch(self.name, [], now_us(), final=True))
            return
        try:
            pump(lambda size: read_when_ready(fd, size, ctx), self.name, ctx)
        except OSError as exc:
            ctx.report_error(f"{self.path}: {exc.strerror or exc}", self.name)
        finally:
            os.close(fd)

    def _flags(self) -> int:
        # Held open for writing too, a FIFO never reaches its end while we follow it.
        if self.keep_open and stat.S_ISFIFO(os.stat(self.path).st_mode):
            return os.O_RDWR
        return os.O_RDONLY
