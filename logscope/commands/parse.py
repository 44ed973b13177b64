"""`logscope parse`: parse lines without storing them; one JSON object per record on stdout."""

from __future__ import annotations

import argparse
import sys

import orjson

from logscope.commands.common import add_parse_options, build_formats, on_stop_signals, warn
from logscope.parsing.timestamps import us_to_datetime
from logscope.pipeline import Pipeline
from logscope.record import Record
from logscope.sources.spec import expand_sources


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="parse lines and print them as JSON lines, storing nothing",
        description="Parse files or stdin and write one JSON object per record to stdout.",
    )
    parser.add_argument(
        "sources", nargs="*", default=["-"], metavar="FILE", help="files, or - for stdin (default)"
    )
    add_parse_options(parser)
    parser.set_defaults(handler=run)


def record_json(record: Record) -> bytes:
    """A record as one JSON object, times in RFC 3339 UTC."""
    return orjson.dumps(
        {
            "ts": us_to_datetime(record.event_time()).isoformat().replace("+00:00", "Z"),
            "received_at": us_to_datetime(record.received_at).isoformat().replace("+00:00", "Z"),
            "source": record.source,
            "host": record.host,
            "format": record.format,
            "level": record.level,
            "message": record.message,
            "fields": record.fields,
            "raw": record.raw,
        },
        default=str,
        option=orjson.OPT_APPEND_NEWLINE,
    )


def run(args: argparse.Namespace) -> int:
    registry, forced = build_formats(args)
    expansion = expand_sources(args.sources)
    for error in expansion.errors:
        warn(f"error: {error}")
    out = sys.stdout.buffer

    def write(records: list[Record]) -> None:
        out.write(b"".join(record_json(record) for record in records))
        out.flush()

    pipeline = Pipeline(None, registry, forced, flush_seconds=0.02, on_error=lambda m: warn(f"error: {m}"))
    pipeline.subscribe(write)
    for source in expansion.sources:
        pipeline.add_source(source)
    on_stop_signals(pipeline.request_stop)
    summary = pipeline.run()
    return 1 if expansion.errors or summary.errors else 0
