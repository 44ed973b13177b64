"""`logscope tail`: follow sources into the database and watch them live in the terminal UI."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import termios
from collections.abc import Iterator

from logscope.commands.common import add_db_option, add_parse_options, db_path, examples, warn
from logscope.commands.lake import add_agent_options
from logscope.commands.reading import add_rule_options, add_start_options, follow_options
from logscope.commands.services import add_service_options
from logscope.commands.tail_start import BackgroundRun
from logscope.errors import LogscopeError
from logscope.output import plural
from logscope.parsing.time_values import resolve_zone
from logscope.sources.base import Source, SourceContext
from logscope.sources.readers import StdinReader, pump
from logscope.sources.spec import Expansion, expand_sources
from logscope.store.database import open_for_writing

# DuckDB's cache for the app's process: bounded, so memory stays flat however much is ingested.
DEFAULT_MEMORY_LIMIT = "256MB"
# Lines read from the files' ends for a fresh database's first screen (more than a screen holds).
FILE_END_LINES = 200


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
            ctx.report_error(f"stdin: {exc.strerror or exc}", self.name)
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
    zone = resolve_zone(args.tz)
    path = db_path(args)
    con = open_for_writing(path)
    try:
        con.execute(f"SET memory_limit = '{_memory_limit(args.memory_limit)}'")
        expansion = expand_sources(args.sources, follow_options(args, con)) if args.sources else Expansion()
        if args.sources and not expansion.sources:
            raise LogscopeError("; ".join(expansion.errors) or "no sources")
        sources = take_keyboard_from_tty(expansion.sources)
        with keys_kept_as_typed():
            lines = _run_app(con, args, sources, expansion.errors + expansion.skipped, zone, path)
    finally:
        con.close()
    warn(f"tail: {plural(lines, 'record')} stored in {path}")
    return 0


@contextlib.contextmanager
def keys_kept_as_typed(fd: int = 0) -> Iterator[None]:
    """Keys typed while the app starts wait as typed, for the app to read: no echo, and Enter
    stays Enter (a line-editing terminal turns it into a newline, which the app reads as ctrl+j).
    The terminal's settings are put back afterwards (the app restores what it found: these)."""
    try:
        before = termios.tcgetattr(fd)
    except termios.error:
        yield
        return
    raw = termios.tcgetattr(fd)
    raw[0] &= ~(termios.ICRNL | termios.IXON)  # iflag
    raw[3] &= ~(termios.ICANON | termios.ECHO | termios.IEXTEN)  # lflag (Ctrl+C still stops it)
    termios.tcsetattr(fd, termios.TCSANOW, raw)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, before)


def _memory_limit(text: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", text.strip(), re.IGNORECASE):
        raise LogscopeError(f"--memory-limit: not a size: {text!r} (e.g. 256MB, 1GB)", 2)
    return text.strip()


def _run_app(con, args, sources, errors, zone, path) -> int:
    """Draw the app, then assemble the pipeline, rules and query service in a thread and run
    them there while the app runs in this one; the records stored."""
    from logscope.pipeline.catch_up import fresh_import
    from logscope.tui.app import LogscopeApp
    from logscope.tui.file_ends import file_ends
    from logscope.tui.history import default_history_path

    names = ", ".join(source.name for source in sources[:3]) + (" …" if len(sources) > 3 else "")
    app = LogscopeApp(
        con, zone=zone, subtitle=f"{names} → {path}", freeze_heap=True, history_path=default_history_path()
    )
    if args.from_start:  # the files' ends show until the first records are stored (fresh database)
        catching_up = caught_up_files(sources)
        app.file_ends = tuple(file_ends(catching_up, FILE_END_LINES))
        app.catch_up = fresh_import(con, catching_up)  # filters and SQL read them in place meanwhile
    for error in errors:
        app.report_error(error)
    background = BackgroundRun(app, con, args, sources, warn_error)
    app.when_drawn = background.start  # (the first screen does not wait for formats and rules)
    try:
        app.run()
    finally:
        if app.catch_up is not None:
            app.catch_up.close()
        background.finish()
    return background.lines


def caught_up_files(sources: list[Source]) -> list[str]:
    """The files read from their start before following (what the pipeline catches up in bulk)."""
    from logscope.sources.tail.source import TailSource

    return [path for source in sources if isinstance(source, TailSource) for path in source.catch_up_files()]


def warn_error(message: str) -> None:
    warn(f"error: {message}")
