"""A typed filter as the rules read it: bare field names (`status = 503`) are the record's fields,
cast to the type their format gives them; mistakes are told in the words the user typed."""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb

from logscope.tui.filters import FilterError

# The logs table's columns: any other name in a filter is a field of the record.
LOG_COLUMNS = frozenset(
    {"id", "ts", "received_at", "source", "host", "format", "level", "message", "fields", "raw"}
)
# String literals, quoted names, bare names (and what follows them), anything else.
_TOKENS = re.compile(r"""('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|([A-Za-z_][A-Za-z0-9_]*)(\s*\()?|(.)""", re.S)


def check_balanced(text: str) -> None:
    """Raise FilterError for an unclosed quote or parenthesis, said plainly."""
    depth = 0
    for match in _TOKENS.finditer(text):
        literal, quoted, _, _, other = match.groups()
        if literal is not None and (len(literal) < 2 or not literal.endswith("'")):
            raise FilterError(f"a quote is not closed: {literal[:20]}…")
        if quoted is not None and (len(quoted) < 2 or not quoted.endswith('"')):
            raise FilterError(f"a double quote is not closed: {quoted[:20]}…")
        if other == "(" or (match.group(4) or "").strip() == "(":
            depth += 1
        elif other == ")":
            depth -= 1
            if depth < 0:
                raise FilterError("a ')' has no '(' before it")
    if depth > 0:
        raise FilterError(f"{depth} '(' not closed: a ')' is missing")


def with_typed_fields(
    con: duckdb.DuckDBPyConnection,
    text: str,
    field_types: dict[str, str],
    untyped: bool = True,
    stored_type: Callable[[str], str | None] | None = None,
) -> tuple[str, list[str]]:
    """`text` with each bare field name replaced by the field's value, typed as its format says;
    a name no format types takes the type its stored values have (`stored_type`). A name no
    record carries is an error if `untyped` (VARCHAR without `stored_type`, as in rules), else
    it is left alone. And the field names found."""
    from logscope.alerting.sandbox import RuleSqlError, expression_columns  # (on the first filter)

    check_balanced(text)
    try:
        names = {name for name in expression_columns(con, text) if name.lower() not in LOG_COLUMNS}
    except RuleSqlError as exc:
        raise FilterError(str(exc).removeprefix("not valid SQL: ")) from exc
    types = dict(field_types)
    for name in sorted(names - set(types)):
        stored = stored_type(name) if stored_type is not None else None
        if stored is not None:
            types[name] = stored
        elif untyped and stored_type is not None:  # plainly SQL: a typo, not text to look for
            columns = ", ".join(sorted(LOG_COLUMNS))
            raise FilterError(f"{name} is not a column ({columns}) nor a field of any record")
        elif untyped:
            types[name] = "VARCHAR"
    names = {name for name in names if name in types}
    field_types = types
    if not names:
        return text, []
    lowered = {name.lower(): name for name in names}
    from logscope.alerting.predicates import json_path

    def replace(match: re.Match) -> str:
        _, quoted, bare, call, _ = match.groups()
        name = bare or (quoted[1:-1].replace('""', '"') if quoted else None)
        if name is None or call or name.lower() not in lowered or _after_dot(match):
            return match.group(0)
        field = lowered[name.lower()]
        kind = field_types.get(field, "VARCHAR")
        return f"TRY_CAST(json_extract_string(fields, {json_path(field)}) AS {kind})"

    return _TOKENS.sub(replace, text), sorted(names)


def _after_dot(match: re.Match) -> bool:
    """A name after `.` is a part of a qualified name (`logs.level`, a struct's member)."""
    before = match.string[: match.start()].rstrip()
    return before.endswith(".")
