"""The last lines of the files `tail` follows, read before anything else is loaded: what the log
view shows of a fresh database until the pipeline has stored its first records (lnav shows a file's
end at once; the parsed records take their place a second or so later)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

# Read from each file's end: enough for a tall terminal's lines, little enough to cost nothing.
TAIL_BYTES = 64 * 1024


def file_ends(paths: Iterable[str], count: int) -> list[tuple[str, str]]:
    """Up to `count` (file name, line) pairs from the ends of the regular files among `paths`, the
    most recently modified file's last (at the bottom, where the newest records will be)."""
    found = []
    for path in paths:
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(info.st_mode) and info.st_size:
            found.append((info.st_mtime, path))
    lines: list[tuple[str, str]] = []
    for _, path in sorted(found):
        name = os.path.basename(path)
        lines += [(name, line) for line in last_lines(path, count)]
    return lines[-count:] if count > 0 else []


def last_lines(path: str, count: int) -> list[str]:
    """The file's last `count` complete lines (within its last TAIL_BYTES), tabs expanded."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - TAIL_BYTES))
            data = file.read(TAIL_BYTES)
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > TAIL_BYTES and lines:
        lines = lines[1:]  # (the first may have been cut)
    return [line.expandtabs() for line in lines[-count:] if line.strip()]
