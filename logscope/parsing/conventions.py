"""Key conventions shared by the structured formats (JSON lines, logfmt) for time, level, message."""

from __future__ import annotations

from datetime import tzinfo
from functools import lru_cache
from typing import Any

from logscope.parsing.leadtime import LeadingTime
from logscope.parsing.levels import normalize_level
from logscope.parsing.time_values import parse_time_value

# First key found wins. Covers Bunyan, pino, zap, logrus, structlog, ECS, Docker json-file, GELF.
TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "datetime", "date", "t", "asctime")
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level", "levelname", "level_name")
MESSAGE_KEYS = ("msg", "message", "log", "event", "short_message", "text")
HOST_KEYS = ("host", "hostname")


def take_time(obj: dict[str, Any], zone: tzinfo) -> int | None:
    """Remove and return the first key that holds a readable time, in µs: an epoch, ISO 8601, or
    any layout the `generic` format reads (Go's `2014-03-10 19:57:38.5625 -0400 EDT`, logrus)."""
    for key in TIME_KEYS:
        if key in obj:
            value = obj[key]
            ts = parse_time_value(value, zone)
            if ts is None and isinstance(value, str):
                ts = read_time_text(value, zone)
            if ts is not None:
                del obj[key]
                return ts
    return None


@lru_cache(maxsize=16)
def _leading_time(zone: tzinfo) -> LeadingTime:
    return LeadingTime(zone)


def read_time_text(text: str, zone: tzinfo) -> int | None:
    """A time written in any layout `generic` reads, when it is the whole text."""
    found = _leading_time(zone).find(text)
    return found.ts if found is not None and found.end == len(text) and found.lead is None else None


def take_level(obj: dict[str, Any]) -> str | None:
    """Remove and return the first key that holds a recognizable level, normalized."""
    for key in LEVEL_KEYS:
        if key in obj:
            level = normalize_level(obj[key])
            if level is not None:
                del obj[key]
                return level
    return None


def take_string(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """Remove and return the first of `keys` whose value is a string."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            del obj[key]
            return value
    return None
