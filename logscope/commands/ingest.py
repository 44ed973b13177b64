"""`logscope ingest`: read sources into the database, then report what was read."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext

from logscope.commands.common import (
    add_db_option,
    add_parse_options,
    build_formats,
    db_path,
    examples,
    on_stop_signals,
    warn,
)
from logscope.commands.lake import add_agent_options, lake_attachment
from logscope.commands.reading import add_start_options, database_files, follow_options, run_settings
from logscope.commands.rules import add_rule_options, report_alerts
from logscope.commands.services import add_service_options
from logscope.errors import LogscopeError
from logscope.output import plural
from logscope.pipeline.figures import Summary
from logscope.pipeline.run import IngestRun
from logscope.sources.command import CommandSource
from logscope.sources.spec import expand_sources
from logscope.sources.tail.identity import CheckpointBook
from logscope.store.checkpoints import load_checkpoints
from logscope.store.database import open_for_writing


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="read log files, directories, globs or stdin into the database",
        description="Read every source to its end, store each line as a record, print a summary.",
        **examples(
            "logscope ingest sample_logs/",
            "journalctl -o short-iso | logscope ingest -",
            "logscope ingest --follow '/var/log/app/*.log' 'cmd:journalctl -f'",
        ),
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="file, directory, glob, - for stdin; with --follow also tcp://, udp://, unix://, otlp://,"
        ' unixgram:// listeners and cmd:"COMMAND ARGS" (docs/sources.md)',
    )
    add_db_option(parser)
    add_parse_options(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    parser.add_argument(
        "--no-patterns",
        action="store_true",
        help="do not mine log patterns as records are stored (`logscope patterns --update` can later)",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="keep reading files as they grow, are rotated or appear, until SIGINT/SIGTERM;"
        " resumes exactly where the last run stopped",
    )
    parser.add_argument(
        "--reread",
        action="store_true",
        help="read whole files from their beginning even where an earlier run stored them already"
        " (by default only what was appended since is read)",
    )
    add_start_options(parser, from_start_default=True)
    add_service_options(parser)
    add_rule_options(parser)
    add_agent_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    registry, forced = build_formats(args)
    path = db_path(args)
    con = open_for_writing(path)
    try:
        follow = follow_options(args, con) if args.follow else None
        expansion = expand_sources(args.sources, follow, database_files(path))
        for error in expansion.errors:
            warn(f"error: {error}")
        for skipped in expansion.skipped:
            warn(f"warning: {skipped}")
        if not expansion.sources:
            if expansion.errors:  # each reported above in one line; a summary of nothing adds none
                return 1
            raise LogscopeError("nothing to read")
        summary = _ingest(args, con, registry, forced, expansion.sources)
    finally:
        con.close()
    failed = bool(expansion.errors or summary.errors)
    if not args.quiet:
        warn(_describe(summary, len(expansion.sources), path))
    if args.follow and summary.stop_requested:
        # Following ends on a signal, after committing what was read: problems with single
        # files were reported as they happened and the rest went on. A `cmd:` source that
        # failed has ended for good, though: that is a failed run. (When every source ended by
        # itself, its errors decide the status below.)
        return 1 if failed_commands(expansion.sources, summary.errors) else 0
    return 1 if failed else 0


def failed_commands(sources: list, errors: list[str]) -> list[str]:
    """The `cmd:` sources (not restarted ones) that reported a failure: they read nothing more."""
    return [
        source.name
        for source in sources
        if isinstance(source, CommandSource)
        and not source.restart
        and any(error.startswith(f"{source.name}: ") for error in errors)
    ]


def _ingest(args, con, registry, forced, sources) -> Summary:
    progress = None if args.quiet or not sys.stderr.isatty() else _progress_bar()

    def report(message: str) -> None:
        if progress is not None:
            progress.console.print(f"logscope: error: {message}", markup=False, highlight=False)
        else:
            warn(f"error: {message}")

    settings = run_settings(args, live_clock=args.follow, patterns=not args.no_patterns)
    run = IngestRun(con, registry, forced, settings, report)
    run.add_sources(sources, CheckpointBook(load_checkpoints(con)) if not args.reread else None)
    shipping = lake_attachment(args, con)  # --lake: docs/lake.md
    if shipping is not None:
        run.attach(shipping)
    on_stop_signals(run.pipeline.request_stop)
    for source in sources:  # once SIGTERM stops us cleanly: clients may start at this line
        if getattr(source, "address", None) and not args.quiet:
            warn(f"listening on {source.address}")
    total = sum(source.size_hint() or 0 for source in sources)
    try:
        with progress or nullcontext():
            task = progress.add_task("ingest", total=total or None) if progress else None

            def show_progress(pipeline) -> None:
                if progress is not None:
                    done = sum(stats.bytes for stats in pipeline.stats.values())
                    lines = sum(stats.lines for stats in pipeline.stats.values())
                    progress.update(task, completed=done, lines=lines)

            summary = run.run(show_progress)
    finally:
        report_alerts(run, quiet=args.quiet)
        run.report_drops()
    return summary


def _progress_bar():
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    class LinesPerSecond(TextColumn):
        def __init__(self) -> None:
            super().__init__("")

        def render(self, task):
            lines = task.fields.get("lines", 0)
            elapsed = task.elapsed or 0
            rate = lines / elapsed if elapsed > 0 else 0
            return f"{lines:,} lines, {rate:,.0f} lines/s"

    return Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        LinesPerSecond(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,
    )


def _describe(summary: Summary, sources: int, path: str) -> str:
    rate = summary.lines / summary.seconds if summary.seconds > 0 else 0
    formats = ", ".join(f"{name} {count:,}" for name, count in summary.formats.most_common())
    text = (
        f"ingested {plural(summary.lines, 'line')} from {plural(sources, 'source')}"
        f" in {summary.seconds:.2f} s ({rate:,.0f} lines/s) into {path}"
    )
    if formats:
        text += f": {formats}"
    if summary.skipped_bytes:
        files = summary.resumed_files
        text += (
            f"; {plural(files, 'file')} read before: {summary.skipped_bytes:,} bytes"
            " already stored were skipped (--reread reads them again)"
        )
    errors = len(summary.errors)
    if errors:
        text += f"; {plural(errors, 'error')}"
    return text
