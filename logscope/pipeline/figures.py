"""What a run counts: per source (lines, bytes, lag…) and in all (the end-of-run summary)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SourceStats:
    """What one source has delivered so far."""

    lines: int = 0
    bytes: int = 0
    errors: int = 0
    drops: int = 0
    done: bool = False
    # Lines no format matched (stored as `raw` records), and the read-to-commit delay of the
    # latest commit in seconds: the figures `logscope status` and the `stats` table show.
    parse_failures: int = 0
    lag: float = 0.0
    pending_since: int = 0  # receive time (µs) of the oldest line parsed but not yet committed


@dataclass
class Summary:
    """What a run did, for the end-of-ingest report."""

    lines: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stop_requested: bool = False  # asked to stop (a signal, the app quitting), not out of input
    resumed_files: int = 0  # whole files an earlier run had read part or all of
    skipped_bytes: int = 0  # what those runs had read (not read again)
