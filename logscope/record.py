"""The record model every stage shares: raw line batches in, parsed records out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# The normalized levels, from least to most severe. `level` is one of these or None.
LEVELS: tuple[str, ...] = (
    "trace",
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "fatal",
)
LEVEL_RANK: dict[str, int] = {name: rank for rank, name in enumerate(LEVELS)}

# Lines longer than this many bytes are cut to it; the record gets `truncated` fields.
MAX_LINE_BYTES = 1024 * 1024


def now_us() -> int:
    """The current wall-clock time in integer microseconds since the epoch (UTC)."""
    return time.time_ns() // 1000


@dataclass(slots=True)
class Checkpoint:
    """Where a file source has read to: identity of the file and the byte offset after a batch."""

    key: str
    dev: int
    inode: int
    fingerprint: str
    offset: int


@dataclass(slots=True)
class LineBatch:
    """Lines read together from one source, with what they share."""

    source: str
    lines: list[str]
    received_at: int = field(default_factory=now_us)
    host: str | None = None
    # Per-line extras a source knows (e.g. a syslog peer address or stream name); None when absent.
    extras: list[dict[str, Any] | None] | None = None
    checkpoint: Checkpoint | None = None
    # File sources: byte offsets with len(lines) + 1 entries; offsets[i] is where line i starts,
    # offsets[-1] where the batch ends. Lets the parse stage checkpoint before a held record.
    offsets: list[int] | None = None
    # Set by a source when it ends, so stateful parse stages can flush what they hold.
    final: bool = False
    # Records a source built itself (the OTLP receiver): stored as they are, not parsed; `lines`
    # is then empty.
    records: list[Record] | None = None


@dataclass(slots=True)
class Record:
    """One parsed log record, as stored in the `logs` table."""

    ts: int | None
    received_at: int
    source: str
    host: str | None
    format: str
    level: str | None
    message: str
    fields: dict[str, Any] | None
    raw: str
    id: int = 0

    def event_time(self) -> int:
        """The event time in microseconds: the parsed time, else the receive time."""
        return self.ts if self.ts is not None else self.received_at
