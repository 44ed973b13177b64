"""What makes a file the same file: device, inode and a fingerprint of its first bytes.

An inode alone is not enough (a deleted file's inode is reused by the next new file), and a
path even less (rotation moves content to another name). The fingerprint is a hash of the first
FINGERPRINT_BYTES of the *uncompressed* content, written as ``"<length>:<hex>"`` so a file that
was shorter when fingerprinted can still be compared once it has grown.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, replace

from logscope.record import Checkpoint
from logscope.sources.compressed import read_compressed_head

FINGERPRINT_BYTES = 1024
# A file is recognized by content alone (a gzip or copy of a file read before) only when at least
# this many first bytes were fingerprinted: a shorter prefix is too likely to be shared.
MIN_CONTENT_MATCH = 64
GZIP_MAGIC = b"\x1f\x8b"


def fingerprint_of(head: bytes) -> str:
    """The fingerprint string for a file whose first bytes are `head` (cut to FINGERPRINT_BYTES)."""
    head = head[:FINGERPRINT_BYTES]
    return f"{len(head)}:{hashlib.blake2b(head, digest_size=16).hexdigest()}"


def fingerprint_length(fingerprint: str) -> int:
    length, _, _ = fingerprint.partition(":")
    return int(length) if length.isdigit() else 0


def matches(fingerprint: str, head: bytes) -> bool:
    """Whether content starting with `head` is the content `fingerprint` was taken from."""
    length = fingerprint_length(fingerprint)
    return len(head) >= length and fingerprint_of(head[:length]) == fingerprint


def read_head(fd: int) -> bytes:
    """The first FINGERPRINT_BYTES of an open plain file, without moving its position."""
    return os.pread(fd, FINGERPRINT_BYTES, 0)


def is_gzip(path: str) -> bool:
    """By magic bytes, or by name: a `.gz` file still being created has no magic bytes yet."""
    if path.endswith(".gz"):
        return True
    try:  # (non-blocking: a FIFO a directory holds is not waited on; it is not a regular file)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and os.pread(fd, 2, 0) == GZIP_MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


def read_gzip_head(path: str) -> bytes:
    """The first uncompressed bytes of a gzip file (as many as can be recovered)."""
    return read_compressed_head(path, FINGERPRINT_BYTES)


def new_key(dev: int, inode: int) -> str:
    """A checkpoint key for content seen for the first time: unique even when an inode is reused."""
    return f"file:{dev}:{inode}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class FileId:
    dev: int
    inode: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileId:
        return cls(stat.st_dev, stat.st_ino)


class CheckpointBook:
    """Every known file's checkpoint, from the database at start and then as batches are read.

    Followers claim the checkpoint of the content they read, so two names for one file (a
    rotated file matched by a glob, a symlink) are never read twice.
    """

    def __init__(self, checkpoints: list[Checkpoint] | None = None) -> None:
        self._by_key: dict[str, Checkpoint] = {}
        # Indexes, so finding a file's checkpoint costs the same with 10 or 100,000 of them.
        self._by_inode: dict[tuple[int, int], set[str]] = {}
        self._by_fingerprint: dict[str, set[str]] = {}
        self._lengths: Counter[int] = Counter()  # fingerprint lengths in use
        for checkpoint in checkpoints or ():
            self._put(checkpoint)
        self._loaded = dict(self._by_key)
        self._claimed: set[str] = set()
        self._lock = threading.Lock()

    def _put(self, checkpoint: Checkpoint) -> None:
        old = self._by_key.get(checkpoint.key)
        if old is not None:
            self._by_inode[(old.dev, old.inode)].discard(old.key)
            self._by_fingerprint[old.fingerprint].discard(old.key)
            self._lengths[fingerprint_length(old.fingerprint)] -= 1
        self._by_key[checkpoint.key] = checkpoint
        self._by_inode.setdefault((checkpoint.dev, checkpoint.inode), set()).add(checkpoint.key)
        self._by_fingerprint.setdefault(checkpoint.fingerprint, set()).add(checkpoint.key)
        self._lengths[fingerprint_length(checkpoint.fingerprint)] += 1

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> Checkpoint | None:
        return self._by_key.get(key)

    def stored(self, key: str) -> Checkpoint | None:
        """The checkpoint as loaded from the database at start (None: new since)."""
        return self._loaded.get(key)

    def update(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._put(checkpoint)

    def release(self, key: str) -> None:
        with self._lock:
            self._claimed.discard(key)

    def is_claimed(self, key: str) -> bool:
        return key in self._claimed

    def claim(self, file_id: FileId, head: bytes, *, by_content: bool) -> tuple[Checkpoint | None, bool]:
        """The checkpoint for this content and whether someone else is already reading it.

        A device+inode match whose fingerprint agrees wins; with `by_content`, a checkpoint whose
        fingerprint agrees (a compressed or copied rotation of a file read before) is taken too.
        """
        with self._lock:
            found = self._find(file_id, head, by_content)
            if found is None:
                return None, False
            if found.key in self._claimed:
                return found, True
            self._claimed.add(found.key)
            return found, False

    def resume(self, file_id: FileId, head: bytes, size: int | None) -> tuple[Checkpoint | None, bool]:
        """Where reading this content goes on (claimed), and whether someone else reads it already.

        `size` is the file's (None for compressed content: its checkpoint always holds). None when
        the content is new, or was truncated and rewritten since (its checkpoint is let go)."""
        found, busy = self.claim(file_id, head, by_content=True)
        if found is None or busy:
            return found, busy
        if size is None or found.offset <= size:
            return moved(found, file_id), False
        if fingerprint_length(found.fingerprint) >= FINGERPRINT_BYTES:
            # Shorter than what was read, yet the same first KiB: a copy (copytruncate) made before
            # the original was read further. Nothing of it is unread.
            return replace(moved(found, file_id), offset=size), False
        self.release(found.key)
        return None, False

    def start(self, file_id: FileId, head: bytes, offset: int = 0) -> Checkpoint:
        """A checkpoint for content seen for the first time, at `offset`, claimed by the caller."""
        checkpoint = Checkpoint(
            new_key(file_id.dev, file_id.inode), file_id.dev, file_id.inode, fingerprint_of(head), offset
        )
        self.register(checkpoint)
        return checkpoint

    def knows(self, file_id: FileId, head: bytes) -> bool:
        """Whether this content has a checkpoint (by inode or by content), claimed or not."""
        with self._lock:
            return self._find(file_id, head, by_content=True) is not None

    def register(self, checkpoint: Checkpoint) -> None:
        """A new checkpoint, claimed by the caller."""
        with self._lock:
            self._put(checkpoint)
            self._claimed.add(checkpoint.key)

    def _find(self, file_id: FileId, head: bytes, by_content: bool) -> Checkpoint | None:
        keys = self._by_inode.get((file_id.dev, file_id.inode), ())
        same_inode = [c for c in map(self._by_key.__getitem__, keys) if matches(c.fingerprint, head)]
        if same_inode:
            return max(same_inode, key=lambda c: fingerprint_length(c.fingerprint))
        if not by_content or not head:
            return None
        same_content = [
            self._by_key[key]
            for length, used in self._lengths.items()
            if used > 0 and MIN_CONTENT_MATCH <= length <= len(head)
            for key in self._by_fingerprint.get(fingerprint_of(head[:length]), ())
        ]
        if not same_content:
            return None
        unclaimed = [c for c in same_content if c.key not in self._claimed] or same_content
        return max(unclaimed, key=lambda c: (fingerprint_length(c.fingerprint), c.offset))


def moved(checkpoint: Checkpoint, file_id: FileId) -> Checkpoint:
    """The checkpoint, now pointing at the file that holds its content (a copy or gzip of it)."""
    if checkpoint.dev == file_id.dev and checkpoint.inode == file_id.inode:
        return checkpoint
    return replace(checkpoint, dev=file_id.dev, inode=file_id.inode)
