"""Levels for lines that carry none (BSD syslog text, generic lines), inferred from the message.

As lnav does: `panic`/`fatal` → fatal, `critical` → critical, `error`/`fail…`/`denied`/`refused`/
`oom`/`out of memory`/`segfault`/`exception` → error, `warn…`/`deprecated` → warning, each as a
whole word in any letter case. A record whose level was inferred gets the field
`level_inferred = true`, so a user can tell it from a level the program wrote.

The same rules run in Python (streaming) and as SQL over RE2 (the bulk fast path): the patterns
use only ASCII classes spelled out (`[Ee][Rr]…`, no `\\b`, no case folding), which both engines
read the same way on any text.
"""

from __future__ import annotations

import re

INFERRED_FIELD = "level_inferred"

# Most severe first: the first level whose words appear wins.
INFERRED_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fatal", ("panic", "fatal")),
    ("critical", ("critical",)),
    (
        "error",
        (
            "error", "errors", "err", "fail", "fails", "failed", "failure", "failures", "failing",
            "denied", "refused", "oom", "oom-killer", "out of memory", "segfault", "exception",
        ),
    ),
    ("warning", ("warn", "warning", "warnings", "deprecated")),
)  # fmt: skip

_BEFORE = "(?:^|[^0-9A-Za-z_])"
_AFTER = "(?:[^0-9A-Za-z_]|$)"


def _caseless(word: str) -> str:
    """`error` → `[Ee][Rr][Rr][Oo][Rr]`: case-blind in ASCII only, in Python `re` and RE2 alike."""
    out = []
    for char in word:
        if char.isalpha():
            out.append(f"[{char.upper()}{char.lower()}]")
        elif char == " ":
            out.append(" +")
        else:
            out.append(re.escape(char))
    return "".join(out)


def words_pattern(words: tuple[str, ...]) -> str:
    """One pattern matching any of `words` as a whole word."""
    return f"{_BEFORE}(?:{'|'.join(_caseless(word) for word in words)}){_AFTER}"


LEVEL_PATTERNS: tuple[tuple[str, str], ...] = tuple(
    (level, words_pattern(words)) for level, words in INFERRED_WORDS
)
_ANY = re.compile(words_pattern(tuple(word for _, words in INFERRED_WORDS for word in words)))
_COMPILED = tuple((level, re.compile(pattern)) for level, pattern in LEVEL_PATTERNS)


def infer_level(message: str) -> str | None:
    """The level the message's words suggest, or None."""
    if _ANY.search(message) is None:
        return None
    for level, pattern in _COMPILED:
        if pattern.search(message) is not None:
            return level
    return None


def infer_level_sql(message: str) -> str:
    """The same as `infer_level`, as a DuckDB expression over the SQL expression `message`."""
    cases = " ".join(
        f"WHEN regexp_matches({message}, '{pattern}') THEN '{level}'" for level, pattern in LEVEL_PATTERNS
    )
    # Most messages hold none of the words: one DFA pass for all of them first (as `_ANY`).
    return f"CASE WHEN NOT regexp_matches({message}, '{_ANY.pattern}') THEN NULL {cases} END"
