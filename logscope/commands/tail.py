"""`logscope tail`: follow sources into the database and watch them live in the terminal UI."""

from __future__ import annotations

import argparse
import os
import re
import sys

from logscope.commands.common import add_db_option, add_parse_options, build_formats, db_path, warn
from logscope.errors import LogscopeError
from logscope.parsing.timestamps import resolve_zone
from logscope.pipeline import Pipeline
from logscope.sources.base import Source, SourceContext
from logscope.sources.readers import StdinReader, pump
from logscope.sources.spec import Expansion, FollowOptions, expand_sources
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

# DuckDB's cache for the app's process: bounded, so memory stays flat however much is ingested.
DEFAULT_MEMORY_LIMIT = "256MB"
STOP_SECONDS = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tail",
        help="follow sources live in a terminal UI (filters, search, SQL, alerts)",
        description="Follow files, directories, globs, sockets, commands or stdin (-) into the"
        " database and show the merged stream live. With no SOURCE, browse what the database holds."
        " Piped input works with the keyboard: `kubectl logs -f pod | logscope tail -`.",
    )
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="file, directory, glob, URL, or -")
    add_db_option(parser)
    add_parse_options(parser)
    parser.add_argument(
        "--from-end",
        action="store_true",
        help="start files never seen before at their end instead of their beginning",
    )
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="PATH",
        help="alert rule file or directory (repeatable; the bundled packs are always loaded)",
    )
    parser.add_argument("--no-rules", action="store_true", help="run no alert rules")
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"DuckDB memory limit (default: {DEFAULT_MEMORY_LIMIT})",
    )
    parser.set_defaults(handler=run)


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
    """Move piped stdin to a new descriptor for its source, and put the terminal on fd 0.

    Textual reads keys from fd 0, so the pipe has to make way for /dev/tty.
    """
    if not any(isinstance(source, StdinReader) for source in sources):
        return sources
    if os.isatty(0):
        raise LogscopeError(
            "-: standard input is the terminal; pipe something in, e.g. `cmd | logscope tail -`"
        )
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError as exc:
        raise LogscopeError(f"/dev/tty: {exc.strerror}: tail needs a terminal for the keyboard") from exc
    pipe = os.dup(0)
    os.dup2(tty, 0)
    os.close(tty)
    return [PipeReader(pipe) if isinstance(source, StdinReader) else source for source in sources]


def follow_sources(arguments: list[str], from_end: bool) -> Expansion:
    """The sources, followed when this build can follow them, else read once."""
    try:
        return expand_sources(arguments, FollowOptions(from_start=not from_end))
    except LogscopeError:
        # Until follow mode covers every source kind, fall back to reading what can be read.
        return expand_sources(arguments)


def run(args: argparse.Namespace) -> int:
    if not sys.stdout.isatty() and not sys.stderr.isatty():
        raise LogscopeError("tail needs a terminal; use `logscope ingest --follow` to only store")
    registry, forced = build_formats(args)
    zone = resolve_zone(args.tz)
    expansion = follow_sources(args.sources, args.from_end) if args.sources else Expansion()
    if args.sources and not expansion.sources:
        raise LogscopeError("; ".join(expansion.errors) or "no sources")
    sources = take_keyboard_from_tty(expansion.sources)
    path = db_path(args)
    con = open_for_writing(path)
    try:
        con.execute(f"SET memory_limit = '{_memory_limit(args.memory_limit)}'")
        return _run_app(con, args, registry, forced, sources, expansion.errors, zone, path)
    finally:
        con.close()


def _rule_engine(args: argparse.Namespace, con, registry):
    """The bundled rules plus --rules, checked; their alerts go to the `alerts` table."""
    from logscope.alerting.engine import RuleEngine, format_field_types
    from logscope.commands.rules import load_checked

    format_types = format_field_types(registry.ordered)
    ruleset = load_checked(args.rules, builtin=True, format_types=format_types)
    return RuleEngine(ruleset, store=con, format_types=format_types)


def _memory_limit(text: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", text.strip(), re.IGNORECASE):
        raise LogscopeError(f"--memory-limit: not a size: {text!r} (e.g. 256MB, 1GB)", 2)
    return text.strip()


def _run_app(con, args, registry, forced, sources, errors, zone, path) -> int:
    from logscope.tui.app import LogscopeApp
    from logscope.tui.live import LiveFeed

    pipeline = Pipeline(LogWriter(con), registry, forced)
    for source in sources:
        pipeline.add_source(source)
    engine = None if args.no_rules else _rule_engine(args, con, registry)
    if engine is not None:
        pipeline.subscribe(engine.on_records)
    feed = LiveFeed(pipeline)
    names = ", ".join(source.name for source in sources[:3]) + (" …" if len(sources) > 3 else "")
    app = LogscopeApp(con, feed=feed, zone=zone, subtitle=f"{names} → {path}")
    pipeline.on_error = app.report_error
    if engine is not None:
        engine.on_error = app.report_error
        engine.subscribe(lambda changes: app.alerts_changed())
    for error in errors:
        app.report_error(error)
    if sources:
        pipeline.start()
    if engine is not None:
        engine.start_clock()
    try:
        app.run()
    finally:
        if sources:
            pipeline.request_stop()
            pipeline.wait(STOP_SECONDS)
        if engine is not None:
            engine.close(timeout=2.0)
    if pipeline.fatal:
        raise LogscopeError(f"writing to the database failed: {pipeline.fatal}")
    warn(f"tail: {pipeline.summary.lines:,} records stored in {path}")
    return 0
