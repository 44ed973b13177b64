"""Whole files first: the bulk path inside a pipeline run.

Files named on the command line, and the files a follower finds at start (to their last complete
line), are imported before any streamed batch is parsed: small ones a few to a transaction
(small_files.py), larger ones block by block (bulk.py). The sources that go on where those
imports ended (a follower) start once they are done.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logscope.pipeline.bulk import BulkImporter, BulkResult
from logscope.pipeline.small_files import SmallFileGroup, is_small
from logscope.sources.tail.identity import CheckpointBook, is_gzip
from logscope.sources.tail.resume import import_checkpoint

if TYPE_CHECKING:
    from logscope.pipeline.streaming import Pipeline


@dataclass
class BulkFile:
    """A whole file for the fast path (see `Pipeline.add_bulk_file`)."""

    path: str
    name: str
    book: CheckpointBook | None = None
    follow: bool = False
    size: int = 0  # bytes, as the file was when added
    whole_lines: bool = False  # it ended with a newline then (and is not compressed)


def size_and_ending(path: str) -> tuple[int, bool]:
    """A file's size and whether it ends with a newline (False if compressed or unreadable)."""
    try:
        size = os.path.getsize(path)
        if not size or is_gzip(path):
            return size, False
        with open(path, "rb") as handle:
            handle.seek(size - 1)
            return size, handle.read(1) == b"\n"
    except OSError:
        return 0, False  # reported when it is read


class WholeFiles:
    """The whole files of one pipeline run, imported in the writer's thread before its sources."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.files: list[BulkFile] = []
        self.done = threading.Event()  # set once every file is imported (or the run stopped)

    def add(self, path: str, name: str, book: CheckpointBook | None, follow: bool) -> None:
        size, whole_lines = size_and_ending(path)
        self.files.append(BulkFile(path, name, book, follow, size, whole_lines))

    def progress(self) -> tuple[int, int, bool]:
        """See `Pipeline.bulk_progress`."""
        files = list(self.files)
        stats = [self.pipeline.stats_for(bulk.name) for bulk in files]
        read, total = sum(item.bytes for item in stats), sum(bulk.size for bulk in files)
        lines_read = read >= total and all(bulk.whole_lines for bulk in files)
        return read, total, lines_read or all(item.done for item in stats)

    def import_all(self) -> None:
        """Each file parsed and written in blocks; small files several to a transaction, in the
        same order."""
        pipeline = self.pipeline
        assert pipeline.writer is not None or not self.files
        group = SmallFileGroup(pipeline.writer, pipeline.registry, pipeline.forced)  # type: ignore[arg-type]
        try:
            for bulk in self.files:
                if pipeline.stop.is_set():
                    break
                if is_small(bulk.path, bulk.size):
                    group.add(bulk.path, bulk.name, bulk.book, bulk.follow)
                    if group.full:
                        self._commit_small(group)
                    continue
                self._commit_small(group)
                self._import(bulk)
            self._commit_small(group)
        finally:
            self.done.set()

    def _commit_small(self, group: SmallFileGroup) -> None:
        if not group.files:
            return
        pipeline = self.pipeline
        files = group.commit()
        records = [record for small in files for record in small.records]
        if records:
            pipeline.run_commit_hooks()
            # Before the bytes are counted: bulk_progress says when every record is handed on.
            pipeline.hand_on(records)
        for small in files:
            stats = pipeline.stats_for(small.name)
            stats.bytes += small.bytes_read
            stats.lines += small.result.lines
            stats.done = not small.whole_lines
            if small.error:
                pipeline.report_error(small.error, small.name)
            else:
                self._account(small.name, small.result)

    def _import(self, bulk: BulkFile) -> None:
        pipeline = self.pipeline
        stats = pipeline.stats_for(bulk.name)

        def progress(count_bytes: int, lines: int) -> None:
            stats.bytes += count_bytes
            stats.lines += lines
            pipeline.run_commit_hooks()  # called after each block is committed

        importer = BulkImporter(pipeline.writer, pipeline.registry, pipeline.forced)  # type: ignore[arg-type]
        book, checkpoint = bulk.book, None
        try:
            checkpoint = import_checkpoint(book, bulk.path) if book is not None else None
            result = importer.import_file(
                bulk.path,
                bulk.name,
                progress,
                stop=pipeline.stop,
                on_records=pipeline.hand_on if pipeline.has_subscribers else None,
                checkpoint=checkpoint,
                whole_lines=bulk.follow,
            )
        except OSError as exc:
            pipeline.report_error(f"{bulk.path}: {exc.strerror or exc}", bulk.name)
            return
        finally:
            stats.done = not bulk.follow
            if book is not None and checkpoint is not None:
                book.release(checkpoint.key)  # a follower takes the file from where this ended
        if result.damage:
            pipeline.report_error(result.damage, bulk.name)
        if book is not None and result.checkpoint is not None:
            book.update(result.checkpoint)
        self._account(bulk.name, result)

    def _account(self, name: str, result: BulkResult) -> None:
        """Count an imported file in the summary and its source's statistics."""
        pipeline = self.pipeline
        pipeline.bulk_results[name] = result
        if result.skipped_bytes:
            pipeline.summary.resumed_files += 1
            pipeline.summary.skipped_bytes += result.skipped_bytes
        pipeline.count_stored(result.formats, name)
