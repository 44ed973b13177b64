"""The link from a running pipeline to the app: commit notices and per-source rates."""

from __future__ import annotations

import os
import stat
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logscope.record import Record

if TYPE_CHECKING:  # (the app starts before the pipeline's modules are loaded)
    from logscope.pipeline.streaming import Pipeline


@dataclass(frozen=True)
class SourceLine:
    """One row of the sources table."""

    name: str
    records: int
    lines: int | None = None
    bytes: int | None = None
    rate: float | None = None  # lines per second over the last RATE_SECONDS
    errors: int | None = None
    drops: int | None = None
    done: bool = False
    read_to: int | None = None  # bytes of the file read over every run (its checkpoint)
    size: int | None = None  # the file's size now


def file_position(name: str, offsets: dict[tuple[int, int], int]) -> tuple[int | None, int | None]:
    """(bytes read over every run, size) of a file source; (None, None) for other sources."""
    try:
        found = os.stat(name)
    except (OSError, ValueError):
        return None, None
    if not stat.S_ISREG(found.st_mode):
        return None, None
    return offsets.get((found.st_dev, found.st_ino)), found.st_size


def stored_sources(counts: dict[str, int], offsets: dict[tuple[int, int], int]) -> list[SourceLine]:
    """The sources table from what is stored: each source's records and how far its file was read."""
    return [
        SourceLine(name, count, read_to=read_to, size=size)
        for name, count in counts.items()
        for read_to, size in [file_position(name, offsets)]
    ]


RATE_SECONDS = 5.0


class WindowRate:
    """A counter's rate over the last `seconds`, as Prometheus' `rate` reads one: a bulk import
    commits a block a second or so, and a rate since the previous sample alone jumps between 0
    and twice the true figure."""

    def __init__(self, seconds: float = RATE_SECONDS) -> None:
        self.seconds = seconds
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, count: int) -> float | None:
        """Note the counter at `now`; its rate over the window (None at the first sample)."""
        samples = self._samples
        samples.append((now, count))
        while len(samples) > 2 and now - samples[1][0] >= self.seconds:
            samples.popleft()
        first_at, first = samples[0]
        return (count - first) / (now - first_at) if now > first_at else None


class LiveFeed:
    """Subscribes to the pipeline; calls `notify(last_id)` from the writer thread after each commit.

    The callback only hands over the newest id: the app coalesces notices and reads the rows itself.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.last_id = 0
        self.committed = 0
        self._notify: Callable[[int], None] | None = None
        self._rates: dict[str, WindowRate] = {}
        self._total_rate = WindowRate()
        pipeline.subscribe(self._on_records)

    def connect(self, notify: Callable[[int], None]) -> None:
        self._notify = notify

    def _on_records(self, records: list[Record]) -> None:
        if not records:
            return
        from logscope.store.bulk import id_span  # (loaded with the pipeline)

        self.last_id = max(self.last_id, id_span(records)[1])
        self.committed += len(records)
        if self._notify is not None:
            self._notify(self.last_id)

    def sample(
        self, record_counts: dict[str, int], offsets: dict[tuple[int, int], int] | None = None
    ) -> tuple[list[SourceLine], float]:
        """The sources with their rates over the last RATE_SECONDS, and the overall ingest rate;
        `offsets` (checkpoints by device and inode) tell how far files were read in every run."""
        now = time.monotonic()
        lines = []
        names = sorted(set(record_counts) | set(self.pipeline.stats))
        for name in names:
            stats = self.pipeline.stats.get(name)
            if stats is None:
                lines.append(SourceLine(name, record_counts.get(name, 0)))
                continue
            rate = self._rates.setdefault(name, WindowRate()).add(now, stats.lines)
            lines.append(
                SourceLine(
                    name,
                    record_counts.get(name, 0),
                    stats.lines,
                    stats.bytes,
                    rate,
                    stats.errors,
                    stats.drops,
                    stats.done,
                    *file_position(name, offsets or {}),
                )
            )
        return lines, self._total_rate.add(now, self.committed) or 0.0
