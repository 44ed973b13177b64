"""What the log view shows: the filter state, turned into a parameterised SQL WHERE clause."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

import regex

from logscope.record import LEVELS

# The pseudo-level for records that carry none; toggled like the real levels.
NO_LEVEL = "none"
LEVEL_CHOICES: tuple[str, ...] = (*LEVELS, NO_LEVEL)

_RELATIVE = re.compile(r"^-?\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour|d|day)s?$", re.IGNORECASE)
_UNIT_US = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_SQL_HINTS = re.compile(r"'|\b(AND|OR|NOT|LIKE|ILIKE|IN|IS|BETWEEN|SIMILAR)\b")
_REGEX_CHARS = frozenset("\\^$.|?*+()[]{}")


# The ids of the records of a pattern (merges followed), up to the comparison: `... = 4`.
_PATTERN_RECORDS = (
    "SELECT record_patterns.id FROM record_patterns JOIN patterns ON patterns.id = record_patterns.pattern_id"
    " WHERE coalesce(patterns.merged_into, patterns.id)"
)


class FilterError(ValueError):
    """A filter the user typed that cannot be used; the message is shown inline."""


@dataclass(frozen=True)
class TimeRange:
    """A time window in microseconds since the epoch; either end may be open."""

    since: int | None = None
    until: int | None = None
    # A relative window ("last 15m") is anchored at the newest record when the query runs.
    last_us: int | None = None


@dataclass(frozen=True)
class TextMatch:
    """A plain-text or regular-expression match against the raw line."""

    pattern: str
    is_regex: bool

    def sql(self, text: str = "raw") -> tuple[str, list]:
        """The condition on `text` (a column or expression), and its parameters."""
        if self.is_regex:
            return f"regexp_matches({text}, ?)", [self.pattern]
        return f"contains(lower({text}), ?)", [self.pattern.lower()]

    def compiled(self) -> re.Pattern | regex.Pattern:
        """The pattern for highlighting matches in the view.

        The stdlib `re` where it can: it keeps the GIL while matching, where `regex` hands it to
        the busy pipeline threads and waits to get it back, which makes drawing slow.
        """
        if not self.is_regex:
            return re.compile(re.escape(self.pattern), re.IGNORECASE)
        try:
            return re.compile(self.pattern)
        except re.error:
            return regex.compile(self.pattern)


@dataclass(frozen=True)
class FilterState:
    """Everything that narrows the log view. Empty means every record."""

    predicate: str | None = None  # a SQL boolean expression over the logs columns
    text: TextMatch | None = None
    hidden_levels: frozenset[str] = frozenset()
    hidden_sources: frozenset[str] = frozenset()
    time_range: TimeRange = field(default_factory=TimeRange)
    record_ids: tuple[int, ...] | None = None  # pinned by selecting an alert
    label: str | None = None  # why record_ids are pinned, for the status line
    typed: str | None = None  # the filter as the user typed it (a predicate's bare field names)
    time_text: str = ""  # the time range as typed
    pattern: int | None = None  # only records of this log pattern (the patterns view's Enter)
    hidden_patterns: frozenset[int] = frozenset()  # records of these patterns hidden (`h` there)
    # The records of files not stored yet that this filter keeps (tui/in_place_rows.py): not
    # compared, a state's meaning is what it keeps.
    in_place: Any = field(default=None, compare=False, repr=False)

    def with_changes(self, **changes) -> FilterState:
        return replace(self, **changes)

    def is_empty(self) -> bool:
        return self == FilterState()

    def toggles_only(self) -> bool:
        """Nothing narrows the view but hidden levels and sources (counted per cell, no scan)."""
        return self == FilterState(hidden_levels=self.hidden_levels, hidden_sources=self.hidden_sources)

    def keeps(self, source: str, level: str | None) -> bool:
        """Whether the level and source toggles keep records of this source and level."""
        if source in self.hidden_sources:
            return False
        if not self.hidden_levels:
            return True
        if level is None:
            return NO_LEVEL not in self.hidden_levels
        return level in LEVELS and level not in self.hidden_levels

    def where(self, newest_us: int | None = None) -> tuple[str, list]:
        """The WHERE clause (without the keyword) and its parameters; 'true' when unfiltered."""
        clauses: list[str] = []
        params: list = []
        if self.predicate:
            clauses.append(f"({self.predicate})")
        if self.text is not None:
            sql, values = self.text.sql()
            clauses.append(sql)
            params += values
        if self.hidden_levels:
            shown = [level for level in LEVELS if level not in self.hidden_levels]
            parts = []
            if shown:
                parts.append(f"level IN ({', '.join('?' * len(shown))})")
                params += shown
            if NO_LEVEL not in self.hidden_levels:
                parts.append("level IS NULL")
            clauses.append(f"({' OR '.join(parts)})" if parts else "false")
        if self.hidden_sources:
            clauses.append(f"source NOT IN ({', '.join('?' * len(self.hidden_sources))})")
            params += sorted(self.hidden_sources)
        since, until = self._bounds(newest_us)
        if since is not None:
            clauses.append("ts >= make_timestamptz(?::BIGINT)")
            params.append(since)
        if until is not None:
            clauses.append("ts <= make_timestamptz(?::BIGINT)")
            params.append(until)
        if self.pattern is not None:
            clauses.append(f"id IN ({_PATTERN_RECORDS} = {int(self.pattern)})")
        if self.hidden_patterns:
            hidden = ", ".join(str(int(p)) for p in sorted(self.hidden_patterns))
            clauses.append(f"id NOT IN ({_PATTERN_RECORDS} IN ({hidden}))")
        if self.record_ids is not None:
            if self.record_ids:
                clauses.append(f"id IN ({', '.join(str(int(i)) for i in self.record_ids)})")
            else:
                clauses.append("false")
        return (" AND ".join(clauses) or "true"), params

    def _bounds(self, newest_us: int | None) -> tuple[int | None, int | None]:
        window = self.time_range
        if window.last_us is not None:
            if newest_us is None:
                return None, None
            return newest_us - window.last_us, None
        return window.since, window.until

    def describe(self) -> str:
        """A short summary for the status line."""
        parts = []
        if self.label:
            parts.append(self.label)
        if self.predicate:
            parts.append(f"where {self.typed or self.predicate}")
        if self.text is not None:
            parts.append(f"{'/' if self.text.is_regex else ''}{self.text.pattern}")
        if self.hidden_levels:
            parts.append("hiding " + ",".join(lv for lv in LEVEL_CHOICES if lv in self.hidden_levels))
        if self.hidden_sources:
            hidden = len(self.hidden_sources)
            parts.append(f"{hidden} {'source' if hidden == 1 else 'sources'} hidden")
        if self.pattern is not None and not self.label:
            parts.append(f"pattern {self.pattern}")
        if self.hidden_patterns:
            hidden = len(self.hidden_patterns)
            parts.append(f"{hidden} {'pattern' if hidden == 1 else 'patterns'} hidden")
        window = self.time_range
        if window != TimeRange():
            parts.append("time range")
        return "; ".join(parts)


def looks_like_sql(text: str) -> bool:
    """Text meant as SQL (quotes or SQL keywords), whose errors are worth showing, not searching for."""
    return bool(_SQL_HINTS.search(text))


def looks_like_regex(text: str) -> bool:
    return any(char in _REGEX_CHARS for char in text)


def text_match(text: str) -> TextMatch:
    """Plain text, or a regex when it has regex characters and compiles (`/re/` forces regex)."""
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        pattern = text[1:-1]
        _check_regex(pattern)
        return TextMatch(pattern, True)
    if looks_like_regex(text):
        try:
            regex.compile(text)
        except regex.error:
            return TextMatch(text, False)
        return TextMatch(text, True)
    return TextMatch(text, False)


def _check_regex(pattern: str) -> None:
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise FilterError(f"bad regex: {exc}") from exc


def parse_moment(text: str, zone: tzinfo = UTC) -> int:
    """An ISO 8601 date/time in microseconds since the epoch; naive times are read in `zone`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise FilterError(f"not a time: {text.strip()!r} (use ISO 8601, e.g. 2026-11-20T14:05)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(moment.timestamp() * 1_000_000)


def parse_time_range(text: str, zone: tzinfo = UTC) -> TimeRange:
    """`15m` / `-2h` (the last span before the newest record), or `START..END` (either may be empty)."""
    text = text.strip()
    if not text:
        return TimeRange()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        return TimeRange(last_us=int(amount * _UNIT_US[unit] * 1_000_000))
    if ".." in text:
        start, end = text.split("..", 1)
        return TimeRange(
            since=parse_moment(start, zone) if start.strip() else None,
            until=parse_moment(end, zone) if end.strip() else None,
        )
    return TimeRange(since=parse_moment(text, zone))
