"""Syslog: RFC 3164 (BSD) messages and syslog files as `syslog`, RFC 5424 messages as `syslog5424`."""

from __future__ import annotations

import re
import time
from datetime import datetime, tzinfo
from typing import Any

from logscope.parsing.base import Parsed
from logscope.parsing.inferlevel import INFERRED_FIELD, infer_level
from logscope.parsing.levels import SYSLOG_SEVERITY
from logscope.parsing.time_values import datetime_to_us, infer_year, parse_iso

# Facility numbers 0..23 by their usual names (RFC 5424 table 1, Linux spellings).
FACILITIES: tuple[str, ...] = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    *(f"local{n}" for n in range(8)),
)
SEVERITIES: tuple[str, ...] = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}

# `<PRI>` (optional) then a BSD time `Oct 11 22:14:15` or an RFC 3339 time (rsyslog file format;
# `+0000` offsets as `journalctl -o short-iso` writes them).
_HEADER_3164 = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?"
    r"(?:(?:(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<day>\d{1,2})"
    r" (?P<hms>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,6}))?"
    r"|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d)?)) +)?"
)
# `app[pid]: ` or `app: ` at the start of what follows the header.
_TAG = re.compile(r"(?P<app>[^\s\[\]:]{1,128})(?:\[(?P<pid>[^\]\s]{1,32})\])?: ?")
_WORD = re.compile(r"(?P<host>[^\s\[\]]{1,255}) +")

_HEADER_5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S{1,255}) (?P<app>\S{1,48}) (?P<procid>\S{1,128})"
    r" (?P<msgid>\S{1,32}) "
)
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s\]="]{1,32})(?P<params>(?: [^\s\]="]{1,32}="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM = re.compile(r'([^\s\]="]{1,32})="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r'\\(["\\\]])')

FIELD_TYPES_3164: dict[str, str] = {
    "facility": "VARCHAR",
    "severity": "VARCHAR",
    "app": "VARCHAR",
    "pid": "BIGINT",
    "procid": "VARCHAR",
    "level_inferred": "BOOLEAN",
}
FIELD_TYPES_5424: dict[str, str] = {**FIELD_TYPES_3164, "msgid": "VARCHAR"}


_PRIORITIES: dict[str, tuple[str, str, str]] = {
    str(priority): (FACILITIES[priority // 8], SEVERITIES[priority % 8], SYSLOG_SEVERITY[priority % 8])
    for priority in range(192)
}


def decode_priority(text: str, fields: dict[str, Any]) -> str | None:
    """Put facility and severity names into `fields`; return the normalized level (None if invalid)."""
    found = _PRIORITIES.get(text) or _PRIORITIES.get(text.lstrip("0") or "0")
    if found is None:
        return None
    fields["facility"], fields["severity"], level = found
    return level


def _put_procid(procid: str, fields: dict[str, Any]) -> None:
    if procid.isdigit():
        fields["pid"] = int(procid)
    else:
        fields["procid"] = procid


class _YearClock:
    """The reference `now` for year inference, refreshed at most once a second."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._checked = 0.0
        self._now = datetime.now(zone)
        self._times: dict[str, int] = {}

    def now(self) -> datetime:
        current = time.monotonic()
        if current - self._checked >= 1.0:
            self._checked = current
            self._now = datetime.now(self.zone)
            self.times.clear()
        return self._now

    @property
    def times(self) -> dict[str, int]:
        """Converted `Mmm dd hh:mm:ss` times (µs), valid until the reference time moves on."""
        return self._times


class Rfc3164Parser:
    """BSD syslog: `<PRI>Oct 11 22:14:15 host app[pid]: msg`, the PRI-less file form, and `<PRI>msg`.

    A line needs a PRI or a time to be syslog; the RFC 3339 time (rsyslog's file format) also needs
    an `app:` tag, so other logs that merely start with an ISO time are left to their own formats.
    """

    name = "syslog"
    title = "Syslog RFC 3164 / BSD, and syslog files"
    field_types = FIELD_TYPES_3164
    first_chars = frozenset("<JFMASOND0123456789")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._clock = _YearClock(zone)

    def parse(self, line: str) -> Parsed | None:
        first = line[:1]
        if first != "<" and not (first.isupper() or first.isdigit()):
            return None
        header = _HEADER_3164.match(line)
        if header is None or (header["pri"] is None and header.end() == 0):
            return None
        pri = header["pri"]
        fields: dict[str, Any] = {}
        level = None
        if pri is not None:
            if line.startswith("1 ", len(pri) + 2) and _HEADER_5424.match(line):
                return None  # RFC 5424: the `syslog5424` parser's
            level = decode_priority(pri, fields)
            if level is None:
                return None
        ts = self._time(header)
        rest = line[header.end() :]
        host = None
        if ts is not None:
            word = _WORD.match(rest)
            if word is not None and not word["host"].endswith(":"):
                host = word["host"]
                rest = rest[word.end() :]
        tag = _TAG.match(rest)
        if tag is not None:
            fields["app"] = tag["app"]
            if tag["pid"] is not None:
                _put_procid(tag["pid"], fields)
            rest = rest[tag.end() :]
        elif header["iso"] is not None and header["pri"] is None:
            return None
        message = rest.rstrip("\r\n\x00")
        if level is None:  # a syslog file line: no PRI, so a level from the words, marked as such
            level = infer_level(message)
            if level is not None:
                fields[INFERRED_FIELD] = True
        return ts, level, message, fields or None, host

    def _time(self, header: re.Match[str]) -> int | None:
        if header["iso"] is not None:
            return parse_iso(header["iso"], self.zone)
        if header["mon"] is None:
            return None
        now = self._clock.now()
        key = header.group(0)[header.start("mon") : header.end("hms")]
        whole = self._clock.times.get(key)
        if whole is None:
            whole = self._convert(header, now)
            if whole is None:
                return None
            self._clock.times[key] = whole
        frac = header["frac"]
        return whole + int(frac.ljust(6, "0")) if frac else whole

    def _convert(self, header: re.Match[str], now: datetime) -> int | None:
        month, day = MONTHS[header["mon"]], int(header["day"])
        hours, minutes, seconds = (int(part) for part in header["hms"].split(":"))
        try:
            moment = datetime(infer_year(month, day, now), month, day, hours, minutes, seconds)
        except ValueError:
            return None
        return datetime_to_us(moment, self.zone)


def parse_structured_data(text: str) -> tuple[dict[str, Any], str] | None:
    """RFC 5424 STRUCTURED-DATA at the start of `text`: ({sd-id: {param: value}}, the rest)."""
    if text.startswith("-"):
        return {}, text[1:]
    elements: dict[str, Any] = {}
    position = 0
    while True:
        element = _SD_ELEMENT.match(text, position)
        if element is None:
            break
        params: dict[str, Any] = elements.setdefault(element["id"], {})
        for name, value in _SD_PARAM.findall(element["params"]):
            value = _SD_ESCAPE.sub(r"\1", value) if "\\" in value else value
            if name in params:  # a repeated parameter becomes a list
                known = params[name]
                params[name] = [*known, value] if isinstance(known, list) else [known, value]
            else:
                params[name] = value
        position = element.end()
    if position == 0:
        return None
    return elements, text[position:]


class Rfc5424Parser:
    """RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD-ID k="v"...] MSG`.

    Structured data becomes fields, one object per SD-ID: `[zoo@123 tiger="hungry"]` gives
    `{"zoo@123": {"tiger": "hungry"}}`.
    """

    name = "syslog5424"
    title = "Syslog RFC 5424"
    field_types = FIELD_TYPES_5424
    first_chars = frozenset("<")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone

    def parse(self, line: str) -> Parsed | None:
        if not line.startswith("<"):
            return None
        header = _HEADER_5424.match(line)
        if header is None:
            return None
        fields: dict[str, Any] = {}
        level = decode_priority(header["pri"], fields)
        if level is None:
            return None
        ts = None if header["ts"] == "-" else parse_iso(header["ts"], self.zone)
        if ts is None and header["ts"] != "-":
            return None
        structured = parse_structured_data(line[header.end() :])
        if structured is None:
            return None
        elements, rest = structured
        for key in ("app", "msgid"):
            if header[key] != "-":
                fields[key] = header[key]
        if header["procid"] != "-":
            _put_procid(header["procid"], fields)
        for sd_id, params in elements.items():
            fields.setdefault(sd_id, params)
        message = rest[1:] if rest.startswith(" ") else rest
        if message.startswith("\ufeff"):
            message = message[1:]
        host = None if header["host"] == "-" else header["host"]
        return ts, level, message.rstrip("\r\n\x00"), fields, host
