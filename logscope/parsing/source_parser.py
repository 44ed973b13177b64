"""Per-source parsing: detect a source's format on its first lines, then fall back per line.

Multiline formats hold their last record until a line arrives that does not continue it, the
source ends (`LineBatch.final`), or the source has been quiet for `QUIET_SECONDS` (`flush_held`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from logscope.parsing.base import Parsed, Parser
from logscope.parsing.registry import RAW, FormatRegistry
from logscope.record import Checkpoint, LineBatch, Record

# Lines of a source on which every format is tried and scored before an order is settled.
SAMPLE_LINES = 64
# A held multiline record is released after the source has sent nothing for this long.
QUIET_SECONDS = 0.5


@dataclass(slots=True)
class _Held:
    """A record that may still get continuation lines."""

    record: Record
    parser: Parser
    start_offset: int | None
    lines: int


class SourceParser:
    """Parses one source's lines. Formats that matched some of the first lines are tried first."""

    def __init__(self, registry: FormatRegistry, forced: Parser | None = None) -> None:
        # Header-driven formats keep per-source state: each source gets its own copy.
        self.forced = fresh(forced) if forced else None
        self._base = [self.forced] if self.forced else [fresh(parser) for parser in registry.ordered]
        self._candidates = list(self._base)
        self._ranked = True  # whether `_candidates` is in the order the scores so far give
        self._scores = dict.fromkeys((parser.name for parser in self._base), 0)
        self._sampled = 0
        self._wins: dict[str, int] = {}  # sampled lines each format took (not only accepted)
        self._by_first: dict[str, list[Parser]] = {}
        self._held: _Held | None = None
        # Formats whose records without a time take the one before (`time.carry`), and that time.
        self._carriers = frozenset(p.name for p in self._base if getattr(p, "carries_time", False))
        self._carried: dict[str, int] = {}
        self._last_input = time.monotonic()
        # The source this parser serves and the checkpoint of its latest batch (file sources).
        self.source: str | None = None
        self.last_checkpoint: Checkpoint | None = None

    @property
    def pending_start(self) -> int | None:
        """The byte offset where a record held for more lines begins (None: nothing held)."""
        return self._held.start_offset if self._held is not None else None

    @property
    def detected(self) -> str:
        """The format that matched most lines so far (`raw` when none matched any)."""
        best = max(self._base, key=lambda parser: self._scores[parser.name], default=None)
        if best is None or self._scores[best.name] == 0:
            return RAW
        return best.name  # ties go to the more specific format: max keeps the first

    @property
    def sampling(self) -> bool:
        """Whether the first lines are still being scored against every format."""
        return self._sampled < SAMPLE_LINES and self.forced is None

    @property
    def order(self) -> list[Parser]:
        """The formats in the order lines are tried (settled once sampling ends)."""
        self._rank()
        return list(self._candidates)

    def scores(self) -> dict[str, int]:
        """Lines matched per format during detection."""
        return dict(self._scores)

    def parse_batch(self, batch: LineBatch) -> list[Record]:
        """Records for the batch's lines, in order; unmatched lines become `raw` records.

        A multiline record may be held back for the next batch (see `pending_start`)."""
        self.source = batch.source
        if batch.checkpoint is not None:
            self.last_checkpoint = batch.checkpoint
        records: list[Record] = []
        extras = batch.extras
        offsets = batch.offsets
        for index, line in enumerate(batch.lines):
            held = self._held
            matched = None
            if held is not None:
                if held.lines < held.parser.max_lines and held.parser.continues(line):  # type: ignore[attr-defined]
                    if not getattr(held.parser, "yields_to_formats", False):
                        _append_line(held, line)
                        continue
                    # A weak continuation (generic): the line joins only when no format takes it.
                    matched = self._record(batch, line)
                    if matched[1] is None:
                        _append_line(held, line)
                        continue
                records.append(self._finished(held.record, held.parser))
                self._held = None
            record, parser = matched if matched is not None else self._record(batch, line)
            if extras is not None and extras[index]:
                record.fields = {**(record.fields or {}), **extras[index]}
            if getattr(parser, "expands", False):  # one line, many records (OTLP JSON files)
                records.extend(_expanded(parser, batch, line, extras[index] if extras else None) or [record])
                continue
            if parser is not None and getattr(parser, "continuation", None) is not None:
                start = offsets[index] if offsets is not None else None
                self._held = _Held(record, parser, start, 1)
            else:
                records.append(self._finished(record, parser))
        self._last_input = time.monotonic()
        if batch.final:
            records.extend(self.release())
        return records

    def flush_held(self, now: float | None = None) -> list[Record]:
        """Release a held record once the source has been quiet for QUIET_SECONDS (monotonic now)."""
        if self._held is None:
            return []
        now = time.monotonic() if now is None else now
        if now - self._last_input < QUIET_SECONDS:
            return []
        return self.release()

    def release(self) -> list[Record]:
        """Release the held record, if any, whatever the time."""
        held, self._held = self._held, None
        return [self._finished(held.record, held.parser)] if held is not None else []

    def _finished(self, record: Record, parser: Parser | None) -> Record:
        """The record as written: without a time of its own, the time carried over (`time.carry`)."""
        if parser is None or parser.name not in self._carriers:
            return record
        if record.ts is None:
            record.ts = self._carried.get(parser.name)
        else:
            self._carried[parser.name] = record.ts
        return record

    def _record(self, batch: LineBatch, line: str) -> tuple[Record, Parser | None]:
        parser, parsed = self._match(line)
        if parser is None or parsed is None:
            raw = Record(None, batch.received_at, batch.source, batch.host, RAW, None, line, None, line)
            return raw, None
        ts, level, message, fields, host = parsed
        record = Record(
            ts, batch.received_at, batch.source, host or batch.host, parser.name, level, message, fields, line
        )
        return record, parser

    def parse_line(self, line: str) -> tuple[str, Parsed | None]:
        """The name of the format that accepted the line and its parts; (`raw`, None) if none did."""
        parser, parsed = self._match(line)
        return (parser.name, parsed) if parser is not None else (RAW, None)

    def _match(self, line: str) -> tuple[Parser | None, Parsed | None]:
        if self._sampled < SAMPLE_LINES and self.forced is None:
            return self._sample(line)
        if not self._ranked:
            self._rank()
        first = line[:1]
        candidates = self._by_first.get(first)
        if candidates is None:
            candidates = self._by_first[first] = _accepting(self._candidates, first)
        for parser in candidates:
            parsed = parser.parse(line)
            if parsed is not None:
                return parser, parsed
        return None, None

    def _sample(self, line: str) -> tuple[Parser | None, Parsed | None]:
        self._sampled += 1
        found: tuple[Parser | None, Parsed | None] = (None, None)
        # Every format is tried; the most specific that accepts the line takes it (a catch-all
        # such as `json` or `generic` that scored earlier does not take it from one that has not).
        for parser in _accepting(self._base, line[:1]):
            may_match = getattr(parser, "may_match", None)
            if may_match is not None and not may_match(line):
                continue  # its patterns surely refuse the line: not compiled for it
            parsed = parser.parse(line)
            if parsed is not None:
                self._scores[parser.name] += 1
                if found[0] is None:
                    found = (parser, parsed)
        if found[0] is not None:
            self._wins[found[0].name] = self._wins.get(found[0].name, 0) + 1
        self._ranked = False  # ranked when the order is next asked for (not after every line)
        return found

    def _rank(self) -> None:
        """Formats that matched any sampled line first, in their specificity order (a generic
        format matching more lines must not take them from a specific one); the rest after."""
        if self._ranked:
            return
        self._ranked = True
        base = {parser.name: index for index, parser in enumerate(self._base)}
        self._candidates.sort(key=lambda parser: (self._group(parser), base[parser.name]))
        self._by_first.clear()

    def _group(self, parser: Parser) -> int:
        """Rank group: formats that scored, then unscored ones; the fallback (`generic`, which
        yields to every format) last, or right after those that scored when it took (not merely
        accepted) half the sampled lines: a file in no other format need not try every format on
        each line, while lines of a format unseen in the sample still go to it first."""
        score = self._scores[parser.name]
        if not getattr(parser, "yields_to_formats", False):
            return 0 if score else 2
        won = self._wins.get(parser.name, 0)
        dominant = self._sampled >= SAMPLE_LINES and won * 2 >= self._sampled
        return 1 if dominant else 3


def fresh(parser: Parser) -> Parser:
    """A copy of a parser with per-source state (header-driven formats), else the parser."""
    make = getattr(parser, "fresh", None)
    return make() if make is not None else parser


def _accepting(parsers: list[Parser], first: str) -> list[Parser]:
    """The parsers whose matches can start with `first` (all of those without a `first_chars`)."""
    accepted = []
    for parser in parsers:
        chars = getattr(parser, "first_chars", None)
        if chars is None or first in chars:
            accepted.append(parser)
    return accepted


def _expanded(parser: Parser, batch: LineBatch, line: str, extra: dict | None) -> list[Record]:
    """The records of a line that holds several (a parser with `expands`), with the line's extras."""
    records = parser.expand(line, batch.source, batch.host, batch.received_at)  # type: ignore[attr-defined]
    if extra:
        for record in records:
            record.fields = {**(record.fields or {}), **extra}
    return records


def _append_line(held: _Held, line: str) -> None:
    record = held.record
    if record.ts is None and getattr(held.parser, "time_continuation", None) is not None:
        record.ts = held.parser.continuation_time(line)  # type: ignore[attr-defined]
    if getattr(held.parser, "level_continuation", None) is not None:
        record.level = held.parser.continuation_level(line) or record.level  # type: ignore[attr-defined]
    record.message = f"{record.message}\n{line}"
    record.raw = f"{record.raw}\n{line}"
    held.lines += 1


def score_lines(registry: FormatRegistry, lines: list[str]) -> list[tuple[str, int]]:
    """How many of `lines` each format accepts, best first (for `formats detect`). Continuation
    lines of a multiline format's records count for that format. A fallback format (`generic`)
    counts only the lines no other format accepts."""
    taken = [False] * len(lines)
    counts = []
    fallbacks = []
    for parser in map(fresh, registry.ordered):
        if getattr(parser, "yields_to_formats", False):
            fallbacks.append(parser)
            continue
        accepted = _lines_accepted(parser, lines)
        taken = [a or b for a, b in zip(taken, accepted, strict=True)]
        counts.append((parser.name, sum(accepted)))
    for parser in fallbacks:
        accepted = _lines_accepted(parser, lines, taken)
        counts.append((parser.name, sum(accepted)))
    order = {parser.name: index for index, parser in enumerate(registry.ordered)}
    return sorted(counts, key=lambda item: (-item[1], order[item[0]]))


def _lines_accepted(parser: Parser, lines: list[str], taken: list[bool] | None = None) -> list[bool]:
    """Per line, whether `parser` accepts it (or it continues the parser's record); lines in
    `taken` (another format's) end a record and are not counted."""
    chars = getattr(parser, "first_chars", None)
    multiline = getattr(parser, "continuation", None) is not None
    accepted = []
    in_record = False
    for index, line in enumerate(lines):
        if taken is not None and taken[index]:
            accepted.append(False)
            in_record = False
            continue
        if in_record and parser.continues(line):  # type: ignore[attr-defined]
            accepted.append(True)
            continue
        in_record = (chars is None or line[:1] in chars) and parser.parse(line) is not None
        accepted.append(in_record)
        in_record = in_record and multiline
    return accepted
