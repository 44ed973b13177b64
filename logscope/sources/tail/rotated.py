"""Files around a followed file: its rotated siblings, first bytes, and where its last line ends."""

from __future__ import annotations

import os

from logscope.sources.tail.identity import FINGERPRINT_BYTES

ROTATED_SEPARATORS = (".", "-", "_")
# How far back from the end a --from-end start looks for the start of the last complete line.
TAIL_LOOKBACK = 64 * 1024


def head_of(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(FINGERPRINT_BYTES)
    except OSError:
        return b""


def rotated_siblings(path: str) -> list[str]:
    """Files next to `path` whose names extend it (app.log.1, app.log-20240101, app.log.2.gz)."""
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = [
        os.path.join(directory, name)
        for name in names
        if name != base and name.startswith(base) and name[len(base)] in ROTATED_SEPARATORS
    ]
    return sorted(found)


def last_line_end(fd: int, size: int) -> int:
    """Where the last complete line of a file ends (a --from-end start never begins mid-line)."""
    start = max(0, size - TAIL_LOOKBACK)
    tail = os.pread(fd, size - start, start)
    cut = tail.rfind(b"\n")
    return start + cut + 1 if cut >= 0 else size
