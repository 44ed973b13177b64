"""Per-source parsing: detect a source's format on its first lines, then fall back per line."""

from __future__ import annotations

from logscope.parsing.base import Parsed, Parser
from logscope.parsing.registry import RAW, FormatRegistry
from logscope.record import LineBatch, Record

# Lines of a source on which every format is tried and scored before an order is settled.
SAMPLE_LINES = 64


class SourceParser:
    """Parses one source's lines. Formats that match more of the first lines are tried first."""

    def __init__(self, registry: FormatRegistry, forced: Parser | None = None) -> None:
        self.forced = forced
        self._candidates = [forced] if forced else list(registry.ordered)
        self._scores = [0] * len(self._candidates)
        self._sampled = 0

    @property
    def pending_start(self) -> int | None:
        """The byte offset where a record held for more lines begins (None: nothing held)."""
        return None

    @property
    def detected(self) -> str:
        """The format that matched most lines so far (`raw` when none matched any)."""
        if not self._candidates or not any(self._scores):
            return RAW
        best = max(range(len(self._scores)), key=lambda i: (self._scores[i], -i))
        return self._candidates[best].name

    def parse_batch(self, batch: LineBatch) -> list[Record]:
        """Records for every line of the batch, in order; unmatched lines become `raw` records."""
        records = []
        extras = batch.extras
        for index, line in enumerate(batch.lines):
            name, parsed = self.parse_line(line)
            if parsed is None:
                record = Record(
                    None, batch.received_at, batch.source, batch.host, RAW, None, line, None, line
                )
            else:
                ts, level, message, fields, host = parsed
                record = Record(
                    ts,
                    batch.received_at,
                    batch.source,
                    host or batch.host,
                    name,
                    level,
                    message,
                    fields,
                    line,
                )
            if extras is not None and extras[index]:
                record.fields = {**(record.fields or {}), **extras[index]}
            records.append(record)
        return records

    def parse_line(self, line: str) -> tuple[str, Parsed | None]:
        """The name of the format that accepted the line and its parts; (`raw`, None) if none did."""
        if self._sampled < SAMPLE_LINES and self.forced is None:
            return self._sample(line)
        for parser in self._candidates:
            parsed = parser.parse(line)
            if parsed is not None:
                return parser.name, parsed
        return RAW, None

    def _sample(self, line: str) -> tuple[str, Parsed | None]:
        self._sampled += 1
        first: tuple[str, Parsed | None] = (RAW, None)
        for index, parser in enumerate(self._candidates):
            parsed = parser.parse(line)
            if parsed is not None:
                self._scores[index] += 1
                if first[1] is None:
                    first = (parser.name, parsed)
        self._rank()
        return first

    def _rank(self) -> None:
        order = sorted(range(len(self._candidates)), key=lambda i: -self._scores[i])
        self._candidates = [self._candidates[i] for i in order]
        self._scores = [self._scores[i] for i in order]
