"""Normalize the many spellings of a log level to the set in `logscope.record.LEVELS`."""

from __future__ import annotations

_NAMES: dict[str, str] = {}


def _alias(level: str, *names: str) -> None:
    for name in (level, *names):
        _NAMES[name] = level


_alias("trace", "trc", "t", "finest", "finer", "verbose", "v")
_alias("debug", "dbg", "d", "fine", "debug1", "debug2", "debug3", "debug4", "debug5", "config")
_alias("info", "inf", "i", "information", "informational", "log", "statement")
_alias("notice", "n", "note")
_alias("warning", "warn", "wrn", "w")
_alias("error", "err", "eror", "e", "severe", "failure", "fail")
_alias("critical", "crit", "c", "alert", "a")
_alias("fatal", "ftl", "f", "emerg", "emergency", "panic", "p")

# Bunyan and pino number their levels in tens.
_NUMERIC: dict[int, str] = {
    10: "trace",
    20: "debug",
    30: "info",
    40: "warning",
    50: "error",
    60: "fatal",
}

# Syslog severities 0..7.
SYSLOG_SEVERITY: tuple[str, ...] = (
    "fatal",  # emerg
    "critical",  # alert
    "critical",  # crit
    "error",  # err
    "warning",
    "notice",
    "info",
    "debug",
)


def normalize_level(value: object) -> str | None:
    """Map a level as written in a log (text or bunyan-style number) to a normalized level."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _NUMERIC.get(value)
    if isinstance(value, float):
        return _NUMERIC.get(int(value)) if value.is_integer() else None
    if not isinstance(value, str):
        return None
    found = _NAMES.get(value)
    if found is not None:
        return found
    return _NAMES.get(value.strip().strip("[]<>").lower())
