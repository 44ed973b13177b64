"""`generic`: the fallback before `raw` for any line that starts with a time, as lnav's generic format.

A line that begins (after an optional `<PRI>`, bracket, pid, host or level word) with a time in a
common layout (parsing/leadtime.py) gets that time; a level word or letter near the start
(`INFO`, `[warn]`, `<E>`, `level=error`, glog's `E0517`, `<3>`) its level, else one inferred from
the message (marked `level_inferred`); the rest is the message. Lines that do not start with a
time and that no other format accepts join the record before them (stack traces, wrapped text).
"""

from __future__ import annotations

import re
from datetime import tzinfo
from functools import lru_cache
from itertools import islice
from typing import Any

from logscope.parsing.base import Parsed
from logscope.parsing.inferlevel import INFERRED_FIELD, infer_level
from logscope.parsing.leadtime import Clock, LeadingTime, LeadingTimeMatch
from logscope.parsing.levels import normalize_level

GENERIC = "generic"
_SEPARATORS = " \t]|:-,;>)"
_DECORATION = "[](){}<>:|,;"
_KEY_LEVEL = re.compile(r"(?:level|lvl|severity|loglevel|log\.level|levelname)=\"?([A-Za-z]{1,12})\"?", re.I)
# Level words taken anywhere near the start when written in capitals (or decorated: `[warn]`).
_LEVEL_WORDS = frozenset(
    (
        *("TRACE", "DEBUG", "DBG", "INFO", "INF", "INFORMATION", "NOTICE", "WARN", "WARNING", "WRN"),
        *("ERROR", "ERR", "CRIT", "CRITICAL", "FATAL", "FTL", "SEVERE", "ALERT", "EMERG", "PANIC"),
        *("VERBOSE", "FINE", "FINER", "FINEST", "CONFIG"),
    )
)
_LETTERS = frozenset("DIWEF")
_HOST = re.compile(r"[A-Za-z][A-Za-z0-9.-]{0,252}")
_SCANNED_TOKENS = 4
_TOKEN = re.compile(r"[^ \t|]+")
_SCANNED_CHARS = 200
_GLUED_LEVEL = re.compile(r"([A-Z]{3,11}):(?=\S)")


class GenericParser:
    """Accepts a line that starts with a time; see the module docstring."""

    name = GENERIC
    title = "Generic: a leading time, maybe a level, a message (the fallback before raw)"
    priority = 5
    first_chars = None
    field_types: dict[str, str] = {"pid": "BIGINT", "lead": "VARCHAR", INFERRED_FIELD: "BOOLEAN"}  # noqa: RUF012
    # Lines without a leading time continue a generic record, unless another format takes them.
    continuation = "a line that does not start with a time"
    yields_to_formats = True
    max_lines = 1000

    def __init__(self, zone: tzinfo, clock: Clock | None = None) -> None:
        self.zone = zone
        self.clock = clock
        self.times = LeadingTime(zone, clock)
        # The line `continues` looked at last and the time it found (parse usually follows).
        self._last: tuple[str | None, LeadingTimeMatch | None] = (None, None)

    def parse(self, line: str) -> Parsed | None:
        last_line, last_found = self._last
        found = last_found if line is last_line else self.times.find(line)
        if found is None:
            return None
        fields: dict[str, Any] = {}
        host = None
        level = found.level
        if found.lead is not None:
            level, host = _read_lead(found.lead, level, fields)
        rest = line[found.end :].lstrip(_SEPARATORS)
        if level is None:
            level, rest = _scan_level(rest)
        if level is None:
            level = infer_level(rest)
            if level is not None:
                fields[INFERRED_FIELD] = True
        return found.ts, level, rest.rstrip("\r\n"), fields or None, host

    def continues(self, line: str) -> bool:
        """Whether `line` may continue a generic record: it does not start with a time."""
        first = line[:1]
        if not first or first in " \t":
            return True
        found = self.times.find(line)
        self._last = (line, found)
        return found is None


def _read_lead(lead: str, level: str | None, fields: dict[str, Any]) -> tuple[str | None, str | None]:
    """The word before the time: a pid, a level or a host (anything else stays in `lead`)."""
    if lead.isdigit():
        fields["pid"] = int(lead)
        return level, None
    word = _level_word(lead, True)
    if word is not None:
        return level or word, None
    if _HOST.fullmatch(lead):
        return level, lead
    fields["lead"] = lead
    return level, None


def _scan_level(rest: str) -> tuple[str | None, str]:
    """A level among the first few words of `rest`, and the message (after the level when it
    is the first word)."""
    glued = _GLUED_LEVEL.match(rest)  # `DEBUG:foo bar`, `INFO:com.root:Response` (no space after)
    if glued is not None and glued[1] in _LEVEL_WORDS:
        return normalize_level(glued[1]), rest[glued.end() :]
    for index, token in enumerate(islice(_TOKEN.finditer(rest, 0, _SCANNED_CHARS), _SCANNED_TOKENS)):
        level = _level_word(token.group(), index == 0)
        if level is not None:
            if index == 0:
                return level, rest[token.end() :].lstrip(_SEPARATORS)
            return level, rest
    return None, rest


@lru_cache(maxsize=8192)
def _level_word(token: str, first: bool) -> str | None:
    """The level a token names: `INFO`, `[warn]`, `<E>`, `<3>`, `[core:error]`, `level=warn`."""
    if token in _LEVEL_WORDS:
        return normalize_level(token)
    if "=" in token:
        keyed = _KEY_LEVEL.match(token)
        return normalize_level(keyed.group(1)) if keyed is not None else None
    core = token.strip(_DECORATION)
    if not core:
        return None
    decorated = len(core) != len(token)
    if ":" in core and token.startswith("["):
        core = core.rpartition(":")[2]
    if core.isdigit():
        return _SEVERITIES[int(core)] if token.startswith("<") and len(core) == 1 and core < "8" else None
    if len(core) == 1:
        if core in _LETTERS and (decorated or first):
            return normalize_level(core)
        return None
    if core in _LEVEL_WORDS or (core.upper() in _LEVEL_WORDS and (decorated or first)):
        return normalize_level(core)
    return None


_SEVERITIES = ("fatal", "critical", "critical", "error", "warning", "notice", "info", "debug")
