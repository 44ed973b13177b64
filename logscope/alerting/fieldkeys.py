"""Which keys of a record's `fields` rule SQL reads, so that records read back from the store for
the rules need carry only those (store/bulk.py narrows `fields` to them).

An expression reads known keys when every reference to the `fields` column is the object of a
key lookup by a constant name: `fields->>'exception'`, `fields->'status'`,
`json_extract_string(fields, '$.exc_type')`, `json_extract(fields, '/app')`. Any other use
(`fields` whole, a computed path, a path into nested values) needs the whole column: None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import duckdb

from logscope.alerting.sandbox import RuleSqlError, parse_tree

FIELDS = "fields"
_LOOKUPS = ("->>", "->", "json_extract", "json_extract_string")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A constant path naming one top-level key: `name`, `$.name` or `/name`.
_KEY_PATH = re.compile(rf"(?:\$\.|/)?({_NAME})")
_READ: dict[str, frozenset[str] | None] = {}  # expression -> the keys it reads (None: all)
_READ_MAX = 10_000


class _Whole(Exception):
    """`fields` is used otherwise than through a key lookup by a constant name."""


def keys_read(con: duckdb.DuckDBPyConnection, expressions: Iterable[str]) -> frozenset[str] | None:
    """The keys of `fields` that `expressions` read, None if some expression may read any (or
    does not parse: the rule's own check reports that)."""
    keys: set[str] = set()
    for expression in expressions:
        if expression not in _READ:
            if len(_READ) >= _READ_MAX:
                _READ.clear()
            _READ[expression] = _keys_of(con, expression)
        known = _READ[expression]
        if known is None:
            return None
        keys |= known
    return frozenset(keys)


def _keys_of(con: duckdb.DuckDBPyConnection, expression: str) -> frozenset[str] | None:
    try:
        document = parse_tree(con, f"SELECT ({expression})")
        if document.get("error"):
            return None
        return frozenset(_walk(document.get("statements", [])))
    except (RuleSqlError, _Whole):
        return None


def _walk(node: object) -> set[str]:
    """The keys looked up in `fields` under `node`; _Whole if `fields` is used otherwise."""
    if isinstance(node, list):
        return set().union(*(_walk(value) for value in node))
    if not isinstance(node, dict):
        return set()
    key = _lookup(node)
    if key is not None:
        return {key}
    if node.get("class") in ("STAR", "POSITIONAL_REFERENCE"):
        raise _Whole  # (every column, or one by number: `fields` may be among them)
    names = node.get("column_names", []) if node.get("class") == "COLUMN_REF" else []
    if FIELDS in (name.lower() for name in names):
        raise _Whole
    return set().union(*(_walk(value) for value in node.values()))


def _lookup(node: dict) -> str | None:
    """The key `node` looks up if it is a lookup of one key of `fields` by a constant name."""
    if node.get("class") == "LAMBDA":  # `fields->'key'` parses as a lambda, binds as a lookup
        target, path = node.get("lhs"), node.get("expr")
    elif node.get("class") == "FUNCTION" and node.get("function_name") in _LOOKUPS:
        arguments = node.get("children", [])
        if len(arguments) != 2:
            return None
        target, path = arguments
    else:
        return None
    if not (isinstance(target, dict) and target.get("class") == "COLUMN_REF"):
        return None
    if target.get("column_names") != [FIELDS] or not isinstance(path, dict):
        return None
    value = path.get("value") if path.get("class") == "CONSTANT" else None
    if not isinstance(value, dict) or value.get("is_null") or value.get("type", {}).get("id") != "VARCHAR":
        return None
    matched = _KEY_PATH.fullmatch(str(value.get("value")))
    return matched.group(1) if matched else None
