"""A regular expression's named groups read from its text, without compiling it (loading the
format registry compiles a pattern only when a command first uses its format)."""

from __future__ import annotations

import re

# After `(?`: what `scanned_groups` reads. `P<` opens a named group; the others open no group
# that `re` or `regex` would name (`P=` is a back-reference; flags without `x`, whose comments
# could hold anything, end in `:` or `)`).
_GROUP_OPENERS = re.compile(r"P<(?P<name>[A-Za-z_][A-Za-z_0-9]*)>|[:=!>]|<[=!]|P=|[aiLmsu-]+[:)]")


def scanned_groups(pattern: str, unnamed: bool = True) -> tuple[str, ...] | None:
    """The named groups of `pattern` read from its text, in order (as `re` numbers them), or None
    where the text has anything this reading could get wrong (a verbose flag, a comment group, a
    `[` or `[:` inside a class, a name twice, a `(?` construct other than the usual ones), or an
    unnamed capturing group when not `unnamed`: the caller then compiles it. `(?P<` inside a class
    or after a backslash opens no group."""
    names: list[str] = []
    index, end = 0, len(pattern)
    while index < end:
        char = pattern[index]
        if char == "\\":
            index += 2
        elif char == "[":
            index = _class_end(pattern, index)
            if index < 0:
                return None
        elif char == "(" and pattern.startswith("?", index + 1):
            opener = _GROUP_OPENERS.match(pattern, index + 2)
            if opener is None:
                return None
            name = opener.group("name")
            if name is not None:
                if name in names:
                    return None
                names.append(name)
            index = opener.end()
        elif char == "(" and not unnamed:
            return None
        else:
            index += 1
    return tuple(names)


def _class_end(pattern: str, start: int) -> int:
    """The index after the `]` closing the class opened at `start`; -1 where `re` and `regex`
    could read it differently (a `[` inside) or it is not closed."""
    index = start + 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1  # a `]` first is a literal
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
        elif char == "[":
            return -1
        elif char == "]":
            return index + 1
        else:
            index += 1
    return -1
