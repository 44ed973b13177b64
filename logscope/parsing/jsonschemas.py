"""JSON log schemas as data: known key layouts (journald, bunyan, MongoDB...) in `[[json_schema]]`
tables of a format file (parsers/json_schemas.toml; docs/formats.md, "JSON log schemas").

Each schema is a format of its own, tried before plain `json`: a line is in it when it is a JSON
object holding every `required` key. Keys are paths: `t.$date` is `obj["t"]["$date"]` unless the
object has the literal key `t.$date` (ECS writes `log.level` at the top level). Times are epoch
numbers or numeric strings in a given `unit` (s, ms, us, ns, or `auto` by magnitude), text in
ISO 8601 or any layout `generic` reads, or protobuf `{"seconds": N, "nanos": N}` objects; levels
go through a `map` (numbers as their decimal text) and then the usual normalizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from logscope.errors import LogscopeError
from logscope.parsing.base import Parsed
from logscope.parsing.definition import Sample, _Checker, named_table, read_level_map, read_samples
from logscope.parsing.jsonlines import json_object
from logscope.parsing.leadtime import Clock, LeadingTime
from logscope.parsing.levels import normalize_level
from logscope.parsing.time_values import epoch_to_us, parse_iso

SCHEMA_KEYS = frozenset(
    (
        "name",
        "title",
        "description",
        "priority",
        "required",
        "required_any",
        "time",
        "level",
        "message",
        "host",
        "samples",
    )
)
TIME_KEYS = frozenset(("key", "unit"))
LEVEL_KEYS = frozenset(("key", "map", "default", "keep"))
UNITS = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": None, "auto": 0}
DEFAULT_SCHEMA_PRIORITY = 92


@dataclass
class JsonSchema:
    """One JSON key layout, validated; `origin` is the file it came from."""

    name: str
    title: str
    origin: str
    required: list[str]
    required_any: list[str] = field(default_factory=list)  # at least one of these keys
    description: str = ""
    priority: int = DEFAULT_SCHEMA_PRIORITY
    time_keys: list[str] = field(default_factory=list)
    time_unit: str = "auto"
    level_keys: list[str] = field(default_factory=list)
    level_map: dict[str, str] = field(default_factory=dict)
    level_default: str | None = None
    level_keep: bool = False  # the level key stays in fields (a level derived from an HTTP status)
    message_keys: list[str] = field(default_factory=list)
    host_keys: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    continuation: None = None  # never multiline

    def describe(self) -> str:
        """The lines `formats show` prints for it."""
        lines = [
            f"defined in:  {self.origin}",
            f"priority:    {self.priority}",
            "kind:        JSON schema",
        ]
        if self.description:
            lines.append(f"description: {self.description}")
        lines.append(f"required:    {', '.join(self.required)}")
        if self.required_any:
            lines.append(f"one of:      {' | '.join(self.required_any)}")
        if self.time_keys:
            lines.append(f"time:        key {' | '.join(self.time_keys)}, unit {self.time_unit}")
        if self.level_keys:
            mapping = ", ".join(f"{k}={v}" for k, v in self.level_map.items())
            suffix = f", map {mapping}" if mapping else ""
            lines.append(f"level:       key {' | '.join(self.level_keys)}{suffix}")
        lines.append(f"message:     key {' | '.join(self.message_keys) or '(none)'}")
        if self.host_keys:
            lines.append(f"host:        key {' | '.join(self.host_keys)}")
        lines.append(f"samples:     {len(self.samples)}")
        lines.extend(f"  {sample.lines[0][:160]}" for sample in self.samples[:3])
        return "\n".join(lines) + "\n"


def read_schema(table: Any, origin: str, index: int) -> JsonSchema:
    """A `[[json_schema]]` table, checked strictly (errors name the file, schema and key)."""
    name, checker = named_table(table, origin, "json_schema", index)
    checker.known_keys(table, SCHEMA_KEYS)
    required = checker.string_list(table, "required")
    if not required:
        raise checker.fail("required", "at least one key the lines must have")
    schema = JsonSchema(
        name=name,
        title=checker.string(table, "title", required=True) or name,
        origin=origin,
        required=required,
        description=checker.string(table, "description") or "",
    )
    priority = table.get("priority", DEFAULT_SCHEMA_PRIORITY)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise checker.fail("priority", "must be an integer")
    schema.priority = priority
    schema.required_any = checker.string_list(table, "required_any")
    _read_time(checker, table, schema)
    _read_level(checker, table, schema)
    schema.message_keys = checker.string_list(table, "message")
    schema.host_keys = checker.string_list(table, "host")
    schema.samples = read_samples(checker, table)
    return schema


def _read_time(checker: _Checker, table: dict[str, Any], schema: JsonSchema) -> None:
    if "time" not in table:
        return
    time_table = checker.table(table, "time")
    checker.known_keys(time_table, TIME_KEYS, "time.")
    schema.time_keys = checker.string_list(time_table, "key", "time.key")
    if not schema.time_keys:
        raise checker.fail("time.key", "missing")
    unit = time_table.get("unit", "auto")
    if unit not in UNITS:
        raise checker.fail("time.unit", f"{unit!r} is not one of {', '.join(UNITS)}")
    schema.time_unit = unit


def _read_level(checker: _Checker, table: dict[str, Any], schema: JsonSchema) -> None:
    if "level" not in table:
        return
    level_table = checker.table(table, "level")
    checker.known_keys(level_table, LEVEL_KEYS, "level.")
    schema.level_keys = checker.string_list(level_table, "key", "level.key")
    schema.level_map, schema.level_default = read_level_map(checker, level_table)
    keep = level_table.get("keep", False)
    if not isinstance(keep, bool):
        raise checker.fail("level.keep", "must be true or false")
    schema.level_keep = keep


_MISSING = object()


def _find(obj: dict[str, Any], path: str) -> Any:
    """The value at `path` (a literal key first, then dotted nesting), or _MISSING."""
    if path in obj:
        return obj[path]
    if "." not in path:
        return _MISSING
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _remove(obj: dict[str, Any], path: str) -> None:
    """Remove `path`, and the objects it leaves empty."""
    if path in obj:
        del obj[path]
        return
    parts = path.split(".")
    chain = [obj]
    for part in parts[:-1]:
        chain.append(chain[-1][part])
    del chain[-1][parts[-1]]
    for parent, part in zip(reversed(chain[:-1]), reversed(parts[:-1]), strict=True):
        if parent[part]:
            break
        del parent[part]


class JsonSchemaParser:
    """Parses the lines of one JSON schema; other keys stay in `fields`, nested included."""

    first_chars = frozenset("{ \t")
    field_types: dict[str, str] = {}  # noqa: RUF012 - keys vary per line

    def __init__(self, schema: JsonSchema, zone: tzinfo, clock: Clock | None = None) -> None:
        self.schema = schema
        self.definition = schema
        self.name = schema.name
        self.title = schema.title
        self.priority = schema.priority
        self.zone = zone
        self.clock = clock
        self._times = LeadingTime(zone, clock)
        self._unit = schema.time_unit
        # Map keys ending in `*` match any value starting with what precedes it (`"5*" = "error"`).
        self._level_prefixes = sorted(
            ((key[:-1], level) for key, level in schema.level_map.items() if key.endswith("*")),
            key=lambda item: -len(item[0]),
        )

    def parse(self, line: str) -> Parsed | None:
        obj = json_object(line)
        if obj is None:
            return None
        schema = self.schema
        for path in schema.required:
            if _find(obj, path) is _MISSING:
                return None
        if schema.required_any and all(_find(obj, path) is _MISSING for path in schema.required_any):
            return None
        ts = self._take(obj, schema.time_keys, self._time)
        level = self._take(obj, schema.level_keys, self._level, keep=schema.level_keep)
        if level is None:
            level = schema.level_default
        message = self._take(obj, schema.message_keys, _text) or ""
        host = self._take(obj, schema.host_keys, _text)
        return ts, level, message.rstrip("\r\n"), obj or None, host

    def _take(self, obj: dict[str, Any], paths: list[str], read: Any, *, keep: bool = False) -> Any:
        """The first path whose value reads; the key is removed from the fields unless `keep`."""
        for path in paths:
            value = _find(obj, path)
            if value is _MISSING:
                continue
            result = read(value)
            if result is not None:
                if not keep:
                    _remove(obj, path)
                return result
        return None

    def _time(self, value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, dict):
            return _seconds_and_nanos(value)
        if isinstance(value, str) and value.replace(".", "", 1).isdigit():
            value = float(value) if "." in value else int(value)
        if isinstance(value, (int, float)):
            scale = UNITS[self._unit]
            if scale == 0:
                return epoch_to_us(value)
            if scale is None:
                return int(value) // 1000
            return round(value * scale)
        if not isinstance(value, str) or not value:
            return None
        ts = parse_iso(value, self.zone)
        if ts is not None:
            return ts
        found = self._times.find(value)
        return found.ts if found is not None and found.end == len(value) and found.lead is None else None

    def _level(self, value: Any) -> str | None:
        if isinstance(value, bool) or value is None:
            return None
        key = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        mapped = self.schema.level_map.get(key)
        if mapped is not None:
            return mapped
        for prefix, level in self._level_prefixes:
            if key.startswith(prefix):
                return level
        return normalize_level(value)


def _seconds_and_nanos(value: dict[str, Any]) -> int | None:
    """A protobuf Timestamp written as an object (`{"seconds": 1700000000, "nanos": 5000}`), in µs."""
    seconds, nanos = value.get("seconds"), value.get("nanos", 0)
    try:
        return int(seconds) * 1_000_000 + int(nanos) // 1000
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    """A message or host: a string; journald writes binary messages as a list of byte values."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, int) and 0 <= item < 256 for item in value):
        return bytes(value).decode("utf-8", errors="replace")
    return None


def check_schema_names(schemas: list[JsonSchema], origin: str) -> None:
    """Names must be unique within one file."""
    seen: set[str] = set()
    for schema in schemas:
        if schema.name in seen:
            raise LogscopeError(f"{origin}: json_schema {schema.name!r}: field 'name': defined twice", 2)
        seen.add(schema.name)
