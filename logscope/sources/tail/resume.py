"""Where a one-shot import of a file starts: after what any earlier run stored of that content.

`ingest FILE` keeps the same checkpoints as follow mode (docs/tailing.md), so importing a file
again reads only what was appended since, a rotated copy (or `.gz`) of a file read before is read
from where the original was left, and `ingest --follow` or `tail` later resumes where it ended.
"""

from __future__ import annotations

import os
from dataclasses import replace

from logscope.record import Checkpoint
from logscope.sources.tail.identity import (
    FINGERPRINT_BYTES,
    CheckpointBook,
    FileId,
    fingerprint_length,
    fingerprint_of,
    is_gzip,
    moved,
    new_key,
    read_gzip_head,
)
from logscope.sources.tail.rotated import head_of


def import_checkpoint(book: CheckpointBook, path: str) -> Checkpoint:
    """The checkpoint to import `path` from (offset in uncompressed bytes), claimed in `book`.

    Raises OSError when the file cannot be read."""
    info = os.stat(path)
    file_id = FileId.of(info)
    compressed = is_gzip(path)
    head = read_gzip_head(path) if compressed else head_of(path)
    found, _ = book.claim(file_id, head, by_content=True)
    if found is not None:
        if compressed or found.offset <= info.st_size:
            return moved(found, file_id)
        if fingerprint_length(found.fingerprint) >= FINGERPRINT_BYTES:
            # Shorter than what was read, with the same first KiB: a copy made earlier (copytruncate).
            return replace(moved(found, file_id), offset=info.st_size)
        book.release(found.key)  # truncated and rewritten since: new content
    checkpoint = Checkpoint(
        new_key(file_id.dev, file_id.inode), file_id.dev, file_id.inode, fingerprint_of(head), 0
    )
    book.register(checkpoint)
    return checkpoint
