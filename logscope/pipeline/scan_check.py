"""Whether DuckDB's CSV reader splits a plain file into the lines our reader gives, checked in a
child process while the query is being set up (`logscope query SQL FILE`, pipeline/in_place.py).

The check reads the whole file (`refused`: ~0.3 s for 1.6 GB). Done in the query's own process it
came before the scan, on one core; in a thread it ran at half speed beside the set-up, as both
need the GIL for each block (docs/benchmarks.md). A child interpreter (`python -S -I` running
this file: the standard library only, ~15 ms to start) reads the big files on the other core
while this process detects formats, builds the plans and registers the fallback parser, and
prints one answer per file. Where the child cannot run or answer, the file is checked here.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Iterator

# A delimiter (two bytes) and no quote: a line is one column (`refused` refuses files holding it).
DELIMITER = "\x1f\x1e"
SCAN_BLOCK = 8 << 20
CHILD_BYTES = 64 << 20  # below this a file is checked in-process (~10 ms): a child costs more
_UNANSWERED = "?"  # the child's line for a file it could not read (checked here, which raises)


def plain_refused(path: str, block_bytes: int = SCAN_BLOCK) -> str | None:
    """`refused` over an uncompressed file, read a block at a time into one buffer."""
    with open(path, "rb", buffering=0) as handle:
        return refused(read_into(handle, bytearray(block_bytes)))


def read_into(handle, buffer: bytearray) -> Iterator[bytearray]:
    """The file's blocks, each read into `buffer` (a shorter copy for the last one)."""
    while size := handle.readinto(buffer):
        yield buffer if size == len(buffer) else buffer[:size]


def refused(blocks: Iterator[bytes | bytearray]) -> str | None:
    """Why DuckDB's CSV reader would read these bytes as other lines than ours, or None.

    It also ends lines at a lone CR, does not read NUL as U+FFFD, and refuses bad UTF-8. Each
    check runs on a block while it is in the CPU's cache (`memchr` for the bytes, `isascii`, and
    the UTF-8 decoder only on a block that is not ASCII)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    delimiter = DELIMITER.encode()
    tail = b""
    for block in blocks:
        if b"\r" in block:
            return "it holds carriage returns"
        if b"\x00" in block:
            return "it holds NUL bytes"
        # One byte first: memchr, where a two-byte find is a slower search (17x here).
        if delimiter in tail + block[:1] or (delimiter[:1] in block and delimiter in block):
            return "it holds the scan delimiter"
        if not block.isascii():
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return "it is not valid UTF-8"
        tail = bytes(block[-1:])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "it is not valid UTF-8"
    return None


class PlainChecks:
    """`plain_refused` of plain files: those of `child_bytes` or more in one child process,
    started now, the others here when asked (`answer`)."""

    def __init__(self, paths: list[str], child_bytes: int = CHILD_BYTES) -> None:
        self.in_child = [path for path in paths if _size(path) >= child_bytes]
        self.answers: dict[str, str | None] = {}
        self.child = None
        if self.in_child and sys.executable:
            import subprocess

            try:
                self.child = subprocess.Popen(
                    [sys.executable, "-S", "-I", __file__, *self.in_child],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            except OSError:
                self.child = None

    def answer(self, path: str) -> str | None:
        """`plain_refused(path)`: the child's answer if it checks this file, else checked here."""
        while path not in self.answers and self._read_one():
            pass
        if path in self.answers and self.answers[path] != _UNANSWERED:
            return self.answers[path]
        return plain_refused(path)

    def close(self) -> None:
        """Stop the child if it still runs (a query set up without all its answers)."""
        if self.child is not None:
            if self.child.poll() is None:
                self.child.kill()
            self.child.wait()
            assert self.child.stdout is not None
            self.child.stdout.close()
            self.child = None

    def _read_one(self) -> bool:
        """Read the child's next answer; False when it has no more."""
        if self.child is None or len(self.answers) >= len(self.in_child):
            return False
        assert self.child.stdout is not None
        line = self.child.stdout.readline()
        if not line.endswith("\n"):
            self.close()  # it died: the files it did not answer are checked here
            return False
        self.answers[self.in_child[len(self.answers)]] = line[:-1] or None
        if len(self.answers) == len(self.in_child):
            self.close()
        return True


def named_plain_files(names: list[str], least: int = CHILD_BYTES) -> list[str]:
    """The names that are regular files of `least` bytes or more, not gzip (those a child would
    check for `query SQL FILE`); the others are not opened."""
    from logscope.sources.compressed import GZIP_MAGIC

    plain = []
    for name in names:
        if not os.path.isfile(name):  # a glob, a directory, a pipe: the query expands or reads it
            continue
        if _size(name) < least:
            continue
        try:
            with open(name, "rb") as handle:
                if handle.read(2) != GZIP_MAGIC:
                    plain.append(name)
        except OSError:
            continue  # the query reports it
    return plain


def _size(path: str) -> int:
    """The file's size; -1 where it cannot be read (checked here, which raises the error)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _main(paths: list[str]) -> None:
    """The child: one line per file, in order: '' (scannable), the reason, or `_UNANSWERED`."""
    for path in paths:
        try:
            reason = plain_refused(path) or ""
        except OSError:
            reason = _UNANSWERED
        print(reason, flush=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
