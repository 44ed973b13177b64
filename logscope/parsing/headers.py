"""Header-driven formats: the columns are declared by the file itself.

- `w3c`: W3C extended log files (IIS, also Windows firewall, some CDNs): `#Fields:` names the
  space-separated columns; `#Software`/`#Version`/`#Date` directives; blank lines between
  directives join the record before them.
- `zeek`: Zeek/Bro TSV logs: `#separator`, `#fields`, `#types`, `#unset_field`, `#empty_field`;
  `ts` is epoch seconds; values typed by `#types`.
- `csv`: CSV whose first line is a header naming a time column (`time`, `timestamp`, `date`...).

Each source gets its own copy of these parsers (`fresh`), since what a line means depends on the
header lines read before it. Header lines are kept as records of the format with a `directive`
field (nothing is lost); their time is the file's `#Date`/`#open` when known.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import tzinfo
from typing import Any, ClassVar, Self

from logscope.parsing.base import Parsed
from logscope.parsing.conventions import read_time_text
from logscope.parsing.levels import normalize_level
from logscope.parsing.time_values import parse_iso, parse_time_value

_W3C_INTS = frozenset(
    ("sc-status", "sc-substatus", "sc-win32-status", "sc-bytes", "cs-bytes", "time-taken", "s-port", "c-port")
)
_ZEEK_INTS = frozenset(("count", "int", "port"))
_ZEEK_FLOATS = frozenset(("double", "interval", "time"))
_CSV_TIME = ("@timestamp", "timestamp", "time", "datetime", "date_time", "ts", "_time", "date", "eventtime")
_CSV_LEVEL = ("level", "severity", "loglevel", "log_level", "priority")
_CSV_MESSAGE = ("message", "msg", "text", "event", "description")
_CSV_NAME = re.compile(r"[A-Za-z_@][\w .@()-]{0,63}")


def _status_level(status: str | None) -> str | None:
    if not status or not status[:1].isdigit():
        return None
    return "error" if status[0] == "5" else "warning" if status[0] == "4" else "info"


class HeaderParser:
    """What the three have in common: a parser per source, whose columns the header lines read
    so far declare (`fresh` gives a source its own), header lines kept with a `directive`."""

    name: str
    first_chars = None
    field_types: dict[str, str] = {"directive": "VARCHAR"}  # noqa: RUF012 - columns vary per file
    stateful = True

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone

    def fresh(self) -> Self:
        return type(self)(self.zone)


class DirectiveParser(HeaderParser):
    """W3C and Zeek: `#` lines are directives, and the lines after them columns they declare.
    What differs is data: `directives` (a name -> what its value sets, None: kept only), how a
    directive line splits (`_split`), the column separator and whether blank lines are skipped."""

    directives: ClassVar[dict[str, Callable[[Any, str], None] | None]]
    skip_blank = False

    def __init__(self, zone: tzinfo) -> None:
        super().__init__(zone)
        self._separator: str | None = None
        self._fields: list[str] | None = None
        self._unset = "-"
        self._file_ts: int | None = None  # the file's own time (W3C #Date, Zeek #open)

    def parse(self, line: str) -> Parsed | None:
        if line.startswith("#"):
            return self._directive(line.rstrip("\r"))
        if self._fields is None or self._separator is None or (self.skip_blank and not line.strip()):
            return None
        text = line.rstrip("\r")
        values = text.split(self._separator)
        if len(values) != len(self._fields):
            return None
        return self._record(text, values)

    def _directive(self, text: str) -> Parsed | None:
        split = self._split(text)
        if split is None or split[0] not in self.directives:
            return None
        name, value = split
        read = self.directives[name]
        if read is not None:
            read(self, value)
        return self._file_ts, None, text, {"directive": name}, None

    def _split(self, text: str) -> tuple[str, str] | None:
        """A directive line's name and value, or None when it is not one."""
        raise NotImplementedError

    def _record(self, text: str, values: list[str]) -> Parsed | None:
        """A line of as many values as there are columns."""
        raise NotImplementedError


class W3CParser(DirectiveParser):
    """W3C extended log format (IIS); see the module docstring."""

    name = "w3c"
    title = "W3C extended log (IIS): columns from #Fields"
    priority = 80
    continuation = "a blank line"
    max_lines = 1000
    skip_blank = True

    def __init__(self, zone: tzinfo) -> None:
        super().__init__(zone)
        self._separator = " "

    def continues(self, line: str) -> bool:
        return not line.strip()

    def _read_fields(self, value: str) -> None:
        self._fields = value.split()

    def _read_date(self, value: str) -> None:
        self._file_ts = parse_iso(value, self.zone)

    directives: ClassVar[dict[str, Callable[[Any, str], None] | None]] = {
        "Version": None, "Fields": _read_fields, "Software": None, "Date": _read_date,
        "Start-Date": _read_date, "End-Date": None, "Remark": None,
    }  # fmt: skip

    def _split(self, text: str) -> tuple[str, str] | None:
        name, colon, value = text[1:].partition(":")
        return (name, value.strip()) if colon else None

    def _record(self, text: str, values: list[str]) -> Parsed | None:
        row = dict(zip(self._fields or (), values, strict=True))
        ts = self._time(row)
        if ts is None and ("date" in row or "time" in row):
            return None
        fields: dict[str, Any] = {}
        for key, value in row.items():
            if value == "-" or key in ("date", "time"):
                continue
            fields[key] = int(value) if key in _W3C_INTS and value.isdigit() else value
        return ts, _status_level(row.get("sc-status")), text, fields or None, None

    def _time(self, row: dict[str, str]) -> int | None:
        date, clock = row.get("date"), row.get("time")
        if date and clock:
            return parse_iso(f"{date}T{clock}", self.zone)
        if clock and self._file_ts is not None:  # only a time of day: the #Date's day
            return parse_iso(f"{_day_of(self._file_ts)}T{clock}", self.zone)
        return None


def _day_of(ts: int) -> str:
    from logscope.parsing.time_values import us_to_datetime

    return us_to_datetime(ts).date().isoformat()


class ZeekParser(DirectiveParser):
    """Zeek (Bro) TSV logs; see the module docstring."""

    name = "zeek"
    title = "Zeek/Bro TSV log: columns from #fields and #types"
    priority = 80

    def __init__(self, zone: tzinfo) -> None:
        super().__init__(zone)
        self._types: list[str] = []
        self._empty = "(empty)"

    def _read_fields(self, value: str) -> None:
        self._fields = value.split(self._separator)

    def _read_types(self, value: str) -> None:
        self._types = value.split(self._separator)

    def _read_unset(self, value: str) -> None:
        self._unset = value

    def _read_empty(self, value: str) -> None:
        self._empty = value

    def _read_open(self, value: str) -> None:
        self._file_ts = _zeek_time(value, self.zone)

    directives: ClassVar[dict[str, Callable[[Any, str], None] | None]] = {
        "fields": _read_fields, "types": _read_types, "unset_field": _read_unset,
        "empty_field": _read_empty, "open": _read_open, "set_separator": None, "path": None,
        "close": None,
    }  # fmt: skip

    def _directive(self, text: str) -> Parsed | None:
        if text.startswith("#separator "):  # the one directive before the separator is known
            self._separator = _unescape(text[len("#separator ") :]) or None  # empty: not Zeek's
            return None if not self._separator else (None, None, text, {"directive": "separator"}, None)
        return super()._directive(text)

    def _split(self, text: str) -> tuple[str, str] | None:
        if self._separator is None:
            return None
        name, _, value = text[1:].partition(self._separator)
        return name, value

    def _record(self, text: str, values: list[str]) -> Parsed | None:
        fields: dict[str, Any] = {}
        ts = None
        for index, (key, value) in enumerate(zip(self._fields or (), values, strict=True)):
            if value == self._unset:
                continue
            kind = self._types[index] if index < len(self._types) else "string"
            if key == "ts":
                ts = _epoch(value)
                if ts is None:
                    return None
                continue
            fields[key] = "" if value == self._empty else _typed(value, kind)
        return ts, None, text, fields or None, None


def _unescape(text: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda match: chr(int(match.group(1), 16)), text)


def _epoch(text: str) -> int | None:
    """Epoch seconds with up to 6 decimals, exactly (no float rounding)."""
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        return None
    return int(whole) * 1_000_000 + int(fraction[:6].ljust(6, "0") or 0)


def _zeek_time(text: str, zone: tzinfo) -> int | None:
    """`#open 2019-02-21-22-45-02` (local time of the sensor, read in the zone)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d)-(\d\d)-(\d\d)-(\d\d)", text)
    return parse_iso(f"{match[1]} {match[2]}:{match[3]}:{match[4]}", zone) if match else None


def _typed(value: str, kind: str) -> Any:
    try:
        if kind in _ZEEK_INTS:
            return int(value)
        if kind in _ZEEK_FLOATS:
            return float(value)
    except ValueError:
        return value
    if kind == "bool":
        return value == "T"
    return value


class CsvParser(HeaderParser):
    """CSV with a header line naming a time column; see the module docstring."""

    name = "csv"
    title = "CSV with a header naming a time column"
    priority = 15

    def __init__(self, zone: tzinfo) -> None:
        super().__init__(zone)
        self._first = True
        self._columns: list[str] | None = None
        self._time = self._level = self._message = None

    def parse(self, line: str) -> Parsed | None:
        if self._first:
            self._first = False
            return self._header(line)
        if self._columns is None or "," not in line:
            return None
        try:
            (values,) = list(csv.reader([line]))
        except (csv.Error, ValueError):
            return None
        if len(values) != len(self._columns):
            return None
        row = dict(zip(self._columns, values, strict=True))
        text = row.pop(self._time or "", "")
        ts = parse_time_value(text, self.zone) or read_time_text(text, self.zone)
        if ts is None:
            return None
        level = normalize_level(row.pop(self._level)) if self._level else None
        message = row.pop(self._message) if self._message else line
        return ts, level, message, {k: v for k, v in row.items() if v != ""} or None, None

    def _header(self, line: str) -> Parsed | None:
        try:
            (names,) = list(csv.reader([line]))
        except (csv.Error, ValueError):
            return None
        names = [name.strip() for name in names]
        if len(names) < 2 or len(set(names)) != len(names) or not all(_CSV_NAME.fullmatch(n) for n in names):
            return None
        lowered = {name.lower(): name for name in names}
        self._time = next((lowered[key] for key in _CSV_TIME if key in lowered), None)
        if self._time is None:
            return None
        self._level = next((lowered[key] for key in _CSV_LEVEL if key in lowered), None)
        self._message = next((lowered[key] for key in _CSV_MESSAGE if key in lowered), None)
        self._columns = names
        return None, None, line, {"directive": "header"}, None
