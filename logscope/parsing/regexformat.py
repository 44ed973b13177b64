"""A parser built from a declarative format: regex groups -> time, level, message, typed fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any

from logscope.parsing.base import Parsed
from logscope.parsing.definition import FormatDefinition
from logscope.parsing.inferlevel import INFERRED_FIELD, infer_level
from logscope.parsing.levels import normalize_level
from logscope.parsing.match_start import first_chars, known_gate
from logscope.parsing.regexsafety import GuardedPattern
from logscope.parsing.time_formats import Clock, compile_time_formats

if TYPE_CHECKING:  # `regex` is imported when a pattern needs it (~10 ms of every start otherwise)
    import regex

    Pattern = re.Pattern[str] | regex.Pattern[str]
_TRUE = frozenset(("true", "yes", "on", "1", "t", "y"))
_FALSE = frozenset(("false", "no", "off", "0", "f", "n"))


def compile_pattern(pattern: str, flags: int = 0) -> Pattern:
    """Compile with the faster `re` when it can; `regex` for what only it understands."""
    try:
        return re.compile(pattern, flags)
    except re.error:
        import regex

        return regex.compile(pattern, flags)


def _to_bool(text: str) -> bool | None:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


_CONVERTERS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "bool": _to_bool}


class RegexFormat:
    """Parses lines of one declarative format. `first_chars` (None: any) lets callers skip it cheaply."""

    def __init__(self, definition: FormatDefinition, zone: tzinfo, clock: Clock | None = None) -> None:
        self.definition = definition
        self.name = definition.name
        self.title = definition.title
        self.priority = definition.priority
        # The zone and clock times are read with (the bulk-import plans read them the same way).
        self.zone = zone
        self.clock = clock
        # The patterns, their first characters, the time reader and the field types are made on
        # first use (properties below): a command uses a few of the ~90 formats it loads.
        self.max_lines = definition.max_lines
        self._time_field = definition.time_field
        self.carries_time = definition.time_carry
        self._level_field = definition.level_field
        self._level_map = definition.level_map
        # Map keys ending in `*` match any text starting with what precedes it (`"5*" = "error"`).
        self._level_prefixes = sorted(
            ((key[:-1], level) for key, level in definition.level_map.items() if key.endswith("*")),
            key=lambda item: -len(item[0]),
        )
        self._level_keep = definition.level_keep
        self._level_default = definition.level_default
        self._level_infer = definition.level_infer
        self._message_field = definition.message_field
        self._host_field = definition.host_field
        self._converters = {
            name: _CONVERTERS[type_name]
            for name, type_name in definition.types.items()
            if type_name in _CONVERTERS
        }
        self._converter_items = tuple(self._converters.items())
        self._nulls = frozenset(definition.null_values)

    @cached_property
    def patterns(self) -> list[Pattern | GuardedPattern]:
        return [self._compile(pattern) for pattern in self.definition.patterns]

    @cached_property
    def first_chars(self) -> frozenset[str] | None:
        return _union_first_chars(self.definition.patterns)

    @cached_property
    def _gates(self) -> list[re.Pattern[str]] | None:
        """Each pattern's gate (match_start.py: its first items), if every pattern has one: a
        bundled format's (its patterns run on `re`, as the gates do; a user's under a guard)."""
        if not self.definition.builtin:
            return None
        texts = [known_gate(pattern) for pattern in self.definition.patterns]
        return None if None in texts else [re.compile(text) for text in texts]  # type: ignore[arg-type]

    def may_match(self, line: str) -> bool:
        """False only where no pattern can match `line`, told by the patterns' gates before the
        patterns are compiled (~20x dearer): detection tries every format on the first lines."""
        gates = self._gates
        return gates is None or any(gate.match(line) is not None for gate in gates)

    @cached_property
    def field_types(self) -> dict[str, str]:
        return self.definition.field_types()

    @cached_property
    def continuation(self) -> Pattern | GuardedPattern | None:
        return self._compile_if(self.definition.continuation)

    @cached_property
    def time_continuation(self) -> Pattern | GuardedPattern | None:
        return self._compile_if(self.definition.time_continuation)

    @cached_property
    def level_continuation(self) -> Pattern | GuardedPattern | None:
        return self._compile_if(self.definition.level_continuation)

    @cached_property
    def _read_time(self) -> Callable[[str], int | None] | None:
        definition = self.definition
        if not definition.time_field:
            return None
        return compile_time_formats(definition.time_formats, self.zone, self.clock)

    def _compile_if(self, pattern: str | None) -> Pattern | GuardedPattern | None:
        return self._compile(pattern) if pattern else None

    def _compile(self, pattern: str) -> Pattern | GuardedPattern:
        """Built-in patterns (proven linear by tests) on `re`; a user's under a time limit."""
        if self.definition.builtin:
            return compile_pattern(pattern)
        return GuardedPattern(pattern, self.name)

    def parse(self, line: str) -> Parsed | None:
        for pattern in self.patterns:
            match = pattern.match(line)
            if match is not None:
                return self._parts(match.groupdict(), line)
        return None

    def _parts(self, groups: dict[str, str | None], line: str) -> Parsed | None:
        ts = None
        if self._time_field is not None:
            text = groups.pop(self._time_field, None)
            if text is not None:
                assert self._read_time is not None
                ts = self._read_time(text)
                if ts is None:
                    return None  # the shape matched but the time did not: not this format
        if self._level_field is None:
            level = self._level(None)
        elif self._level_keep:
            level = self._level(groups.get(self._level_field))
        else:
            level = self._level(groups.pop(self._level_field, None))
        message = (groups.pop(self._message_field, None) or "") if self._message_field else line
        host = groups.pop(self._host_field, None) if self._host_field else None
        fields = self._fields(groups)
        if level is None and self._level_infer:
            level = infer_level(message)
            if level is not None:
                fields = {**(fields or {}), INFERRED_FIELD: True}
        return ts, level, message, fields, host

    def _level(self, text: str | None) -> str | None:
        if text is None:
            return self._level_default
        mapped = self._level_map.get(text)
        if mapped is not None:
            return mapped
        for prefix, level in self._level_prefixes:
            if text.startswith(prefix):
                return level
        return normalize_level(text) or self._level_default

    def _fields(self, groups: dict[str, str | None]) -> dict[str, Any] | None:
        nulls = self._nulls
        if nulls:
            fields: dict[str, Any] = {k: v for k, v in groups.items() if v is not None and v not in nulls}
        else:
            fields = {k: v for k, v in groups.items() if v is not None}
        for name, convert in self._converter_items:
            value = fields.get(name)
            if value is None:
                continue
            try:
                converted = convert(value)
            except ValueError:
                converted = None
            if converted is None:
                del fields[name]  # not a number (or bool) after all: leave it out
            else:
                fields[name] = converted
        return fields or None

    def continuation_time(self, line: str) -> int | None:
        """The time a continuation line gives its record (`time.continuation`), if any."""
        if self.time_continuation is None or self._read_time is None:
            return None
        match = self.time_continuation.match(line)
        if match is None:
            return None
        text = match.group(self._time_field)
        return self._read_time(text) if text is not None else None

    def continuation_level(self, line: str) -> str | None:
        """The level a continuation line gives its record (`level.continuation`), if any."""
        if self.level_continuation is None:
            return None
        match = self.level_continuation.match(line)
        if match is None:
            return None
        text = match.group(self._level_field or "level")
        return self._level(text) if text is not None else None

    def continues(self, line: str) -> bool:
        """Whether `line` continues a record of this format (multiline formats only)."""
        return self.continuation is not None and self.continuation.match(line) is not None


def _union_first_chars(patterns: list[str]) -> frozenset[str] | None:
    union: set[str] = set()
    for pattern in patterns:
        chars = first_chars(pattern)
        if chars is None:
            return None
        union |= chars
    return frozenset(union)
