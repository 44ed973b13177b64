"""Format patterns must not backtrack catastrophically (issue 22 item 4: `^(a+)+$` on 30 `a`s and a
`b` took 61 s).

`exponential_reason` finds, in the `re` parser's tree, a repetition whose body can match the same
text in more than one way: an unbounded repeat inside an unbounded repeat where what the inner
one matches can also start the next round or what follows it (`(a+)+`, `(\\w+\\s?)*`, `(.*)*`), or
alternatives that can start alike (`(a|ab)*`). Such a pattern takes time exponential in the line's
length on a line it does not match; definitions holding one are refused, with a hint (possessive
`++`, atomic `(?>...)`). Character sets are compared over a sample alphabet (ASCII and a few
non-ASCII letters, digits and spaces), which is enough to tell `\\s` from `\\S` or `[^\\]]` from `]`.

User patterns that pass this check may still be polynomial (`(.*),(.*),(.*);`); they run under
the `regex` module's timeout (`GuardedPattern`), so one line can never stall ingestion. Built-in
patterns are checked by tests/abuse/test_format_regex.py on 1 MiB lines and run on `re`.
"""

from __future__ import annotations

import re
import sys
from typing import Any

try:
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    sre_constants = None
    sre_parse = None

# Seconds one match of a user pattern may take before the line is given up on for that format.
MATCH_TIMEOUT = 0.25
_ALPHABET = "".join(chr(code) for code in range(128)) + "é\u00a0\u0663\u2003ß"
_FULL = frozenset(_ALPHABET)


class _Unknown(Exception):
    """A construct this analysis does not follow."""


def exponential_reason(pattern: str) -> str | None:
    """Why `pattern` may take exponential time, or None when no such repetition is found."""
    if sre_parse is None:
        return None
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, TypeError, ValueError, OverflowError):
        return None
    flags = tree.state.flags
    try:
        return _walk(list(tree), bool(flags & re.IGNORECASE), bool(flags & re.DOTALL))
    except (_Unknown, RecursionError):
        return None


def _walk(items: list, icase: bool, dotall: bool) -> str | None:
    c = sre_constants
    for op, argument in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            _low, high, body = argument
            body_items = list(body)
            if high == c.MAXREPEAT or high > 64:
                reason = _ambiguous_body(body_items, icase, dotall)
                if reason is not None:
                    return reason
            found = _walk(body_items, icase, dotall)
            if found is not None:
                return found
        elif op is c.SUBPATTERN:
            found = _walk(list(argument[-1]), icase, dotall)
            if found is not None:
                return found
        elif op is c.BRANCH:
            for branch in argument[1]:
                found = _walk(list(branch), icase, dotall)
                if found is not None:
                    return found
        elif op in (c.ASSERT, c.ASSERT_NOT):
            found = _walk(list(argument[1]), icase, dotall)
            if found is not None:
                return found
        # Atomic groups and possessive repeats never backtrack into their body.
    return None


def _ambiguous_body(body: list, icase: bool, dotall: bool) -> str | None:
    """Whether one round of an unbounded repeat can split text in more than one way."""
    first, nullable = _first(body, icase, dotall)
    if nullable:
        return "a repetition whose body can match empty text"
    if _overlapping_branches(body, icase, dotall):
        return "a repetition of alternatives that can match the same text"
    inner = _inner_repeat_overlap(body, first, icase, dotall)
    if inner is not None:
        return inner
    return None


def _overlapping_branches(body: list, icase: bool, dotall: bool) -> bool:
    c = sre_constants
    for op, argument in body:
        if op is c.SUBPATTERN and _overlapping_branches(list(argument[-1]), icase, dotall):
            return True
        if op is c.BRANCH:
            seen: set[str] = set()
            for branch in argument[1]:
                chars, _ = _first(list(branch), icase, dotall)
                if seen & chars:
                    return True
                seen |= chars
        if op is c.IN or op is c.LITERAL:
            return False
    return False


def _inner_repeat_overlap(body: list, wrap: set[str], icase: bool, dotall: bool) -> str | None:
    """An unbounded repeat inside the body whose characters can also begin what follows it
    (the rest of the body, or the next round: `wrap`)."""
    c = sre_constants
    for index, (op, argument) in enumerate(body):
        follow = _follow(body[index + 1 :], wrap, icase, dotall)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            _low, high, inner = argument
            if high == c.MAXREPEAT or high > 64:
                chars = _chars_of(list(inner), icase, dotall)
                if chars & follow:
                    return "a repetition inside a repetition that can match the same text (like (a+)+)"
        elif op is c.SUBPATTERN:
            found = _inner_repeat_overlap(list(argument[-1]), follow, icase, dotall)
            if found is not None:
                return found
    return None


def _follow(rest: list, wrap: set[str], icase: bool, dotall: bool) -> set[str]:
    chars, nullable = _first(rest, icase, dotall)
    return chars | wrap if nullable else chars


def _first(items: list, icase: bool, dotall: bool) -> tuple[set[str], bool]:
    """(characters a match can begin with, whether it can be empty)."""
    chars: set[str] = set()
    for op, argument in items:
        item_chars, nullable = _item_first(op, argument, icase, dotall)
        chars |= item_chars
        if not nullable:
            return chars, False
    return chars, True


def _item_first(op: Any, argument: Any, icase: bool, dotall: bool) -> tuple[set[str], bool]:
    c = sre_constants
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, _high, body = argument
        chars, nullable = _first(list(body), icase, dotall)
        return chars, nullable or low == 0
    if op is c.SUBPATTERN:
        return _first(list(argument[-1]), icase, dotall)
    if op is c.ATOMIC_GROUP:
        return _first(list(argument), icase, dotall)
    if op is c.BRANCH:
        chars: set[str] = set()
        nullable = False
        for branch in argument[1]:
            branch_chars, branch_nullable = _first(list(branch), icase, dotall)
            chars |= branch_chars
            nullable = nullable or branch_nullable
        return chars, nullable
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return set(), True
    if op is c.GROUPREF:
        raise _Unknown("backreference")
    return _single(op, argument, icase, dotall), False


def _chars_of(items: list, icase: bool, dotall: bool) -> set[str]:
    """Every character some match of `items` can contain (not only begin with)."""
    c = sre_constants
    chars: set[str] = set()
    for op, argument in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            chars |= _chars_of(list(argument[2]), icase, dotall)
        elif op is c.SUBPATTERN:
            chars |= _chars_of(list(argument[-1]), icase, dotall)
        elif op is c.ATOMIC_GROUP:
            chars |= _chars_of(list(argument), icase, dotall)
        elif op is c.BRANCH:
            for branch in argument[1]:
                chars |= _chars_of(list(branch), icase, dotall)
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        elif op is c.GROUPREF:
            raise _Unknown("backreference")
        else:
            chars |= _single(op, argument, icase, dotall)
    return chars


def _single(op: Any, argument: Any, icase: bool, dotall: bool) -> set[str]:
    """The alphabet characters one character-matching node matches."""
    c = sre_constants
    if op is c.LITERAL:
        char = chr(argument)
        return {char.lower(), char.upper()} if icase else {char}
    if op is c.NOT_LITERAL:
        return set(_FULL - {chr(argument)})
    if op is c.ANY:
        return set(_FULL if dotall else _FULL - {"\n"})
    if op is c.IN:
        return _in_set(argument, icase)
    raise _Unknown(str(op))


def _in_set(members: list, icase: bool) -> set[str]:
    c = sre_constants
    chars: set[str] = set()
    negate = False
    for op, argument in members:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            chars.add(chr(argument))
        elif op is c.RANGE:
            low, high = argument
            chars |= {char for char in _ALPHABET if low <= ord(char) <= high}
        elif op is c.CATEGORY:
            chars |= {char for char in _ALPHABET if re.match(_CATEGORY_PATTERNS[argument], char)}
        else:
            raise _Unknown(str(op))
    if icase:
        chars |= {char.swapcase() for char in chars}
    return set(_FULL - chars) if negate else chars


_CATEGORY_PATTERNS: dict[Any, str] = {}
if sre_constants is not None:
    _CATEGORY_PATTERNS = {
        sre_constants.CATEGORY_DIGIT: r"\d",
        sre_constants.CATEGORY_NOT_DIGIT: r"\D",
        sre_constants.CATEGORY_SPACE: r"\s",
        sre_constants.CATEGORY_NOT_SPACE: r"\S",
        sre_constants.CATEGORY_WORD: r"\w",
        sre_constants.CATEGORY_NOT_WORD: r"\W",
    }


class GuardedPattern:
    """A user's pattern run by the `regex` module with a time limit per match: a line it cannot
    decide in MATCH_TIMEOUT seconds counts as not matched (other formats, then `raw`, get it)."""

    def __init__(self, pattern: str, owner: str, flags: int = 0) -> None:
        import regex  # only a user's format needs it: not imported on every start

        self.compiled = regex.compile(pattern, flags)
        self.pattern = pattern
        self.groupindex = self.compiled.groupindex
        self.owner = owner
        self.timeouts = 0

    def match(self, line: str) -> Any:
        try:
            return self.compiled.match(line, timeout=MATCH_TIMEOUT)
        except TimeoutError:
            self.timeouts += 1
            if self.timeouts == 1:
                sys.stderr.write(
                    f"logscope: warning: format {self.owner!r}: a pattern took over {MATCH_TIMEOUT} s on a"
                    f" {len(line):,}-character line and was given up on (such lines go to other formats"
                    " or raw); check it with `logscope formats check`\n"
                )
            return None
