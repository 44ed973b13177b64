"""The parser interface: one object per format that turns a line into parts, or declines it."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, Protocol

# What a parser returns for a line it accepts: (ts in µs or None, normalized level or None,
# message, other fields or None, host or None).
Parsed = tuple[int | None, str | None, str, dict[str, Any] | None, str | None]


class Parser(Protocol):
    """A log format: `parse` returns the parts of a line, or None when the line is not in it."""

    name: str
    title: str

    def parse(self, line: str) -> Parsed | None: ...


class ParserFactory(Protocol):
    """Builds a parser for a time zone (naive times in the log are read in `zone`)."""

    name: str

    def __call__(self, zone: tzinfo) -> Parser: ...
