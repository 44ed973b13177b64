"""Durations in rule files: `500ms`, `30s`, `1h30m` to microseconds and back."""

from __future__ import annotations

import re

SECOND = 1_000_000
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_US = {"ms": 1_000, "s": SECOND, "m": 60 * SECOND, "h": 3600 * SECOND, "d": 86400 * SECOND}
_UNIT_US["w"] = 7 * _UNIT_US["d"]


def parse_duration(text: str) -> int | None:
    """Microseconds for `500ms`, `30s`, `5m`, `1h30m`, `2d`, `1w`; None when not a duration."""
    text = text.strip()
    if text in ("0", ""):
        return 0 if text == "0" else None
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_US[match.group(2)]
        position = match.end()
    return round(total) if position == len(text) else None


def format_duration(micros: int) -> str:
    """The shortest of `1h30m`-style text for a duration (inverse of parse_duration)."""
    if micros == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_US[unit]
        if micros >= size:
            parts.append(f"{micros // size}{unit}")
            micros %= size
    if micros:
        parts.append(f"{micros // 1000}ms" if micros % 1000 == 0 else f"{micros}us")
    return "".join(parts)
