"""The records at the end of a log file, read without reading the file: for a first screen at once.

`logscope tail BIGFILE` must not make the user wait for an import before showing anything
(issue 17). `file_end` detects the format on the file's first lines (as ingest does), then seeks
back from the end, a block at a time, until it holds the last `count` lines, and parses those:
the cost depends on `count`, not on the file's size. The records are the ones ingest stores for
those lines, except for a multiline record that began before the window (its first lines are not
read) and the ids, which a caller knowing no line count cannot give.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from logscope.parsing.base import Parser
from logscope.parsing.registry import FormatRegistry
from logscope.parsing.source_parser import SAMPLE_LINES, SourceParser
from logscope.record import LineBatch, Record, now_us
from logscope.sources.lines import LineSplitter

HEAD_BYTES = 1 << 20
BACK_BYTES = 1 << 16


@dataclass
class FileEnd:
    """The last records of a file, and where their first line starts (bytes from the start)."""

    records: list[Record]
    start_offset: int
    size: int
    format: str | None  # the format detected on the file's first lines


def file_end(path: str, count: int, registry: FormatRegistry, forced: Parser | None = None) -> FileEnd:
    """The records of the last `count` lines of `path` (a plain file; not gzip)."""
    parser = SourceParser(registry, forced)
    received = now_us()
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = _lines(handle.read(min(size, HEAD_BYTES)), complete_only=size > HEAD_BYTES)
        parser.parse_batch(LineBatch(path, head[:SAMPLE_LINES], received))
        data, start = _tail_bytes(handle, size, count)
    lines = _lines(data, complete_only=False)[-count:] if count > 0 else []
    start = start + _offset_of_last(data, len(lines)) if lines else size
    records = parser.parse_batch(LineBatch(path, lines, received, final=True))
    detected = parser.order[0].name if parser.order else None
    return FileEnd(records, start, size, detected)


def _tail_bytes(handle, size: int, count: int) -> tuple[bytes, int]:
    """The file's last bytes holding at least `count` complete lines (or the whole file), and the
    offset they start at."""
    start, data = size, b""
    while start > 0 and data.count(b"\n", 0, max(len(data) - 1, 0)) <= count:
        step = min(start, max(BACK_BYTES, len(data)))
        start -= step
        handle.seek(start)
        data = handle.read(step) + data
    if start > 0:
        data = data[data.index(b"\n") + 1 :]  # the first line is cut: drop it
        start = size - len(data)
    return data, start


def _offset_of_last(data: bytes, lines: int) -> int:
    """Where, in `data`, the last `lines` lines begin."""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    position = end
    for _ in range(lines):
        position = data.rfind(b"\n", 0, position)
        if position < 0:
            return 0
    return position + 1


def _lines(data: bytes, complete_only: bool) -> list[str]:
    """`data` split as our file readers split it (the same decoding and line cap)."""
    splitter = LineSplitter()
    lines, _ = splitter.feed(data)
    if not complete_only:
        rest, _ = splitter.flush()
        lines += rest
    return lines
