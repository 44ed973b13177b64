"""logfmt: `key=value key2="quoted value"` lines, as written by Heroku, logrus, go-kit and Loki."""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from logscope.parsing.base import Parsed
from logscope.parsing.conventions import HOST_KEYS, MESSAGE_KEYS, take_level, take_string, take_time
from logscope.parsing.time_values import parse_iso

_PAIR = re.compile(r'([^\s=",]+)=("[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]*)\s*')
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        if "\\" in inner:
            return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), inner)
        return inner
    return value


def _pairs(text: str) -> dict[str, Any] | None:
    """The pairs of a line with quoted values, or None unless the line is wholly pairs."""
    fields: dict[str, Any] = {}
    position = 0
    # Each pair must start where the last one ended: matching there (not searching on) keeps
    # a long run without `=` (binary junk, a 1 MiB line) linear instead of quadratic.
    while position < len(text):
        match = _PAIR.match(text, position)
        if match is None:
            return None
        fields[match.group(1)] = _unquote(match.group(2))
        position = match.end()
    return fields


def _unquoted_pairs(text: str) -> dict[str, Any] | None:
    """`_pairs` for a line without quotes, by splitting (what `_PAIR` reads there, faster)."""
    fields: dict[str, Any] = {}
    for token in text.split():
        key, equals, value = token.partition("=")
        if not equals or not key or "," in key:
            return None
        fields[key] = value
    return fields


def _leading_time(text: str, zone: tzinfo) -> tuple[int, int] | None:
    """An RFC 3339 time without a key before the pairs (`2026-12-06T10:00:20Z level=info ...`):
    its µs and where the pairs start."""
    if not text[:1].isdigit():
        return None
    word, space, _ = text.partition(" ")
    if not space or "=" in word or len(word) < 19 or word[10:11] != "T":
        return None
    ts = parse_iso(word, zone)
    return (ts, len(word) + 1) if ts is not None else None


class LogfmtParser:
    """Accepts a line only when it is wholly key=value pairs (at least two of them), or an
    RFC 3339 time without a key followed by at least one pair."""

    name = "logfmt"
    title = "logfmt key=value pairs"
    priority = 10
    field_types: dict[str, str] = {}  # noqa: RUF012 - keys vary per line

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone

    def parse(self, line: str) -> Parsed | None:
        text = line.strip()
        if "=" not in text:
            return None
        leading = _leading_time(text, self.zone)
        if leading is not None:
            text = text[leading[1] :]
        fields = _pairs(text) if '"' in text else _unquoted_pairs(text)
        if fields is None or len(fields) < (1 if leading is not None else 2):
            return None
        ts = leading[0] if leading is not None else take_time(fields, self.zone)
        level = take_level(fields)
        message = take_string(fields, MESSAGE_KEYS) or ""
        host = take_string(fields, HOST_KEYS)
        return ts, level, message, fields or None, host
