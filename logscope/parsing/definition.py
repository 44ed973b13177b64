"""Format definitions as data: the TOML schema, checked strictly, into `FormatDefinition` objects.

A file holds one or more `[[format]]` tables; docs/formats.md documents every key.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from logscope.errors import LogscopeError
from logscope.parsing.inferlevel import INFERRED_FIELD
from logscope.parsing.levels import normalize_level
from logscope.parsing.pattern_text import scanned_groups
from logscope.parsing.regexsafety import exponential_reason
from logscope.parsing.time_formats import NAMED_FORMATS, TimeFormatError, pattern_to_regex
from logscope.record import LEVELS

# Field type names in a definition -> the DuckDB column type of the typed view.
FIELD_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
}
FORMAT_KEYS = frozenset(
    (
        "name",
        "title",
        "description",
        "priority",
        "patterns",
        "time",
        "level",
        "message",
        "host",
        "types",
        "null_values",
        "multiline",
        "samples",
    )
)
TIME_KEYS = frozenset(("field", "formats", "continuation", "carry"))
LEVEL_KEYS = frozenset(("field", "map", "default", "keep", "infer", "continuation"))
MULTILINE_KEYS = frozenset(("continuation", "max_lines"))
SAMPLE_KEYS = frozenset(("line", "lines", "ts", "level", "message", "host", "fields", "now"))
_NAME = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_PRIORITY = 50
DEFAULT_MAX_LINES = 1000


@dataclass
class Sample:
    """A line (or lines, for multiline formats) and what parsing it must give."""

    lines: list[str]
    expect: dict[str, Any]
    now: str | None = None


@dataclass
class FormatDefinition:
    """One declarative format, validated; `origin` is the file it came from."""

    name: str
    title: str
    origin: str
    patterns: list[str]
    description: str = ""
    priority: int = DEFAULT_PRIORITY
    time_field: str | None = None
    time_formats: list[str] = field(default_factory=list)
    # A regex whose time group is read from a continuation line when the record's first line
    # has no time (MariaDB's slow log: `SET timestamp=N;` under `# User@Host:`).
    time_continuation: str | None = None
    # A record without a time takes the time of the record of this format before it (MariaDB's
    # general log omits the time on later commands of the same second).
    time_carry: bool = False
    level_field: str | None = None
    level_map: dict[str, str] = field(default_factory=dict)
    level_default: str | None = None
    # Keep the level group in `fields` too (a level derived from e.g. an HTTP status).
    level_keep: bool = False
    # Lines without a level get one inferred from the message (and the field level_inferred).
    level_infer: bool = False
    # A regex whose level group, on a continuation line, sets the record's level (the last line
    # that matches wins: Rails' development log writes a request's status in `Completed 500 ...`).
    level_continuation: str | None = None
    message_field: str | None = None
    host_field: str | None = None
    types: dict[str, str] = field(default_factory=dict)
    null_values: list[str] = field(default_factory=list)
    continuation: str | None = None
    max_lines: int = DEFAULT_MAX_LINES
    samples: list[Sample] = field(default_factory=list)
    # Shipped with logscope (patterns proven linear by tests) rather than a user's file.
    builtin: bool = False

    def group_names(self) -> list[str]:
        """Every named group of the patterns, in order of first appearance."""
        names: list[str] = []
        for pattern in self.patterns:
            for name in pattern_groups(pattern):
                if name not in names:
                    names.append(name)
        return names

    def field_names(self) -> list[str]:
        """The groups that become entries of `fields` (all but time, level, message and host)."""
        level = None if self.level_keep else self.level_field
        special = {self.time_field, level, self.message_field, self.host_field}
        return [name for name in self.group_names() if name not in special]

    def field_types(self) -> dict[str, str]:
        """Field name -> DuckDB type, for the typed view and the rules engine."""
        types = {name: FIELD_TYPES[self.types.get(name, "string")] for name in self.field_names()}
        if self.level_infer:
            types[INFERRED_FIELD] = "BOOLEAN"
        return types


@functools.cache
def pattern_groups(pattern: str) -> tuple[str, ...]:
    """The named groups of a valid pattern, in order: read from its text where that is plain
    (`scanned_groups`: no compile, which waits for the pattern's first use), else by `re`, or by
    `regex` for what only it understands; once per pattern."""
    scanned = scanned_groups(pattern)
    if scanned is not None:
        return scanned
    try:
        return tuple(re.compile(pattern).groupindex)
    except re.error:
        import regex  # imported when a pattern needs it (~10 ms of every start otherwise)

        return tuple(regex.compile(pattern).groupindex)


class _Checker:
    """Raises errors that name the file, the format and the key."""

    def __init__(self, origin: str, where: str = "") -> None:
        self.origin = origin
        self.where = where
        # A bundled format's patterns are proven by the tests; compiling each with `regex` and the
        # backtracking check are skipped (tests/test_parsers.py loads them untrusted).
        self.trusted = False

    def fail(self, key: str, problem: str) -> LogscopeError:
        place = f"{self.origin}: {self.where}" if self.where else f"{self.origin}:"
        return LogscopeError(f"{place} field {key!r}: {problem}", 2)

    def known_keys(self, table: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(prefix + key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def string(self, table: dict[str, Any], key: str, required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(key, "missing")
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        return value

    def string_list(self, table: dict[str, Any], key: str, label: str | None = None) -> list[str]:
        value = table.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(label or key, "must be a string or a list of strings")
        return value

    def table(self, parent: dict[str, Any], key: str) -> dict[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value


def load_definitions(
    text: str, origin: str, shipped: bool = False, document: dict[str, Any] | None = None
) -> list[Any]:
    """Every format (`[[format]]`) and JSON schema (`[[json_schema]]`, parsing/jsonschemas.py) in
    one TOML document; a LogscopeError naming file and field otherwise.

    `shipped`: the definitions come with logscope, whose patterns `logscope formats check` proves
    in the tests; compiling each with `regex` and the backtracking check are skipped (most of a
    command's start-up otherwise). `document`: `text` already parsed (parsing/toml_cache.py)."""
    from logscope.parsing.jsonschemas import check_schema_names, read_schema

    if document is None:
        import tomllib  # (a bundled file's document comes from the cache: ~2 ms of every start)

        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LogscopeError(f"{origin}: not valid TOML: {exc}", 2) from exc
    checker = _Checker(origin)
    checker.known_keys(document, frozenset(("format", "json_schema")))
    tables = document.get("format", [])
    schemas = document.get("json_schema", [])
    if not isinstance(tables, list) or not isinstance(schemas, list) or not (tables or schemas):
        raise checker.fail("format", "expected one or more [[format]] or [[json_schema]] tables")
    found: list[Any] = [_definition(table, origin, index, shipped) for index, table in enumerate(tables)]
    read = [read_schema(table, origin, index) for index, table in enumerate(schemas)]
    check_schema_names(read, origin)
    return found + read


def named_table(table: Any, origin: str, kind: str, index: int) -> tuple[str, _Checker]:
    """The name of the `index`th `[[kind]]` table (checked: it names a view) and a checker whose
    errors name the table by it."""
    checker = _Checker(origin, f"{kind} #{index + 1}:")
    if not isinstance(table, dict):
        raise checker.fail(kind, "must be a table")
    name = checker.string(table, "name", required=True)
    assert name is not None
    checker = _Checker(origin, f"{kind} {name!r}:")
    if not _NAME.fullmatch(name) or name == "raw":
        raise checker.fail("name", "must be lower-case letters, digits and _ (and not 'raw')")
    return name, checker


def _definition(table: Any, origin: str, index: int, shipped: bool = False) -> FormatDefinition:
    name, checker = named_table(table, origin, "format", index)
    checker.known_keys(table, FORMAT_KEYS)
    definition = FormatDefinition(
        name=name,
        title=checker.string(table, "title", required=True) or name,
        origin=origin,
        patterns=checker.string_list(table, "patterns"),
        description=checker.string(table, "description") or "",
    )
    checker.trusted = shipped
    _read_priority(checker, table, definition)
    _read_patterns(checker, definition)
    _read_time(checker, table, definition)
    _read_level(checker, table, definition)
    definition.message_field = _group_option(checker, table, "message", definition)
    definition.host_field = _group_option(checker, table, "host", definition)
    _read_types(checker, table, definition)
    definition.null_values = checker.string_list(table, "null_values")
    _read_multiline(checker, table, definition)
    definition.samples = read_samples(checker, table)
    return definition


def _read_priority(checker: _Checker, table: dict[str, Any], definition: FormatDefinition) -> None:
    priority = table.get("priority", DEFAULT_PRIORITY)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise checker.fail("priority", "must be an integer")
    definition.priority = priority


def _read_patterns(checker: _Checker, definition: FormatDefinition) -> None:
    if not definition.patterns:
        raise checker.fail("patterns", "at least one regular expression is needed")
    for number, pattern in enumerate(definition.patterns, 1):
        _refuse_bad(checker, f"patterns[{number}]", pattern)
        _refuse_exponential(checker, f"patterns[{number}]", pattern)


def _refuse_bad(checker: _Checker, key: str, pattern: str) -> None:
    """A pattern `regex` cannot compile is an error naming `key` (not checked when trusted)."""
    if checker.trusted:
        return
    import regex

    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise checker.fail(key, f"bad regular expression: {exc}") from None


def _refuse_exponential(checker: _Checker, key: str, pattern: str) -> None:
    """A pattern that can backtrack exponentially would stall ingestion on one bad line."""
    if checker.trusted:
        return
    reason = exponential_reason(pattern)
    if reason is not None:
        raise checker.fail(
            key,
            f"may take exponential time on lines it does not match ({reason}); make the inner"
            " repetition possessive (a++) or atomic ((?>...)), or its parts unable to match the same text",
        )


def _read_time(checker: _Checker, table: dict[str, Any], definition: FormatDefinition) -> None:
    if "time" not in table:
        return
    time_table = checker.table(table, "time")
    checker.known_keys(time_table, TIME_KEYS, "time.")
    definition.time_field = checker.string(time_table, "field") or "time"
    definition.time_formats = checker.string_list(time_table, "formats", "time.formats") or ["iso"]
    _read_time_continuation(checker, table, time_table, definition)
    carry = time_table.get("carry", False)
    if not isinstance(carry, bool):
        raise checker.fail("time.carry", "must be true or false")
    definition.time_carry = carry
    in_continuation = definition.time_continuation is not None and definition.time_field in (
        pattern_groups(definition.time_continuation)
    )
    if definition.time_field not in definition.group_names() and not in_continuation:
        raise checker.fail("time.field", f"no group named {definition.time_field!r} in the patterns")
    for spec in definition.time_formats:
        if spec in NAMED_FORMATS:
            continue
        try:
            pattern_to_regex(spec)
        except TimeFormatError as exc:
            raise checker.fail("time.formats", str(exc)) from None


def _read_time_continuation(
    checker: _Checker, table: dict[str, Any], time_table: dict[str, Any], definition: FormatDefinition
) -> None:
    pattern = checker.string(time_table, "continuation")
    if pattern is None:
        return
    if "multiline" not in table:
        raise checker.fail(
            "time.continuation", "needs multiline.continuation (records of one line have none)"
        )
    _refuse_bad(checker, "time.continuation", pattern)
    if definition.time_field not in pattern_groups(pattern):
        raise checker.fail("time.continuation", f"no group named {definition.time_field!r}")
    _refuse_exponential(checker, "time.continuation", pattern)
    definition.time_continuation = pattern


def read_level_map(checker: _Checker, level_table: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """A `[level]` table's `map` (written → level) and `default`, checked; shared by the JSON schemas."""
    mapping = checker.table(level_table, "map")
    for written, level in mapping.items():
        if level not in LEVELS:
            raise checker.fail(f"level.map.{written}", f"{level!r} is not one of {', '.join(LEVELS)}")
    default = checker.string(level_table, "default")
    if default is not None and normalize_level(default) is None:
        raise checker.fail("level.default", f"{default!r} is not a level")
    return dict(mapping), normalize_level(default) if default else None


def _read_level(checker: _Checker, table: dict[str, Any], definition: FormatDefinition) -> None:
    if "level" not in table:
        return
    level_table = checker.table(table, "level")
    checker.known_keys(level_table, LEVEL_KEYS, "level.")
    definition.level_field = checker.string(level_table, "field")
    if definition.level_field and definition.level_field not in definition.group_names():
        raise checker.fail("level.field", f"no group named {definition.level_field!r} in the patterns")
    definition.level_map, definition.level_default = read_level_map(checker, level_table)
    keep = level_table.get("keep", False)
    if not isinstance(keep, bool):
        raise checker.fail("level.keep", "must be true or false")
    if keep and not definition.level_field:
        raise checker.fail("level.keep", "needs level.field")
    definition.level_keep = keep
    infer = level_table.get("infer", False)
    if not isinstance(infer, bool):
        raise checker.fail("level.infer", "must be true or false")
    definition.level_infer = infer
    _read_level_continuation(checker, table, level_table, definition)


def _read_level_continuation(
    checker: _Checker, table: dict[str, Any], level_table: dict[str, Any], definition: FormatDefinition
) -> None:
    pattern = checker.string(level_table, "continuation")
    if pattern is None:
        return
    if "multiline" not in table:
        raise checker.fail(
            "level.continuation", "needs multiline.continuation (records of one line have none)"
        )
    _refuse_bad(checker, "level.continuation", pattern)
    group = definition.level_field or "level"
    if group not in pattern_groups(pattern):
        raise checker.fail("level.continuation", f"no group named {group!r}")
    _refuse_exponential(checker, "level.continuation", pattern)
    definition.level_continuation = pattern


def _group_option(
    checker: _Checker, table: dict[str, Any], key: str, definition: FormatDefinition
) -> str | None:
    group = checker.string(table, key)
    if group is not None and group not in definition.group_names():
        raise checker.fail(key, f"no group named {group!r} in the patterns")
    return group


def _read_types(checker: _Checker, table: dict[str, Any], definition: FormatDefinition) -> None:
    types = checker.table(table, "types")
    groups = definition.group_names()
    for name, type_name in types.items():
        if type_name not in FIELD_TYPES:
            raise checker.fail(f"types.{name}", f"{type_name!r} is not one of {', '.join(FIELD_TYPES)}")
        if name not in groups:
            raise checker.fail(f"types.{name}", "no group of that name in the patterns")
    definition.types = dict(types)


def _read_multiline(checker: _Checker, table: dict[str, Any], definition: FormatDefinition) -> None:
    if "multiline" not in table:
        return
    multiline = checker.table(table, "multiline")
    checker.known_keys(multiline, MULTILINE_KEYS, "multiline.")
    continuation = checker.string(multiline, "continuation")
    if continuation is None:
        raise checker.fail("multiline.continuation", "missing")
    _refuse_bad(checker, "multiline.continuation", continuation)
    _refuse_exponential(checker, "multiline.continuation", continuation)
    definition.continuation = continuation
    max_lines = multiline.get("max_lines", DEFAULT_MAX_LINES)
    if not isinstance(max_lines, int) or isinstance(max_lines, bool) or max_lines < 2:
        raise checker.fail("multiline.max_lines", "must be an integer >= 2")
    definition.max_lines = max_lines


def read_samples(checker: _Checker, table: dict[str, Any]) -> list[Sample]:
    """The `samples` of a format or JSON schema table."""
    samples = table.get("samples", [])
    if not isinstance(samples, list) or not samples:
        raise checker.fail("samples", "at least one [[format.samples]] entry is needed")
    result = []
    for number, sample in enumerate(samples, 1):
        label = f"samples[{number}]"
        if not isinstance(sample, dict):
            raise checker.fail(label, "must be a table")
        checker.known_keys(sample, SAMPLE_KEYS, label + ".")
        lines = checker.string_list(sample, "lines", label + ".lines")
        line = sample.get("line")
        if isinstance(line, str):
            lines = [line, *lines]
        if not lines:
            raise checker.fail(label + ".line", "missing")
        expect = {key: sample[key] for key in ("ts", "level", "message", "host", "fields") if key in sample}
        if "fields" in expect and not isinstance(expect["fields"], dict):
            raise checker.fail(label + ".fields", "must be a table")
        now = sample.get("now")
        if now is not None and not isinstance(now, str):
            raise checker.fail(label + ".now", "must be an RFC 3339 time string")
        result.append(Sample(lines, expect, now))
    return result
