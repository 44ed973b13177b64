"""The fast path for formats without a vectorized plan: the format's own `parse`, run over whole
blocks in the bulk reader thread, straight into Arrow columns (docs/benchmarks.md, "Fast path").

JSON lines, logfmt, the RFC 3164/5424 syslog parsers and regex formats RE2 cannot run the same
way are parsed here by the very function the streaming `SourceParser` calls for each line, so a
row is `ok` exactly where that parser accepts the line; every other line goes back to the
`SourceParser`, which tries the formats in order. Per line this skips the `Record` object and
the per-record column building of the streaming path, and the work runs one block ahead of
DuckDB's insert of the previous one (which releases the GIL). Multiline formats are not planned
here: a held record depends on the lines after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logscope.parsing.base import Parser


@dataclass
class ParserPlan:
    """Rows (key, ts_us, level, message, host, fields, raw, ok) from `parser.parse` per line."""

    parser: Parser

    @property
    def name(self) -> str:
        return self.parser.name

    def prepare_lines(self, lines: list[str]) -> pa.Table:
        """The block's rows: what `parse` gave for each line; `ok` false where it declined."""
        parse = self.parser.parse
        chars = getattr(self.parser, "first_chars", None)
        dumps = orjson.dumps
        ts, levels, messages, hosts, fields, ok = [], [], [], [], [], []
        for line in lines:
            parsed = parse(line) if chars is None or line[:1] in chars else None
            if parsed is None:
                ok.append(False)
                ts.append(None)
                levels.append(None)
                messages.append(None)
                hosts.append(None)
                fields.append(None)
                continue
            ok.append(True)
            ts.append(parsed[0])
            levels.append(parsed[1])
            messages.append(parsed[2])
            hosts.append(parsed[4] or None)  # a record's host: the line's, else the source's (none)
            extra = parsed[3]
            fields.append(dumps(extra, default=str).decode() if extra else None)
        return pa.table(
            {
                "ts_us": pa.array(ts, pa.int64()),
                "level": pa.array(levels, pa.string()),
                "message": pa.array(messages, pa.string()),
                "host": pa.array(hosts, pa.string()),
                "fields": pa.array(fields, pa.string()),
                "raw": pa.array(lines, pa.string()),
                "ok": pa.array(ok, pa.bool_()),
            }
        )

    def rejected(self, table: pa.Table) -> pa.Array:
        """Lines the format surely does not accept: those `parse` declined."""
        return pc.invert(table.column("ok"))

    def level_text_sql(self) -> None:
        """No level table: `parse` normalized the levels already."""
        return None

    def level_table(self, texts: list[str]) -> pa.Table:
        raise NotImplementedError("ParserPlan rows carry their levels")

    def select_sql(self, block: str, levels: str) -> str:
        return f"SELECT key, ts_us, level, message, host, fields, raw, ok FROM {block}"


def parser_plan_for(parser: Parser) -> ParserPlan | str:
    """The per-line plan for `parser`, or why there is none (multiline formats)."""
    if getattr(parser, "continuation", None) is not None:
        return f"{parser.name}: multiline"
    if getattr(parser, "expands", False):
        return f"{parser.name}: one line holds many records"
    if getattr(parser, "stateful", False):
        return f"{parser.name}: header-driven (a line's meaning depends on the header lines before it)"
    return ParserPlan(parser)
