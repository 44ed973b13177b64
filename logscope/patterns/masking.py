"""Masking: the variable parts of a message replaced by `<*>` before patterns are mined.

What is masked, in this order: timestamps (ISO 8601, syslog and ctime styles), URLs, e-mail
addresses, UUIDs, quoted strings of more than one word, file paths, then every word that holds a
digit (numbers, ids, IPv4/IPv6 addresses, hex, durations like `12ms`, versions, host names like
`node-17`). A word is a run of characters between whitespace and the delimiters `= : , ; ( ) [ ]
{ } < > " ' |`, so `port=5070` keeps its key (`port=<*>`) and `q1.cnzz.com:80` becomes `<*>:<*>`.
"""

from __future__ import annotations

import re

VARIABLE = "<*>"

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
_TIMESTAMPS = (
    # ISO 8601 and its log4j/Python relatives: 2017-05-16 00:00:00.008, 2016-09-28T04:30:30Z
    r"\d{4}-\d{2}-\d{2}(?:[T ]" + _CLOCK + r"(?:Z|[+-]\d{2}:?\d{2})?)?",
    # ctime / syslog: Wed Jul 27 10:59:53 2005, Jul 27 10:59:53
    rf"(?:{_DAY}\s+)?{_MONTH}\s+\d{{1,2}}\s+{_CLOCK}(?:\s+\d{{4}})?",
)
_EXTENSIONS = "so|py|sh|js|gz|db|pl|rb|cc|ts|md|rs|go|hh|ko|ps|xz|bz|7z|el|ml|hs"
_SINGLE_PATTERNS = (
    *_TIMESTAMPS,
    r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+",  # URL
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",  # UUID
    r"(?<![\w.])(?:~|\.{1,2})?(?:/[\w.@%+~?&=-]+){2,}/?",  # a path with two or more parts
    r"\d+(?:\.\d+)?\s?(?:[KMGTP]i?)?B\b|\d+(?:\.\d+)?\s?[kmgt]b\b",  # a size: 1.18 KB, 500.0 B
    r"[<>]?\d+(?:\.\d+)?\s?(?:ms|msecs?|secs?|seconds?|mins?|minutes?|hours?)\b",  # a duration
    # a host name: lower-case labels ending in a top-level domain (not a file name's extension)
    rf"(?<![\w.-])(?:[a-z0-9-]+\.)+(?:com|net|org|edu|gov|mil|int|info|biz|io|(?!{_EXTENSIONS})[a-z]{{2}})(?![\w.-])",
)
_DELIMITERS = r"\s=:,;()\[\]{}<>\"'|"
# A word: characters between delimiters, where two dots in a row also part words (`depth....0`).
_WORD = rf"(?:[^{_DELIMITERS}.]|\.(?!\.))"
# A word with a digit, or a run of 8+ hex letters (`ffffffff`, `0xE0000340`).
_VARIABLE_WORD = rf"(?<![^{_DELIMITERS}.])(?:{_WORD}*\d{_WORD}*|(?:0x)?[0-9a-fA-F]{{8,}}(?![^{_DELIMITERS}]))"

_SINGLE = re.compile("|".join(f"(?:{pattern})" for pattern in _SINGLE_PATTERNS))
_WORDS = re.compile(_VARIABLE_WORD)
_STARS = re.compile(r"(?:<\*>)+")


def mask(message: str) -> str:
    """The message with its variable parts replaced by `<*>` (adjacent ones merged)."""
    masked = _WORDS.sub(VARIABLE, _SINGLE.sub(VARIABLE, message))
    return _STARS.sub(VARIABLE, masked)
