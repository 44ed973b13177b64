"""Read whole inputs to their end: plain and gzip files, and stdin."""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Callable

from logscope.record import LineBatch, now_us
from logscope.sources.base import SourceContext
from logscope.sources.lines import LineSplitter

CHUNK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


def pump(
    read: Callable[[int], bytes],
    source: str,
    ctx: SourceContext,
    position: Callable[[], int] | None = None,
) -> None:
    """Read chunks until EOF or stop, emitting one batch of complete lines per chunk.

    `position` gives the bytes of the underlying input consumed so far, where that differs
    from the bytes returned by `read` (compressed input).
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
    lines, extras = splitter.flush()
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
            with open(self.path, "rb") as raw:
                compressed = raw.read(2) == GZIP_MAGIC
                raw.seek(0)
                if compressed:
                    with gzip.GzipFile(fileobj=raw) as unzipped:
                        pump(unzipped.read, self.name, ctx, raw.tell)
                else:
                    pump(raw.read1, self.name, ctx)
        except (EOFError, gzip.BadGzipFile) as exc:
            ctx.report_error(f"{self.path}: corrupt gzip data ({exc})")
        except OSError as exc:
            ctx.report_error(f"{self.path}: {exc.strerror or exc}")


class StdinReader:
    """Standard input, read as bytes as soon as they arrive (a pipe is not waited on to fill)."""

    name = "stdin"

    def size_hint(self) -> int | None:
        return None

    def run(self, ctx: SourceContext) -> None:
        fd = sys.stdin.fileno()
        try:
            pump(lambda size: os.read(fd, size), self.name, ctx)
        except OSError as exc:
            ctx.report_error(f"stdin: {exc.strerror or exc}")
