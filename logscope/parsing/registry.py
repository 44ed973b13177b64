"""The set of known formats, in the order they are tried, built for one time zone."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import tzinfo

from logscope.errors import LogscopeError
from logscope.parsing.base import Parser
from logscope.parsing.definition import DEFAULT_PRIORITY, FormatDefinition
from logscope.parsing.generic import GenericParser
from logscope.parsing.headers import CsvParser, W3CParser, ZeekParser
from logscope.parsing.jsonlines import JsonLinesParser
from logscope.parsing.jsonschemas import JsonSchema, JsonSchemaParser
from logscope.parsing.loader import builtin_files, definitions_in, load_all_definitions
from logscope.parsing.logfmt import LogfmtParser
from logscope.parsing.otlp_file import OtlpJsonFileParser
from logscope.parsing.regexformat import RegexFormat
from logscope.parsing.syslog import Rfc3164Parser, Rfc5424Parser
from logscope.parsing.time_formats import Clock

RAW = "raw"

# Formats written in Python rather than TOML: (factory taking the zone, priority). Higher priority
# is tried first when detection scores tie; TOML formats default to 50, generic ones sit lower so
# they do not take lines from specific ones. Add new code formats to this list.
CODE_PARSERS: list[tuple[Callable[[tzinfo], Parser], int]] = [
    (OtlpJsonFileParser, 98),
    (JsonLinesParser, 90),
    (Rfc5424Parser, 70),
    (Rfc3164Parser, 20),
    (W3CParser, 80),
    (ZeekParser, 80),
    (CsvParser, 15),
    (LogfmtParser, 10),
    (GenericParser, 5),
]


def priority_of(parser: Parser) -> int:
    return int(getattr(parser, "priority", DEFAULT_PRIORITY))


class FormatRegistry:
    """Parsers by name; `ordered` is the order detection tries them (most specific first)."""

    def __init__(self, parsers: list[Parser], definitions: list[FormatDefinition] | None = None) -> None:
        self.ordered = sorted(parsers, key=lambda parser: -priority_of(parser))
        self.by_name = {parser.name: parser for parser in self.ordered}
        self.definitions = {d.name: d for d in definitions or []}

    def get(self, name: str, option: str = "--format") -> Parser:
        """The parser called `name`; otherwise a one-line usage error (`option` begins it) with the
        closest names and where to find them all."""
        try:
            return self.by_name[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.by_name, n=3)
            names = f"{', '.join(close[:-1])} or {close[-1]}" if len(close) > 1 else "".join(close)
            hint = f" (did you mean {names}?)" if close else ""
            raise LogscopeError(
                f"{option}: unknown format {name!r}{hint}; `logscope formats list` names them all", 2
            ) from None

    def field_types(self, name: str) -> dict[str, str]:
        """Field name -> DuckDB type for the format called `name` (empty when unknown)."""
        parser = self.by_name.get(name)
        return dict(getattr(parser, "field_types", None) or {})


def build_registry(
    definitions: list[FormatDefinition], zone: tzinfo, clock: Clock | None = None
) -> FormatRegistry:
    """Code parsers plus the given definitions; a definition overrides a code parser of its name."""
    parsers: dict[str, Parser] = {}
    for factory, priority in CODE_PARSERS:
        parser = factory(zone)
        if getattr(parser, "priority", None) is None:
            parser.priority = priority  # type: ignore[attr-defined]
        parsers[parser.name] = parser
    for definition in definitions:
        parsers[definition.name] = parser_for(definition, zone, clock)
    return FormatRegistry(list(parsers.values()), definitions)


def parser_for(definition: FormatDefinition | JsonSchema, zone: tzinfo, clock: Clock | None = None) -> Parser:
    """The parser for a TOML definition: a regex format or a JSON schema."""
    if isinstance(definition, JsonSchema):
        return JsonSchemaParser(definition, zone, clock)
    return RegexFormat(definition, zone, clock)


def load_registry(zone: tzinfo, format_dirs: list[str] | None = None) -> FormatRegistry:
    """The full registry: code parsers, built-in TOML formats, then user formats overriding by name."""
    return build_registry(load_all_definitions(format_dirs), zone)


def builtin_registry(zone: tzinfo) -> FormatRegistry:
    """The built-in formats only (no user directories)."""
    return build_registry(definitions_in(builtin_files()), zone)
