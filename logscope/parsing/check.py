"""`formats check`: every definition's samples must parse to the parts they list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from logscope.parsing.definition import FormatDefinition, Sample
from logscope.parsing.registry import FormatRegistry, parser_for
from logscope.parsing.source_parser import SourceParser
from logscope.parsing.time_values import parse_iso, us_to_datetime
from logscope.record import LineBatch, Record


def check_definition(definition: FormatDefinition) -> list[str]:
    """Problems with the samples of one definition, each naming file, format and sample field."""
    problems = []
    for number, sample in enumerate(definition.samples, 1):
        where = f"{definition.origin}: format {definition.name!r}: field 'samples[{number}]"
        problems.extend(f"{where}{problem}" for problem in _check_sample(definition, sample))
    return problems


def _check_sample(definition: FormatDefinition, sample: Sample) -> list[str]:
    clock = None
    if sample.now is not None:
        now = datetime.fromisoformat(sample.now)
        clock = lambda: now  # noqa: E731 - a fixed clock for year-less samples
    parser = parser_for(definition, UTC, clock)
    stream = SourceParser(FormatRegistry([parser]), forced=parser)
    records = stream.parse_batch(LineBatch("sample", list(sample.lines), final=True))
    if len(records) != 1 or records[0].format != definition.name:
        return [f".line': does not parse as one {definition.name} record (got {_summary(records)})"]
    return _compare(records[0], sample.expect)


def _summary(records: list[Record]) -> str:
    return ", ".join(f"{record.format}: {record.raw[:60]!r}" for record in records) or "nothing"


def _compare(record: Record, expect: dict[str, Any]) -> list[str]:
    problems = []
    if "ts" in expect:
        wanted = parse_iso(str(expect["ts"]), UTC)
        if wanted is None:
            problems.append(f".ts': {expect['ts']!r} is not an RFC 3339 time")
        elif record.ts != wanted:
            got = us_to_datetime(record.ts).isoformat() if record.ts is not None else None
            problems.append(f".ts': expected {expect['ts']}, parsed {got}")
    for key in ("level", "message", "host"):
        if key in expect and getattr(record, key) != expect[key]:
            problems.append(f".{key}': expected {expect[key]!r}, parsed {getattr(record, key)!r}")
    fields = record.fields or {}
    for key, wanted in expect.get("fields", {}).items():
        if key not in fields:
            problems.append(f".fields.{key}': missing (parsed fields: {sorted(fields)})")
        elif fields[key] != wanted or type(fields[key]) is not type(wanted):
            problems.append(f".fields.{key}': expected {wanted!r}, parsed {fields[key]!r}")
    return problems


def check_registry_definitions(definitions: list[FormatDefinition]) -> list[str]:
    """Problems over many definitions."""
    problems: list[str] = []
    for definition in definitions:
        problems.extend(check_definition(definition))
    return problems
