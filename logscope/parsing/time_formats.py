"""Fast readers for the time formats a declarative format names (`%d/%b/%Y:%H:%M:%S %z`, `iso`, ...).

A reader is compiled once per format: a `re` pattern for the directives, a cache of whole strings
already seen (logs repeat the same second many times), a cache of day numbers per date and of the
zone offset per local hour. No `strptime` per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo

from logscope.parsing.time_values import LocalCalendar, epoch_to_us, offset_seconds, parse_iso
from logscope.parsing.time_values import fixed_offset as _fixed_offset  # noqa: F401  (vectorized/times.py)

TimeReader = Callable[[str], "int | None"]
Clock = Callable[[], datetime]

# Names a format can give instead of a pattern.
NAMED_FORMATS = ("iso", "epoch")

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_FULL_MONTHS = {
    full: _MONTHS[full[:3]]
    for full in (
        *("january", "february", "march", "april", "may", "june"),
        *("july", "august", "september", "october", "november", "december"),
    )
}

_DIRECTIVES: dict[str, str] = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "d": r" ?(?P<d>\d{1,2})",
    "e": r" ?(?P<d>\d{1,2})",
    "b": r"(?P<b>[A-Za-z]{3})",
    "h": r"(?P<b>[A-Za-z]{3})",
    "B": r"(?P<B>[A-Za-z]+)",
    "a": r"[A-Za-z]{3}",
    "A": r"[A-Za-z]+",
    "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "p": r"(?P<p>[AaPp][Mm])",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "f": r"(?P<f>\d{1,9})",
    "z": r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)",
    "Z": r"(?P<Z>[A-Z]{1,5})",
    "s": r"(?P<s>\d{1,19}(?:\.\d+)?)",
    "%": "%",
}
_UTC_NAMES = frozenset(("UTC", "GMT", "Z", "UT"))
_CACHE_LIMIT = 8192


class TimeFormatError(ValueError):
    """A time format pattern that cannot be compiled."""


def pattern_to_regex(spec: str) -> str:
    """The regular expression for a strftime-style pattern (one group per directive)."""
    out: list[str] = []
    index = 0
    seen: set[str] = set()
    while index < len(spec):
        char = spec[index]
        if char == "%":
            if index + 1 >= len(spec):
                raise TimeFormatError(f"{spec!r}: pattern ends with a lone %")
            directive = spec[index + 1]
            if directive not in _DIRECTIVES:
                raise TimeFormatError(f"{spec!r}: unsupported directive %{directive}")
            regex = _DIRECTIVES[directive]
            group = regex.partition("(?P<")[2][:1]
            if group and group in seen:
                raise TimeFormatError(f"{spec!r}: directive %{directive} given twice")
            seen.add(group)
            out.append(regex)
            index += 2
        elif char == " ":
            out.append(" +")
            index += 1
        else:
            out.append(re.escape(char))
            index += 1
    if "s" not in seen and not ({"H"} <= seen or {"I"} <= seen):
        raise TimeFormatError(f"{spec!r}: needs an hour (%H or %I) or epoch seconds (%s)")
    date_parts = {"Y", "y", "m", "b", "B", "d"} & seen
    if "s" not in seen and date_parts and not ({"m", "b", "B"} & seen and "d" in seen):
        raise TimeFormatError(f"{spec!r}: needs a month (%m, %b or %B) and a day (%d), or no date at all")
    return "".join(out)


class _PatternReader:
    """Reads one strftime-style pattern; see the module docstring for the caches."""

    def __init__(self, spec: str, zone: tzinfo, clock: Clock | None) -> None:
        self.regex = re.compile(pattern_to_regex(spec))
        # A time of day only (logback's `%d{HH:mm:ss.SSS}`): the date is today's, in the zone.
        self.time_only = not ({"Y", "y", "m", "b", "B", "d", "s"} & set(self.regex.groupindex))
        self.zone = zone
        self.calendar = LocalCalendar(zone, clock)
        self.cache: dict[str, int | None] = {}

    def __call__(self, text: str) -> int | None:
        if self.time_only:  # the same text means another moment tomorrow: no string cache
            return self._read(text)
        cache = self.cache
        found = cache.get(text, -1)
        if found != -1:
            return found
        value = self._read(text)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    def _read(self, text: str) -> int | None:
        match = self.regex.fullmatch(text.strip())
        if match is None:
            return None
        parts = match.groupdict()
        epoch = parts.get("s")
        if epoch is not None:
            return epoch_to_us(float(epoch) if "." in epoch else int(epoch))
        hour = int(parts["H"]) if parts.get("H") is not None else _hour_12(parts)
        minute = int(parts["M"]) if parts.get("M") is not None else 0
        second = int(parts["S"]) if parts.get("S") is not None else 0
        if hour > 23 or minute > 59 or second > 60:
            return None
        if self.time_only:
            days, now_local = self.calendar.today()
            if (hour * 3600 + minute * 60 + second) - now_local > 3600:
                days -= 1  # a time well after now was written yesterday (read just after midnight)
        else:
            month = _month(parts)
            if month is None:
                return None
            day = int(parts["d"])
            try:
                days = self.calendar.day_number(self._year(parts, month, day), month, day)
            except ValueError:
                return None
        local = days * 86400 + hour * 3600 + minute * 60 + second
        utc = local - self._offset(parts, local, days, hour)
        fraction = parts.get("f")
        micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
        return utc * 1_000_000 + micros

    def _year(self, parts: dict[str, str | None], month: int, day: int) -> int:
        four = parts.get("Y")
        if four is not None:
            return int(four)
        two = parts.get("y")
        if two is not None:
            value = int(two)
            return 2000 + value if value < 69 else 1900 + value
        return self.calendar.year_of(month, day)

    def _offset(self, parts: dict[str, str | None], local: int, days: int, hour: int) -> int:
        explicit = parts.get("z")
        if explicit is not None:
            return offset_seconds(explicit)
        name = parts.get("Z")
        if name is not None and name in _UTC_NAMES:
            return 0
        return self.calendar.offset_at(local, days, hour)


def _month(parts: dict[str, str | None]) -> int | None:
    number = parts.get("m")
    if number is not None:
        value = int(number)
        return value if 1 <= value <= 12 else None
    short = parts.get("b")
    if short is not None:
        return _MONTHS.get(short.lower())
    full = parts.get("B")
    if full is not None:
        return _FULL_MONTHS.get(full.lower())
    return None


def _hour_12(parts: dict[str, str | None]) -> int:
    hour = int(parts.get("I") or 0) % 12
    meridian = parts.get("p")
    return hour + 12 if meridian and meridian.lower() == "pm" else hour


def _iso_reader(zone: tzinfo) -> TimeReader:
    cache: dict[str, int | None] = {}

    def read(text: str) -> int | None:
        found = cache.get(text, -1)
        if found != -1:
            return found
        value = parse_iso(text, zone)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    return read


def _epoch_reader(text: str) -> int | None:
    try:
        return epoch_to_us(float(text) if "." in text else int(text))
    except ValueError:
        return None


def compile_time_format(spec: str, zone: tzinfo, clock: Clock | None = None) -> TimeReader:
    """A reader for `spec`: `iso`, `epoch` (s/ms/µs/ns by magnitude) or a strftime-style pattern."""
    if spec == "iso":
        return _iso_reader(zone)
    if spec == "epoch":
        return _epoch_reader
    return _PatternReader(spec, zone, clock)


def compile_time_formats(specs: list[str], zone: tzinfo, clock: Clock | None = None) -> TimeReader:
    """A reader trying each spec in turn, starting with the one that worked last."""
    readers = [compile_time_format(spec, zone, clock) for spec in specs]
    if len(readers) == 1:
        return readers[0]
    order = list(readers)

    def read(text: str) -> int | None:
        for index, reader in enumerate(order):
            value = reader(text)
            if value is not None:
                if index:
                    order.insert(0, order.pop(index))
                return value
        return None

    return read
