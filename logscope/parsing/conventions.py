"""Key conventions shared by the structured formats (JSON lines, logfmt) for time, level, message."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from logscope.parsing.levels import normalize_level
from logscope.parsing.timestamps import parse_time_value

# First key found wins. Covers Bunyan, pino, zap, logrus, structlog, ECS, Docker json-file, GELF.
TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "datetime", "date", "t", "asctime")
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level", "levelname", "level_name")
MESSAGE_KEYS = ("msg", "message", "log", "event", "short_message", "text")
HOST_KEYS = ("host", "hostname")


def take_time(obj: dict[str, Any], zone: tzinfo) -> int | None:
    """Remove and return the first key that holds a readable time, in µs."""
    for key in TIME_KEYS:
        if key in obj:
            ts = parse_time_value(obj[key], zone)
            if ts is not None:
                del obj[key]
                return ts
    return None


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
