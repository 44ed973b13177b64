"""JSON lines: one object per line, with the common key conventions for time, level and message."""

from __future__ import annotations

from datetime import tzinfo

import orjson

from logscope.parsing.base import Parsed
from logscope.parsing.conventions import HOST_KEYS, MESSAGE_KEYS, take_level, take_string, take_time


class JsonLinesParser:
    """Parses a line holding one JSON object; other fields stay as they are, nested included."""

    name = "json"
    title = "JSON lines"
    priority = 90
    first_chars = frozenset("{ \t")
    field_types: dict[str, str] = {}  # noqa: RUF012 - keys vary per line

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone

    def parse(self, line: str) -> Parsed | None:
        obj = json_object(line)
        if obj is None:
            return None
        ts = take_time(obj, self.zone)
        level = take_level(obj)
        message = take_string(obj, MESSAGE_KEYS) or ""
        host = take_string(obj, HOST_KEYS)
        # Docker's json-file driver keeps the newline the container wrote.
        return ts, level, message.rstrip("\r\n"), obj or None, host


def json_object(line: str) -> dict | None:
    """The JSON object a line holds, or None (not JSON, or JSON but not an object)."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None
