"""The set of characters a pattern's match can start with, so a line can skip formats cheaply.

Uses the `re` module's own pattern parser; anything it cannot reason about gives None (no filter).
"""

from __future__ import annotations

import re
import string

try:  # Python 3.11+ keeps the parser here; it is the documented engine of `re.compile`.
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older layouts
    sre_constants = None
    sre_parse = None

_WHITESPACE = frozenset(" \t\n\r\f\v")
_DIGITS = frozenset(string.digits)


class _Unknown(Exception):
    """The pattern starts with something too broad to be worth filtering on."""


# Patterns whose answer is known already: the bundled ones', kept with their parsed TOML
# (parsing/toml_cache.py, whose cache is named by this file's text too).
_KNOWN: dict[str, frozenset[str] | None] = {}


def remember(known: dict[str, list[str] | None]) -> None:
    """Take `first_chars` answers worked out before (pattern -> its characters, or None)."""
    _KNOWN.update({pattern: None if chars is None else frozenset(chars) for pattern, chars in known.items()})


def first_chars(pattern: str) -> frozenset[str] | None:
    """Characters a match of `pattern` (anchored at the start of a line) can begin with, or None."""
    if pattern in _KNOWN:
        return _KNOWN[pattern]
    return worked_out(pattern)


def worked_out(pattern: str) -> frozenset[str] | None:
    """`first_chars`, from the pattern's parse (~0.2 ms a pattern)."""
    if sre_parse is None:
        return None
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, TypeError, ValueError, OverflowError):
        return None
    try:
        chars, nullable = _sequence(list(parsed))
    except (_Unknown, TypeError, ValueError):
        return None
    if nullable or not chars:
        return None
    if parsed.state.flags & re.IGNORECASE:
        chars = {case for char in chars for case in (char.lower(), char.upper())}
    return frozenset(chars)


def _sequence(items: list) -> tuple[set[str], bool]:
    """(first characters, whether the whole sequence can match empty)."""
    chars: set[str] = set()
    for op, argument in items:
        item_chars, nullable = _item(op, argument)
        chars |= item_chars
        if not nullable:
            return chars, False
    return chars, True


def _item(op, argument) -> tuple[set[str], bool]:
    c = sre_constants
    if op is c.LITERAL:
        return {chr(argument)}, False
    if op is c.AT:
        return set(), True
    if op is c.IN:
        return _in_set(argument), False
    if op is c.SUBPATTERN:
        return _sequence(list(argument[-1]))
    if op is c.ATOMIC_GROUP:
        return _sequence(list(argument))
    if op is c.BRANCH:
        chars: set[str] = set()
        nullable = False
        for branch in argument[1]:
            branch_chars, branch_nullable = _sequence(list(branch))
            chars |= branch_chars
            nullable = nullable or branch_nullable
        return chars, nullable
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, _high, body = argument
        body_chars, body_nullable = _sequence(list(body))
        return body_chars, body_nullable or low == 0
    if op in (c.ASSERT, c.ASSERT_NOT):
        return set(), True
    raise _Unknown(str(op))


def _in_set(members: list) -> set[str]:
    c = sre_constants
    chars: set[str] = set()
    for op, argument in members:
        if op is c.LITERAL:
            chars.add(chr(argument))
        elif op is c.RANGE:
            low, high = argument
            if high - low > 200:
                raise _Unknown("wide range")
            chars.update(chr(code) for code in range(low, high + 1))
        elif op is c.CATEGORY:
            chars |= _category(argument)
        else:  # NEGATE and the like: too broad
            raise _Unknown(str(op))
    return chars


def _category(category) -> set[str]:
    c = sre_constants
    if category is c.CATEGORY_DIGIT:
        return set(_DIGITS)
    if category is c.CATEGORY_SPACE:
        return set(_WHITESPACE)
    raise _Unknown(str(category))
