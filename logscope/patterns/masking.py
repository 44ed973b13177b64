"""Masking: the variable parts of messages replaced by `<*>` before patterns are mined.

What is masked: timestamps (ISO 8601, syslog and ctime styles), URLs, e-mail addresses, UUIDs,
IPv6 and MAC addresses, file paths, sizes and durations with their unit (`1.18 KB`, `<1 sec`),
host names (lower-case labels ending in a top-level domain), then every word that holds a digit
(numbers, ids, IPv4 addresses, hex, `12ms`, versions, `node-17`) and runs of 8 or more hex
letters (`ffffffff`). A word is a run of characters between whitespace and the delimiters
`= : , ; ( ) [ ] { } < > " ' |` (two dots in a row part words too), so `port=5070` keeps its key
(`port=<*>`) and `q1.cnzz.com:80` becomes `<*>:<*>`.

One RE2 expression does it all, applied to a whole Arrow column at once (pyarrow's
`replace_substring_regex`, which releases the GIL): about a microsecond a message.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

VARIABLE = "<*>"

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
_TOP_LEVEL_DOMAINS = (
    "com|net|org|edu|gov|mil|int|info|biz|io|asia|eu|us|uk|de|fr|nl|it|es|se|ch|at|be|dk|fi|cz|pl"
    "|ru|cn|hk|tw|jp|kr|in|au|ca|br|mx"
)
_DELIMITERS = r"\s=:,;()\[\]{}<>\"'|"
_WORD_CHAR = rf"(?:[^{_DELIMITERS}.]|\.[^{_DELIMITERS}.])"

# Tried left to right at each position; the first that matches is replaced.
_PARTS = (
    # ISO 8601 and its log4j/Python relatives: 2017-05-16 00:00:00.008, 2016-09-28T04:30:30Z
    rf"\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]{_CLOCK}(?:Z|[+-]\d{{2}}:?\d{{2}})?)?",
    # ctime and syslog: Wed Jul 27 10:59:53 2005, Jul 27 10:59:53
    rf"(?:{_DAY}\s+)?{_MONTH}\s+\d{{1,2}}\s+{_CLOCK}(?:\s+\d{{4}})?",
    r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+",  # URL
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail address
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",  # UUID
    r"[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){3,7}",  # IPv6 (uncompressed) or MAC address
    r"(?:~|\.{1,2})?(?:/[\w.@%+~?&=-]+){2,}/?",  # a path with two or more parts
    # a size or a duration with its unit: 1.18 KB, 500.0 B, <1 sec, 900 seconds
    r"[<>]?\d+(?:\.\d+)?\s?(?:(?:[KMGTP]i?)?B|[kmgt]b|[mun]s|µs|msecs?|secs?|seconds?|s|mins?|minutes?|hours?|h)\b",
    rf"{_WORD_CHAR}*\d{_WORD_CHAR}*",  # a word with a digit
    # a host name without digits: lower-case labels, a top-level domain among them
    rf"\b(?:[a-z0-9-]+\.)+(?:{_TOP_LEVEL_DOMAINS})(?:\.[a-z0-9-]+)*\b",
    r"\b(?:0x)?[0-9a-fA-F]{8,}\b",  # a run of hex letters
)
MASK_PATTERN = "|".join(f"(?:{part})" for part in _PARTS)


def mask_column(messages: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Every message with its variable parts replaced by `<*>` (nulls stay null)."""
    return pc.replace_substring_regex(messages, MASK_PATTERN, VARIABLE)


def mask(message: str) -> str:
    """One message masked (for a column, `mask_column` is much faster)."""
    return mask_column(pa.array([message], pa.string()))[0].as_py()
