"""Reading gzip content to its last recoverable byte: truncated or damaged files are not an error
that loses what came before the damage.

Python's `gzip.GzipFile` raises `EOFError` when a file ends early and drops what the failing
`read` had already decompressed; a resumed read then fails at once. `CompressedReader` decodes with
zlib directly, a bounded amount at a time (a small file cannot expand into unbounded memory),
returns every byte zlib can recover, and then says what was wrong in `damage`, one line naming the
file. Concatenated members (`cat a.gz b.gz`) and zero padding after the last member are read as
`gzip` reads them.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
INPUT_BYTES = 256 * 1024
# At most this much is recovered from the input chunk in which corruption was found.
SALVAGE_LIMIT = 64 * 1024 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS
READ_BLOCK = 8 << 20  # `read_blocks`' default block


class CompressedReader:
    """A gzip file's uncompressed bytes, read like a file; `damage` is set once the data ends early
    or is corrupt (what came before is returned)."""

    def __init__(self, raw: BinaryIO, path: str) -> None:
        self.raw = raw
        self.path = path
        self.damage: str | None = None
        self.position = 0  # uncompressed bytes returned (or skipped) so far
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._pending = b""  # compressed input not yet given to the inflater
        self._member_started = False  # the current member has had input
        self._ended = False

    @property
    def consumed(self) -> int:
        """Compressed bytes of the file taken so far (for progress)."""
        return self.raw.tell() - len(self._pending) - len(self._inflater.unconsumed_tail)

    def read(self, size: int) -> bytes:
        """Up to `size` uncompressed bytes; b"" at the end of the data (or at damage)."""
        out = bytearray()
        while len(out) < size and not self._ended:
            out += self._inflate(size - len(out))
        return bytes(out)

    def skip(self, count: int) -> int:
        """Skip `count` uncompressed bytes (decompressing them); the bytes actually skipped."""
        skipped = 0
        while skipped < count:
            data = self.read(min(count - skipped, 1 << 20))
            if not data:
                break
            skipped += len(data)
        return skipped

    def _inflate(self, limit: int) -> bytes:
        inflater = self._inflater
        source = inflater.unconsumed_tail or self._next_input()
        if not source:
            self._end_of_file()
            return b""
        self._member_started = True
        backup = inflater.copy()
        try:
            data = inflater.decompress(source, limit)
        except zlib.error as exc:
            data = _salvage(backup, source)
            self.position += len(data)
            self._fail(f"corrupt compressed data after {self.position:,} uncompressed bytes ({exc})")
            return data
        self.position += len(data)
        if inflater.eof:
            self._next_member(inflater.unused_data)
        return data

    def _next_input(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self.raw.read(INPUT_BYTES)

    def _next_member(self, rest: bytes) -> None:
        """A member ended: the next starts in `rest` (or later in the file); zeros are padding."""
        rest = rest.lstrip(b"\x00")
        while not rest:
            more = self.raw.read(INPUT_BYTES)
            if not more:
                self._ended = True
                return
            rest = more.lstrip(b"\x00")
        if not rest.startswith(GZIP_MAGIC[: len(rest)]):
            self._fail("data after the end of the compressed stream is not gzip; it is ignored")
            return
        self._pending = rest
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._member_started = False

    def _end_of_file(self) -> None:
        if self._member_started and not self._inflater.eof:
            self._fail(
                f"compressed data ends early (truncated file?) after {self.position:,}"
                " uncompressed bytes; every complete line before it is kept"
            )
        self._ended = True

    def _fail(self, reason: str) -> None:
        self._ended = True
        if self.damage is None:
            self.damage = f"{self.path}: {reason}"


def _salvage(inflater: zlib._Decompress, source: bytes, piece: int = 512) -> bytes:
    """What `source` decompresses to before the corrupt spot: fed a piece at a time, and the piece
    that fails fed again a byte at a time from a copy, so the data zlib produced before it noticed
    the damage (all of it when only the trailer's CRC or length is wrong) is kept."""
    out = bytearray()
    for start in range(0, len(source), piece):
        backup = inflater.copy()
        try:
            out += inflater.decompress(source[start : start + piece])
        except zlib.error:
            out += _salvage_bytes(backup, source[start : start + piece])
            break
        if len(out) >= SALVAGE_LIMIT:
            break
    return bytes(out)


def _salvage_bytes(inflater: zlib._Decompress, piece: bytes) -> bytes:
    """What `piece` decompresses to, a byte at a time, up to the byte zlib refuses."""
    out = bytearray()
    for index in range(len(piece)):
        try:
            out += inflater.decompress(piece[index : index + 1])
        except zlib.error:
            break
    return bytes(out)


def is_gzip_file(raw: BinaryIO) -> bool:
    """Whether an open file starts with the gzip magic bytes (its position is kept at 0)."""
    compressed = raw.read(2) == GZIP_MAGIC
    raw.seek(0)
    return compressed


def read_compressed_head(path: str, size: int) -> bytes:
    """The first `size` uncompressed bytes of a gzip file (as many as can be recovered)."""
    try:
        with open(path, "rb") as raw:
            return CompressedReader(raw, path).read(size)
    except OSError:
        return b""


def open_log(path: str) -> tuple[BinaryIO, CompressedReader | None]:
    """Open a file to read: its raw handle, and a decompressing reader when it is gzip."""
    raw = open(path, "rb")  # noqa: SIM115 (the caller closes it)
    try:
        if os.fstat(raw.fileno()).st_size and is_gzip_file(raw):
            return raw, CompressedReader(raw, path)
    except OSError:
        raw.close()
        raise
    return raw, None


def read_blocks(
    path: str, block_bytes: int = READ_BLOCK, start: int = 0, damage: list[str] | None = None
) -> Iterator[tuple[bytes, int]]:
    """The file's bytes from (uncompressed) offset `start` in blocks, with the bytes of the file
    consumed so far (gzip by magic). Damaged gzip data is read to its last recoverable byte and
    the damage (one line naming the file) appended to `damage`."""
    raw, unzipped = open_log(path)
    with raw:
        if unzipped is not None:
            unzipped.skip(start)
            while data := unzipped.read(block_bytes):
                yield data, unzipped.consumed
            if unzipped.damage and damage is not None:
                damage.append(unzipped.damage)
        else:
            raw.seek(start)
            consumed = start
            while data := raw.read(block_bytes):
                consumed += len(data)
                yield data, consumed
