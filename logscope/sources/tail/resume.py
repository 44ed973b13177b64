"""Where a one-shot import of a file starts: after what any earlier run stored of that content.

`ingest FILE` keeps the same checkpoints as follow mode (docs/tailing.md), so importing a file
again reads only what was appended since, a rotated copy (or `.gz`) of a file read before is read
from where the original was left, and `ingest --follow` or `tail` later resumes where it ended.
"""

from __future__ import annotations

import os

from logscope.record import Checkpoint
from logscope.sources.tail.identity import CheckpointBook, FileId, is_gzip, read_gzip_head
from logscope.sources.tail.rotated import head_of


def import_checkpoint(book: CheckpointBook, path: str) -> Checkpoint:
    """The checkpoint to import `path` from (offset in uncompressed bytes), claimed in `book`.

    Raises OSError when the file cannot be read."""
    info = os.stat(path)
    file_id = FileId.of(info)
    compressed = is_gzip(path)
    head = read_gzip_head(path) if compressed else head_of(path)
    found, _ = book.resume(file_id, head, None if compressed else info.st_size)
    return found if found is not None else book.start(file_id, head)
