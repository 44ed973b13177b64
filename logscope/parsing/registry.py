"""The set of known formats, in the order they are tried, built for one time zone."""

from __future__ import annotations

from datetime import tzinfo

from logscope.errors import LogscopeError
from logscope.parsing.base import Parser
from logscope.parsing.jsonlines import JsonLinesParser
from logscope.parsing.logfmt import LogfmtParser
from logscope.parsing.syslog import Rfc3164Parser, Rfc5424Parser

RAW = "raw"


class FormatRegistry:
    """Parsers by name; `ordered` is the order detection tries them (most specific first)."""

    def __init__(self, parsers: list[Parser]) -> None:
        self.ordered = parsers
        self.by_name = {parser.name: parser for parser in parsers}

    def get(self, name: str) -> Parser:
        """The parser called `name`; a clear error naming the known ones otherwise."""
        try:
            return self.by_name[name]
        except KeyError:
            known = ", ".join(sorted(self.by_name))
            raise LogscopeError(f"--format: unknown format {name!r} (known: {known})", 2) from None


def builtin_registry(zone: tzinfo) -> FormatRegistry:
    """The built-in formats."""
    return FormatRegistry(
        [JsonLinesParser(zone), LogfmtParser(zone), Rfc5424Parser(zone), Rfc3164Parser(zone)]
    )
