"""Timestamps at the start of a line, in any common layout (the `generic` format's time).

`LeadingTime.find(line)` recognises, after an optional `<PRI>`, bracket, or one leading word (a
pid, a host, a level): ISO 8601 (`T` or spaces, `,`/`.` fractions, `Z`/`+03:00`/`+0300`/`CEST`),
`2026/12/06 10:00:20`, `12/06/2026 10:00:20`, `06.12.2026 10:00:20`, syslog `Nov  3 09:23:38`,
`Dec 6, 2026 10:00:20 AM`, `[20/Jul/2009:22:59:26 +0000]`, `06 Dec 2026 10:00:20.123`,
`Sun Mar 13 22:49:12 2016`, `Sun, 13 Mar 2016 22:49:12 GMT`, glog `E0517 10:00:00.123`, epoch
seconds/ms/µs/ns, TAI64N `@4000…`, and a time of day alone. Every pattern here is a fixed
sequence of bounded or disjoint pieces, so matching is linear in the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from logscope.parsing.time_values import LocalCalendar, offset_seconds

Clock = Callable[[], datetime]

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_MON = (
    r"(?P<b>(?:[Jj]an|[Ff]eb|[Mm]ar|[Aa]pr|[Mm]ay|[Jj]un|[Jj]ul|[Aa]ug|[Ss]ep|[Oo]ct|[Nn]ov|[Dd]ec)"
    r"[a-z]{0,6})"
)
_DAY_NAME = r"(?P<a>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]{0,6}),? +"
# Zone abbreviations with a fixed offset (hours); others are left in the message.
ZONE_NAMES: dict[str, float] = {
    "UTC": 0, "GMT": 0, "UT": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1,
    "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8, "AWST": 8, "JST": 9,
    "KST": 9, "ACST": 9.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13, "HST": -10, "AKST": -9,
    "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6, "CDT": -5, "EST": -5,
    "EDT": -4, "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5,
}  # fmt: skip
_ZONE_NAME = "(?P<Z>" + "|".join(sorted(ZONE_NAMES, key=len, reverse=True)) + ")"
_HMS = r"(?P<H>\d{1,2}):(?P<M>\d\d)(?::(?P<S>\d\d)(?:[.,](?P<f>\d{1,9}))?)?"
_OFFSET = r"(?: ?(?P<z>Z|[+-]\d\d(?::?\d\d)?)(?!\d))?"
_NAMED = rf"(?: {_ZONE_NAME})?"
_END = r"(?![0-9A-Za-z])"

# Layouts by the kind of character they start with; each has the groups the composer reads.
_DIGIT_LAYOUTS = (
    ("iso", rf"(?P<Y>\d{{4}})[-/.](?P<m>\d\d?)[-/.](?P<d>\d\d?)(?:T| +){_HMS}{_OFFSET}{_NAMED}{_END}"),
    (
        "numeric_date",
        rf"(?P<x>\d\d?)(?P<sep>[/.-])(?P<y2>\d\d?)[/.-](?P<Y>\d{{4}})[ T:]+{_HMS}{_OFFSET}{_END}",
    ),
    ("day_month_year", rf"(?P<d>\d\d?)[/ -]{_MON}[/ -](?P<Y>\d{{4}})[: ]{_HMS}{_OFFSET}{_NAMED}{_END}"),
    ("epoch", r"(?P<e>\d{10}(?:\.\d{1,9})?|\d{13}(?:\.\d{1,6})?|\d{16}|\d{19})(?![\w:])"),
    ("time_of_day", rf"{_HMS}(?![\d:])"),
)
_LETTER_LAYOUTS = (
    (
        "syslog",
        rf"{_MON} +(?P<d>\d\d?)(?:,? +(?P<Y>\d{{4}}))?,? +{_HMS}(?: (?P<p>[AaPp][Mm]))?{_OFFSET}{_END}",
    ),
    ("ctime", rf"{_DAY_NAME}{_MON} +(?P<d>\d\d?) +{_HMS}(?: {_ZONE_NAME})? +(?P<Y>\d{{4}}){_END}"),
    ("rfc2822", rf"{_DAY_NAME}(?P<d>\d\d?) {_MON} (?P<Y>\d{{4}}) {_HMS}{_OFFSET}{_NAMED}{_END}"),
    ("glog", rf"(?P<g>[IWEFD])(?P<m>\d\d)(?P<d>\d\d) +{_HMS}{_END}"),
)
_TAI64N = ("tai64n", r"@(?P<tai>[0-9a-fA-F]{24})(?![0-9A-Za-z])")
_COMPILED_DIGIT = tuple((name, re.compile(pattern)) for name, pattern in _DIGIT_LAYOUTS)
_COMPILED_LETTER = tuple((name, re.compile(pattern)) for name, pattern in _LETTER_LAYOUTS)
_COMPILED_TAI = (_TAI64N[0], re.compile(_TAI64N[1]))
_PRI = re.compile(r"<(?P<pri>\d{1,3})>")
_LEAD = re.compile(r"(?P<lead>[^\s\[\]()<>]{1,64}|\[[^\s\]]{1,64}\]):? +")
_GLOG_LEVELS = {"I": "info", "W": "warning", "E": "error", "F": "fatal", "D": "debug"}
# Epoch readings outside 2000-01-01 .. 2100-01-01 are not taken for times.
_EPOCH_RANGE = (946_684_800, 4_102_444_800)
_TAI_BASE = (1 << 62) + 10
_CACHE_LIMIT = 8192
# Group -> strftime directive, for a proposed format's time pattern.
DIRECTIVES = {
    "Y": "%Y", "m": "%m", "d": "%d", "b": "%b", "a": "%a", "H": "%H", "M": "%M", "S": "%S",
    "f": "%f", "z": "%z", "Z": "%Z", "p": "%p", "e": "%s",
}  # fmt: skip


@dataclass(slots=True)
class LeadingTimeMatch:
    """A time found at the start of a line."""

    ts: int  # µs since the epoch, UTC
    start: int  # where the time text begins
    end: int  # just past the time (and its closing bracket)
    layout: str  # which layout read it
    lead: str | None = None  # the word before the time (a pid, a host or a level), if any
    level: str | None = None  # a level the time carried (glog's letter, a <PRI>)
    spec: str | None = None  # a strftime-style pattern for the time text, when there is one


class LeadingTime:
    """Finds and reads a time at the start of a line; times without a zone are read in `zone`."""

    def __init__(self, zone: tzinfo, clock: Clock | None = None) -> None:
        self.zone = zone
        self.clock = clock
        self.calendar = LocalCalendar(zone, clock)
        self._cache: dict[str, int | None] = {}

    def find(self, line: str, want_spec: bool = False) -> LeadingTimeMatch | None:
        """The time the line starts with (after an optional `<PRI>`, bracket or leading word)."""
        position, level = 0, None
        pri = _PRI.match(line) if line[:1] == "<" else None
        if pri is not None:
            value = int(pri["pri"])
            if value > 191:
                return None
            level = _SYSLOG_LEVELS[value % 8]
            position = pri.end()
        found = self._at(line, position, want_spec)
        if found is None and line[position : position + 1] not in (" ", "\t", ""):
            lead = _LEAD.match(line, position)
            if lead is not None:
                found = self._at(line, lead.end(), want_spec)
                if found is not None:
                    found.lead = lead["lead"].strip("[]")
        if found is not None and level is not None and found.level is None:
            found.level = level
        return found

    def starts_with_time(self, line: str) -> bool:
        """Whether the line begins a record (a time at its start): cheap for stack-trace lines."""
        first = line[:1]
        if not first or first in " \t":
            return False
        return self.find(line) is not None

    def _at(self, line: str, position: int, want_spec: bool) -> LeadingTimeMatch | None:
        opened = line[position : position + 1]
        start = position + 1 if opened in ("[", "(") else position
        char = line[start : start + 1]
        if char.isdigit():
            layouts = _COMPILED_DIGIT
        elif char.isalpha():
            layouts = _COMPILED_LETTER
        elif char == "@":
            layouts = (_COMPILED_TAI,)
        else:
            return None
        for name, pattern in layouts:
            match = pattern.match(line, start)
            if match is None:
                continue
            ts = self._read(name, match)
            if ts is None:
                continue
            end = match.end()
            if opened in ("[", "("):
                closing = "]" if opened == "[" else ")"
                if line[end : end + 1] != closing:
                    continue
                end += 1
            level = _GLOG_LEVELS.get(match["g"]) if name == "glog" else None
            spec = _spec(match) if want_spec and name not in ("tai64n", "glog", "numeric_date") else None
            return LeadingTimeMatch(ts, start, end, name, None, level, spec)
        return None

    def _read(self, layout: str, match: re.Match[str]) -> int | None:
        if layout == "time_of_day":
            return self._compose_today(match)
        # The cache is keyed by the text without its fraction (many lines share a second).
        text = match.group(0)
        fraction = match["f"] if "f" in match.re.groupindex else None
        if fraction:
            start = match.start()
            text = text[: match.start("f") - start] + text[match.end("f") - start :]
        cache = self._cache
        found = cache.get(text, -1)
        if found == -1:
            found = self._convert(layout, match)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[text] = found
        if found is None or not fraction:
            return found
        return found + int(fraction[:6].ljust(6, "0"))

    def _convert(self, layout: str, match: re.Match[str]) -> int | None:
        if layout == "epoch":
            return _epoch(match["e"])
        if layout == "tai64n":
            return _tai64n(match["tai"])
        parts = match.groupdict()
        month = _month_of(layout, parts)
        day = _day_of(layout, parts)
        if month is None or day is None:
            return None
        year = int(parts["Y"]) if parts.get("Y") else self.calendar.year_of(month, day)
        try:
            days = self.calendar.day_number(year, month, day)
        except ValueError:
            return None
        return self._compose(days, parts)

    def _compose(self, days: int, parts: dict[str, str | None]) -> int | None:
        hour, minute = int(parts["H"] or 0), int(parts["M"] or 0)
        second = int(parts["S"] or 0)
        meridian = parts.get("p")
        if meridian:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if meridian.lower() == "pm" else 0)
        if hour > 23 or minute > 59 or second > 60:
            return None
        local = days * 86400 + hour * 3600 + minute * 60 + second
        utc = local - self._offset(parts, local, days, hour)
        return utc * 1_000_000

    def _compose_today(self, match: re.Match[str]) -> int | None:
        parts = match.groupdict()
        days, now_local = self.calendar.today()
        hour, minute, second = int(parts["H"]), int(parts["M"]), int(parts["S"] or 0)
        if hour * 3600 + minute * 60 + second - now_local > 3600:
            days -= 1  # a time well after now was written yesterday
        whole = self._compose(days, parts)
        fraction = parts.get("f")
        return whole + int(fraction[:6].ljust(6, "0")) if whole is not None and fraction else whole

    def _offset(self, parts: dict[str, str | None], local: int, days: int, hour: int) -> int:
        explicit = parts.get("z")
        if explicit:
            return offset_seconds(explicit)
        name = parts.get("Z")
        if name:
            return int(ZONE_NAMES[name] * 3600)
        return self.calendar.offset_at(local, days, hour)


_SYSLOG_LEVELS = ("fatal", "critical", "critical", "error", "warning", "notice", "info", "debug")


def _month_of(layout: str, parts: dict[str, str | None]) -> int | None:
    name = parts.get("b")
    if name:
        return MONTHS.get(name[:3].lower())
    if layout == "numeric_date":
        first, second = int(parts["x"] or 0), int(parts["y2"] or 0)
        # `/` is month first (US) unless that cannot be; `.` and `-` are day first.
        month = first if parts["sep"] == "/" and first <= 12 else second
        return month if 1 <= month <= 12 else None
    month = int(parts["m"] or 0)
    return month if 1 <= month <= 12 else None


def _day_of(layout: str, parts: dict[str, str | None]) -> int | None:
    if layout == "numeric_date":
        first, second = int(parts["x"] or 0), int(parts["y2"] or 0)
        return second if parts["sep"] == "/" and first <= 12 else first
    return int(parts["d"] or 0)


def _epoch(text: str) -> int | None:
    whole, _, fraction = text.partition(".")
    digits = len(whole)
    seconds = int(whole) // 10 ** (digits - 10)
    if not _EPOCH_RANGE[0] <= seconds < _EPOCH_RANGE[1]:
        return None
    if digits == 10:
        return int(whole) * 1_000_000 + (int(fraction[:6].ljust(6, "0")) if fraction else 0)
    if digits == 13:
        return int(whole) * 1000 + (int(fraction[:3].ljust(3, "0")) if fraction else 0)
    if digits == 16:
        return int(whole)
    return int(whole) // 1000


def _tai64n(text: str) -> int | None:
    label, nanos = int(text[:16], 16), int(text[16:], 16)
    seconds = label - _TAI_BASE
    if not _EPOCH_RANGE[0] <= seconds < _EPOCH_RANGE[1] or nanos >= 1_000_000_000:
        return None
    return seconds * 1_000_000 + nanos // 1000


def _spec(match: re.Match[str]) -> str | None:
    """The strftime-style pattern for the matched time text (for a proposed format)."""
    spans = sorted(
        (match.start(name), match.end(name), DIRECTIVES[name])
        for name in DIRECTIVES
        if name in match.re.groupindex and match.group(name) is not None
    )
    out, position = [], match.start()
    for start, end, directive in spans:
        if start < position:
            continue
        out.append(match.string[position:start].replace("%", "%%"))
        out.append(directive)
        position = end
    out.append(match.string[position : match.end()].replace("%", "%%"))
    spec = re.sub(" +", " ", "".join(out))
    if "%b" in spec and match["b"] and len(match["b"]) > 3:
        spec = spec.replace("%b", "%B")
    return spec
