"""Python patterns for RE2 (the bulk-import fast path): conversion, and where the two differ.

RE2 runs a converted pattern through `pyarrow.compute.extract_regex`. It returns '' both for a
group that matched empty text and for one that took no part; `wrap_nullable` and
`group_min_widths` tell the two apart where a pattern allows it, `guard_regex` finds the lines on
which Python `re` and RE2 may read a pattern differently.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import threading
import warnings

import duckdb

from logscope.duckdb_config import SAFE_CONFIG

# Characters Python's `\s` matches and RE2's does not (RE2: tab, newline, form feed, CR, space).
_PY_ONLY_SPACES = r"[\x0b\x1c-\x1f\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_NON_ASCII = r"[^\x00-\x7f]"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_text(value: str | None) -> str:
    """A value as a SQL string expression: NULL for None, a NUL (which ends a literal) as chr(0)."""
    if value is None:
        return "NULL"
    literal = sql_literal(value)
    return literal.replace("\x00", "' || chr(0) || '") if "\x00" in value else literal


# A column's texts are joined by this character in one literal; a None is this mark.
COLUMN_SEPARATOR, NULL_MARK = "\x1f", "\x1e"


def split_columns(columns: dict[str, list[str | None]]) -> str | None:
    """A SELECT of the rows of `columns` (name -> its texts, None for NULL, all as long), each
    column one literal that `string_split` cuts: DuckDB binds it ~5x faster than `VALUES` with a
    row of literals per row (~15 µs a row). None when there is no row, or a text holds the
    separator, the NULL mark or a NUL (which ends a literal): `VALUES` then."""
    values = list(columns.values())
    if not values or not values[0]:
        return None
    parts = []
    for name, texts in columns.items():
        joined = COLUMN_SEPARATOR.join(NULL_MARK if text is None else text for text in texts)
        nulls = texts.count(None)
        if (
            joined.count(COLUMN_SEPARATOR) != len(texts) - 1
            or joined.count(NULL_MARK) != nulls
            or "\x00" in joined
        ):
            return None
        parts.append(f"nullif(unnest(string_split({sql_literal(joined)}, chr(31))), chr(30)) AS {name}")
    return f"SELECT {', '.join(parts)}"


def sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scan_pattern(pattern: str) -> str | None:
    """`pattern` with unnamed capturing groups made non-capturing and `\\Z` spelled `\\z`.

    None for constructs whose meaning differs between Python and RE2 (`{,n}`, POSIX classes)."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            pair = pattern[index : index + 2]
            out.append("\\z" if pair == "\\Z" and not in_class else pair)
            index += 2
            continue
        if in_class:
            if char == "[" and pattern[index + 1 : index + 2] in (":", "=", "."):
                return None
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            # A `]` or `^]` right after the opening bracket is a literal.
            if pattern[index : index + 1] == "^":
                out.append("^")
                index += 1
            if pattern[index : index + 1] == "]":
                out.append("]")
                index += 1
            continue
        elif char == "(" and pattern[index + 1 : index + 2] != "?":
            out.append("(?:")
            index += 1
            continue
        elif char == "{" and pattern[index + 1 : index + 2] == ",":
            return None
        out.append(char)
        index += 1
    return "".join(out)


def re2_pattern(pattern: str) -> str | None:
    """The RE2 form of a Python pattern, anchored like `re.match`; None when RE2 cannot run it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            compiled = re.compile(pattern)
        except (re.error, FutureWarning, DeprecationWarning):
            return None
    if any(not name.isascii() for name in compiled.groupindex):
        return None
    scanned = _scan_pattern(pattern)
    if scanned is None:
        return None
    converted = f"^(?:{scanned})"
    return converted if re2_accepts(converted) else None


def re2_accepts(pattern: str) -> bool:
    """Whether RE2 runs `pattern`: DuckDB's (a query over files in place), and pyarrow's when it
    is loaded (the bulk import, which imports it first; one that is not need not load it)."""
    try:
        re2_matches_empty(pattern)
    except duckdb.Error:
        return False
    if "pyarrow" not in sys.modules:
        return True
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.extract_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


RE2_CONFIG = {**SAFE_CONFIG, "enable_external_access": False}
_RE2_LOCK = threading.Lock()
_RE2_CONNECTION: list[duckdb.DuckDBPyConnection] = []  # made on first use
_LENT = threading.local()  # a connection this thread lends for the questions (`asked_in`)


@contextlib.contextmanager
def asked_in(con: duckdb.DuckDBPyConnection):
    """RE2's questions this thread asks meanwhile go to `con` (a query over files in place has a
    connection): a database of their own costs ~10 ms to make."""
    before = getattr(_LENT, "con", None)
    _LENT.con = con
    try:
        yield
    finally:
        _LENT.con = before


@functools.cache
def re2_matches_empty(pattern: str) -> bool:
    """Whether RE2 (DuckDB's `regexp_matches`) finds a match of `pattern` in ''; a duckdb.Error if
    RE2 refuses the pattern."""
    # The pattern as a literal: a parameter costs ~2 ms more on a connection's first one.
    question = (
        "SELECT regexp_matches('', $1)"
        if "\x00" in pattern
        else f"SELECT regexp_matches('', {sql_literal(pattern)})"
    )
    parameters = [pattern] if "\x00" in pattern else []
    lent = getattr(_LENT, "con", None)
    if lent is not None:
        row = lent.execute(question, parameters).fetchone()
        return bool(row and row[0])
    with _RE2_LOCK:
        if not _RE2_CONNECTION:
            # (nothing but RE2 is asked: no files, no extensions)
            _RE2_CONNECTION.append(duckdb.connect(":memory:", config=RE2_CONFIG))
        row = _RE2_CONNECTION[0].execute(question, parameters).fetchone()
    return bool(row and row[0])


_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def _group_end(pattern: str, start: int) -> int:
    """The index just past the group that opens at `start` (escapes and classes skipped)."""
    depth, index, in_class = 0, start, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "^":
                index += 1
            if pattern[index + 1 : index + 2] == "]":
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError("unbalanced group")


def wrap_nullable(pattern: str, names: set[str]) -> tuple[str, set[str]]:
    """Wrap each group that may match empty, with the literal before it, in a `__w_<name>` group.

    A participating group then has a non-empty wrapper, so '' no longer hides whether it took part."""
    wrapped: set[str] = set()
    for name in sorted(names):
        opening = f"(?P<{name}>"
        start = pattern.find(opening)
        if start < 1:
            continue
        atom = 1
        if start >= 2 and pattern[start - 2] == "\\" and not pattern[start - 1].isalnum():
            atom = 2
        elif pattern[start - 1] in _SPECIAL or (start >= 2 and pattern[start - 2] == "\\"):
            continue
        end = _group_end(pattern, start)
        pattern = f"{pattern[: start - atom]}(?P<__w_{name}>{pattern[start - atom : end]}){pattern[end:]}"
        wrapped.add(name)
    return pattern, wrapped


def guard_regex(pattern: str) -> str | None:
    """A regex matching the lines on which Python `re` and RE2 may read `pattern` differently."""
    compiled = re.compile(pattern)
    guards = []
    if compiled.flags & re.IGNORECASE or re.search(r"\\[dDwWbB]", pattern):
        guards.append(_NON_ASCII)
    if re.search(r"\\[sS]", pattern):
        guards.append(_PY_ONLY_SPACES)
    return "|".join(guards) or None


def group_min_widths(pattern: str) -> dict[str, int]:
    """Named group -> the fewest characters it can match (0: it may match empty text)."""
    from re import _parser  # type: ignore[attr-defined]

    names = {index: name for name, index in re.compile(pattern).groupindex.items()}
    widths: dict[str, int] = {}

    def walk(node: object) -> None:
        if isinstance(node, _parser.SubPattern):
            for op, av in node.data:
                if op is _parser.SUBPATTERN and av[0] in names:
                    widths[names[av[0]]] = av[-1].getwidth()[0]
                walk(av)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(_parser.parse(pattern))
    return widths


def always_participating(pattern: str) -> set[str]:
    """Named groups that take part in every match of `pattern`: reached through no alternation,
    optional repeat, lookaround or conditional. For them '' can only be an empty match, so they
    need no `wrap_nullable` wrapper (each capture costs RE2 time on every line)."""
    from re import _parser  # type: ignore[attr-defined]

    names = {index: name for name, index in re.compile(pattern).groupindex.items()}
    always: set[str] = set()

    def walk(node: object) -> None:
        for op, av in node.data:  # type: ignore[attr-defined]
            if op is _parser.SUBPATTERN:
                if av[0] in names:
                    always.add(names[av[0]])
                walk(av[-1])
            elif op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT) and av[0] >= 1:
                walk(av[2])
            elif op is _parser.ATOMIC_GROUP:
                walk(av)

    walk(_parser.parse(pattern))
    return always
