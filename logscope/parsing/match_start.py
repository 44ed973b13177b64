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
    parsed = _parsed(pattern)
    if parsed is None:
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


def _parsed(pattern: str):
    """`re`'s parse of `pattern`, or None."""
    if sre_parse is None:
        return None
    try:
        return sre_parse.parse(pattern)
    except (re.error, TypeError, ValueError, OverflowError):
        return None


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


# --- gates: a pattern's first items, a regex to try before the pattern is compiled -----------

GATE_CHARS = 30  # a gate's text: at most this long (a few of the pattern's first items)
_GATES: dict[str, str | None] = {}  # the bundled patterns' gates (toml_cache.py keeps them)
_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.ASCII, "a"))


def remember_gates(known: dict[str, str | None]) -> None:
    """Take `gate` answers worked out before (pattern -> its gate, or None)."""
    _GATES.update(known)


def known_gate(pattern: str) -> str | None:
    """The gate worked out before for `pattern` (a bundled one), else None: working it out costs
    about what compiling the pattern does."""
    return _GATES.get(pattern)


def gate(pattern: str) -> str | None:
    """A regex that every text `pattern` matches at its start (`re.match`) also matches there:
    the pattern's first items, as written (groups made non-capturing), up to GATE_CHARS. Compiled
    in ~1/20 of the pattern's time, it rules a format out of a line before the format's patterns
    are compiled (detection tries every format on a source's first lines). None when the first
    item is not one it can write."""
    parsed = _parsed(pattern)
    if parsed is None:
        return None
    written, _ = _prefix(list(parsed), GATE_CHARS)
    flags = "".join(letter for flag, letter in _FLAGS if parsed.state.flags & flag)
    text = (f"(?{flags})" if flags else "") + "".join(written)
    try:
        compiled = re.compile(text)
    except (re.error, RecursionError, OverflowError):
        return None
    return None if compiled.match("") is not None else text  # one matching '' rules little out


def _prefix(items: list, room: int) -> tuple[list[str], bool]:
    """The first of `items` written out within `room` characters (a group without flags is
    opened: its items continue the sequence), and whether all of them were. An item too long is
    cut where that keeps every match matching (`_cut`), and ends the gate."""
    written: list[str] = []
    for op, argument in items:
        left = room - sum(map(len, written))
        if op is sre_constants.SUBPATTERN and not argument[1] and not argument[2]:
            inner, complete = _prefix(list(argument[-1]), left)
            written += inner
            if not complete:
                return written, False
            continue
        text = _whole(op, argument)
        if text is None or len(text) > left:
            cut = _cut(op, argument, left)
            return written + ([cut] if cut else []), False
        written.append(text)
    return written, True


def _cut(op, argument, room: int) -> str | None:
    """The start of an item too long for `room`: each alternative's first items, or those of
    the body of a group or repeat that matches at least once; None if nothing is left."""
    c = sre_constants
    if op is c.BRANCH:
        share = max(room // len(argument[1]), 12)
        starts = ["".join(_prefix(list(branch), share)[0]) for branch in argument[1]]
        return f"(?:{'|'.join(starts)})" if all(starts) else None
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and argument[0] >= 1:
        return "".join(_prefix(list(argument[2]), room)[0]) or None
    if op is getattr(c, "ATOMIC_GROUP", None):
        return "".join(_prefix(list(argument), room)[0]) or None
    return None


def _sequence_text(items) -> str | None:
    texts = [_whole(op, argument) for op, argument in items]
    return None if None in texts else "".join(texts)  # type: ignore[arg-type]


def _whole(op, argument) -> str | None:
    """One item as `re` reads it, or None."""
    c = sre_constants
    if op is c.LITERAL:
        return _char(argument)
    if op is c.NOT_LITERAL:
        return f"[^{_char(argument)}]"
    if op is c.ANY:
        return "."
    if op is c.IN:
        return _class(argument)
    if op is c.AT:
        return _AT.get(argument)
    if op is c.BRANCH:
        branches = [_sequence_text(branch) for branch in argument[1]]
        return None if None in branches else f"(?:{'|'.join(branches)})"  # type: ignore[arg-type]
    if op is c.SUBPATTERN:
        body = _sequence_text(argument[-1])
        return None if body is None else f"(?{_flag_letters(argument[1], argument[2])}:{body})"
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, high, body = argument
        text = _sequence_text(body)
        if text is None:
            return None
        bound = _BOUNDS.get((low, high)) or _bound(low, high)
        lazy = "?" if op is c.MIN_REPEAT else "+" if op is not c.MAX_REPEAT else ""
        single = len(body) == 1 and body[0][0] in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN)
        return f"{text if single else f'(?:{text})'}{bound}{lazy}"
    if op is getattr(c, "ATOMIC_GROUP", None):
        body = _sequence_text(argument)
        return None if body is None else f"(?>{body})"
    if op in (c.ASSERT, c.ASSERT_NOT):
        direction, body = argument
        text = _sequence_text(body)
        kind = ("=" if op is c.ASSERT else "!") if direction == 1 else ("<=" if op is c.ASSERT else "<!")
        return None if text is None else f"(?{kind}{text})"
    return None


def _bound(low: int, high: int) -> str:
    if high is sre_constants.MAXREPEAT:
        return f"{{{low},}}"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _flag_letters(added: int, removed: int) -> str:
    on = "".join(letter for flag, letter in _FLAGS if added & flag)
    off = "".join(letter for flag, letter in _FLAGS if removed & flag)
    return on + (f"-{off}" if off else "")


def _char(code: int) -> str:
    """One character, written so that it means itself in and out of a class."""
    char = chr(code)
    if char.isascii() and char.isalnum():
        return char
    if char.isascii() and char.isprintable():
        return "\\" + char
    return f"\\U{code:08x}"


def _class(members: list) -> str | None:
    c = sre_constants
    written = []
    for index, (op, argument) in enumerate(members):
        if op is c.NEGATE and index == 0:
            written.append("^")
        elif op is c.LITERAL:
            written.append(_char(argument))
        elif op is c.RANGE:
            written.append(f"{_char(argument[0])}-{_char(argument[1])}")
        elif op is c.CATEGORY and argument in _CATEGORIES:
            written.append(_CATEGORIES[argument])
        else:
            return None
    if len(members) == 1 and members[0][0] is c.CATEGORY:
        return written[0]  # \\d, not [\\d]
    return f"[{''.join(written)}]"


if sre_constants is not None:
    _AT = {
        sre_constants.AT_BEGINNING: "^",
        sre_constants.AT_BEGINNING_STRING: "\\A",
        sre_constants.AT_END: "$",
        sre_constants.AT_END_STRING: "\\Z",
        sre_constants.AT_BOUNDARY: "\\b",
        sre_constants.AT_NON_BOUNDARY: "\\B",
    }
    _BOUNDS = {(0, sre_constants.MAXREPEAT): "*", (1, sre_constants.MAXREPEAT): "+", (0, 1): "?"}
    _CATEGORIES = {
        sre_constants.CATEGORY_DIGIT: "\\d",
        sre_constants.CATEGORY_NOT_DIGIT: "\\D",
        sre_constants.CATEGORY_SPACE: "\\s",
        sre_constants.CATEGORY_NOT_SPACE: "\\S",
        sre_constants.CATEGORY_WORD: "\\w",
        sre_constants.CATEGORY_NOT_WORD: "\\W",
    }
