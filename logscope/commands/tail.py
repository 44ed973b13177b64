"""`logscope tail`: follow sources into the database and watch them live in the terminal UI."""

from __future__ import annotations

import argparse
import os
import re
import sys

from logscope.commands.common import (
    add_db_option,
    add_parse_options,
    build_formats,
    db_path,
    examples,
    warn,
)
from logscope.commands.lake import add_agent_options, lake_attachment
from logscope.commands.reading import add_start_options, follow_options, run_settings
from logscope.commands.rules import add_rule_options, report_alerts
from logscope.commands.services import add_service_options
from logscope.errors import LogscopeError
from logscope.output import plural
from logscope.parsing.time_values import resolve_zone
from logscope.pipeline.figures import Summary
from logscope.pipeline.run import IngestRun
from logscope.sources.base import Source, SourceContext
from logscope.sources.readers import StdinReader, pump
from logscope.sources.spec import Expansion, expand_sources
from logscope.store.database import open_for_writing

# DuckDB's cache for the app's process: bounded, so memory stays flat however much is ingested.
DEFAULT_MEMORY_LIMIT = "256MB"
STOP_SECONDS = 5.0
# Followed records are committed at most every 0.25 s, and so shown four times a second: each
# commit costs the writer, the rules, the patterns stage and a redraw of the view a fixed amount
# (bench/tui_follow.py: 0.1 s took ~12% of a core more at 200 lines/s than 0.25 s).
COMMIT_SECONDS = 0.25
# Patterns mined at most once a second while following (each round has a fixed cost; nobody
# watches the patterns table change faster).
MINING_SECONDS = 1.0
# Live rules evaluate what was committed at most every 0.5 s (the alert clock's tick): each
# evaluation costs a few queries and an alerts-table write however few records it takes, and an
# alert shown half a second later is not one anybody misses.
RULES_SECONDS = 0.5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tail",
        help="follow sources live in a terminal UI (filters, search, SQL, alerts)",
        description="Follow files, directories, globs, sockets, commands or stdin (-) into the"
        " database and show the merged stream live (docs/tui.md). With no SOURCE, browse what the"
        " database holds. Piped input works with the keyboard: `kubectl logs -f pod | logscope tail -`.",
        **examples(
            "logscope tail sample_logs/",
            "logscope tail                           # browse what the database holds",
            "kubectl logs -f deploy/api | logscope tail -",
        ),
    )
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="file, directory, glob, -, tcp://, udp://, unix://, unixgram://, otlp://, cmd:",
    )
    add_db_option(parser)
    add_parse_options(parser)
    add_start_options(parser, from_start_default=True)
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"DuckDB memory limit (default: {DEFAULT_MEMORY_LIMIT})",
    )
    add_service_options(parser)
    add_rule_options(parser)
    add_agent_options(parser)
    parser.set_defaults(handler=run, quiet=False)


def build_args(argv: list[str]) -> argparse.Namespace:
    """Parse `tail` arguments on their own (for verbs that run tail, like `demo`)."""
    parser = argparse.ArgumentParser(prog="logscope tail")
    register(parser.add_subparsers())
    return parser.parse_args(["tail", *argv])


class PipeReader:
    """A pipe that was standard input, read from the descriptor it was moved to."""

    name = "stdin"

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def size_hint(self) -> int | None:
        return None

    def run(self, ctx: SourceContext) -> None:
        try:
            pump(lambda size: os.read(self.fd, size), self.name, ctx)
        except OSError as exc:
            ctx.report_error(f"stdin: {exc.strerror or exc}")
        finally:
            os.close(self.fd)


def take_keyboard_from_tty(sources: list[Source]) -> list[Source]:
    """Put the terminal on fd 0 (Textual reads keys there), moving piped stdin out of the way.

    A `-` source reads the pipe from the new descriptor it was moved to.
    """
    if not sys.__stderr__.isatty():  # Textual draws on standard error
        raise LogscopeError("tail draws on the terminal, but standard error is not one")
    reads_stdin = any(isinstance(source, StdinReader) for source in sources)
    if os.isatty(0):
        if reads_stdin:
            raise LogscopeError(
                "-: standard input is the terminal; pipe something in, e.g. `cmd | logscope tail -`"
            )
        return sources
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError as exc:
        raise LogscopeError(f"/dev/tty: {exc.strerror}: tail needs a terminal for the keyboard") from exc
    pipe = os.dup(0) if reads_stdin else None
    os.dup2(tty, 0)
    os.close(tty)
    return [PipeReader(pipe) if isinstance(source, StdinReader) else source for source in sources]


def run(args: argparse.Namespace) -> int:
    registry, forced = build_formats(args)
    zone = resolve_zone(args.tz)
    path = db_path(args)
    con = open_for_writing(path)
    try:
        con.execute(f"SET memory_limit = '{_memory_limit(args.memory_limit)}'")
        expansion = expand_sources(args.sources, follow_options(args, con)) if args.sources else Expansion()
        if args.sources and not expansion.sources:
            raise LogscopeError("; ".join(expansion.errors) or "no sources")
        sources = take_keyboard_from_tty(expansion.sources)
        summary = _run_app(con, args, registry, forced, sources, expansion.errors, zone, path)
    finally:
        con.close()
    warn(f"tail: {plural(summary.lines, 'record')} stored in {path}")
    return 0


def _memory_limit(text: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", text.strip(), re.IGNORECASE):
        raise LogscopeError(f"--memory-limit: not a size: {text!r} (e.g. 256MB, 1GB)", 2)
    return text.strip()


def _run_app(con, args, registry, forced, sources, errors, zone, path) -> Summary:
    """Run the pipeline, rules and query service in threads while the app runs in this one."""
    from logscope.tui.app import LogscopeApp
    from logscope.tui.history import default_history_path
    from logscope.tui.live import LiveFeed

    settings = run_settings(args, live_clock=True)
    settings.min_commit_seconds = COMMIT_SECONDS  # fewer commits for the writer, rules and patterns
    settings.mining_seconds = MINING_SECONDS
    settings.rules.live_seconds = RULES_SECONDS
    run = IngestRun(con, registry, forced, settings, warn_error)
    run.add_sources(sources)  # files found at start are caught up in bulk
    shipping = lake_attachment(args)  # --lake: docs/lake.md
    if shipping is not None:
        run.attach(shipping)
    names = ", ".join(source.name for source in sources[:3]) + (" …" if len(sources) > 3 else "")
    app = LogscopeApp(
        con,
        feed=LiveFeed(run.pipeline),
        zone=zone,
        subtitle=f"{names} → {path}",
        freeze_heap=True,
        history_path=default_history_path(),
    )
    run.on_error = app.report_error
    for error in errors:
        app.report_error(error)
    try:
        with run.running():
            try:
                app.run()
            finally:
                run.stop(STOP_SECONDS)
    finally:
        report_alerts(run, quiet=False)
    return run.pipeline.summary


def warn_error(message: str) -> None:
    warn(f"error: {message}")
