"""What a source is, and what it may call while it runs."""

from __future__ import annotations

import threading
from typing import Protocol

from logscope.record import LineBatch


class SourceContext(Protocol):
    """The pipeline as a source sees it."""

    stop: threading.Event

    def emit(self, batch: LineBatch) -> None:
        """Hand over a batch; blocks while the pipeline is full (backpressure, never a drop)."""

    def report_error(self, message: str, source: str | None = None, count: int = 1) -> None:
        """Report a problem as one line; the rest of the pipeline goes on. `source`: the source
        (or followed file) it concerns, whose error count grows by `count` (the errors the line
        stands for)."""

    def add_bytes(self, source: str, count: int) -> None:
        """Count bytes read, for progress and statistics."""

    def add_drops(self, source: str, count: int) -> None:
        """Count messages a source had to drop (UDP under load): shown, never silent."""


class Source(Protocol):
    """A running producer of line batches. `run` returns when the input ends or on stop."""

    name: str

    def run(self, ctx: SourceContext) -> None: ...

    def size_hint(self) -> int | None:
        """The bytes there are to read, when known up front (for a progress bar)."""
