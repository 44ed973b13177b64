"""`logscope parse`: parse lines without storing them; one JSON object per record on stdout."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from logscope.commands.common import add_parse_options, build_formats, examples, on_stop_signals, warn

if TYPE_CHECKING:
    from logscope.record import Record


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="parse lines and print them as JSON lines, storing nothing",
        description="Parse files or stdin and write one JSON object per record to stdout"
        " (times in RFC 3339, UTC, milliseconds).",
        **examples(
            "logscope parse sample_logs/app.jsonl | jq -r .message",
            "tail -f /var/log/syslog | logscope parse | jq 'select(.level == \"error\")'",
            "logscope parse --format nginx_access access.log > records.jsonl",
        ),
    )
    parser.add_argument(
        "sources", nargs="*", default=["-"], metavar="FILE", help="files, or - for stdin (default)"
    )
    add_parse_options(parser)
    parser.set_defaults(handler=run)


def record_json(record: Record) -> bytes:
    """A record as one JSON object, times in RFC 3339 UTC with milliseconds."""
    import orjson

    from logscope.output import render_time
    from logscope.parsing.time_values import us_to_datetime

    return orjson.dumps(
        {
            "ts": render_time(us_to_datetime(record.event_time())),
            "received_at": render_time(us_to_datetime(record.received_at)),
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
    from logscope.output import quiet_closed_stdout
    from logscope.pipeline.streaming import Pipeline
    from logscope.sources.spec import expand_sources

    registry, forced = build_formats(args)
    expansion = expand_sources(args.sources)
    for error in expansion.errors:
        warn(f"error: {error}")
    for skipped in expansion.skipped:
        warn(f"warning: {skipped}")
    out = sys.stdout.buffer
    pipeline = Pipeline(None, registry, forced, flush_seconds=0.02, on_error=lambda m: warn(f"error: {m}"))
    reader_gone = False

    def write(records: list[Record]) -> None:
        nonlocal reader_gone
        if reader_gone:
            return
        try:
            out.write(b"".join(record_json(record) for record in records))
            out.flush()
        except BrokenPipeError:
            # The reader went away (`| head -1`): a normal end; stop reading, say nothing.
            reader_gone = True
            quiet_closed_stdout()
            pipeline.request_stop()

    pipeline.subscribe(write)
    for source in expansion.sources:
        pipeline.add_source(source)
    on_stop_signals(pipeline.request_stop)
    summary = pipeline.run()
    return 1 if expansion.errors or summary.errors else 0
