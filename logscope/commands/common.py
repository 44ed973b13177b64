"""Options and helpers shared by the verbs."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # imported where used: `--help` loads none of the stages
    from logscope.parsing.base import Parser
    from logscope.parsing.registry import FormatRegistry

T = TypeVar("T")


def option_value(args: argparse.Namespace, name: str, parse: Callable[[str], T]) -> T | None:
    """`args.<name>` read by `parse` (None when the option is not given); a value `parse`
    refuses is one line naming the option: `--since: 'x': not a time (...)`."""
    from logscope.errors import LogscopeError

    text = getattr(args, name, None)
    if not text:
        return None
    try:
        return parse(text)
    except LogscopeError as exc:
        raise LogscopeError(f"--{name.replace('_', '-')}: {exc}", exc.exit_code) from None


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="DuckDB file (default: $LOGSCOPE_DB, else $XDG_DATA_HOME/logscope/logscope.duckdb);"
        " ':memory:' for none",
    )


def add_parse_options(parser: argparse.ArgumentParser) -> None:
    from logscope.commands.completion import log_format_names

    parser.add_argument(
        "--format",
        dest="log_format",
        metavar="NAME",
        help="use this log format for every line (`logscope formats list` names them)",
    ).completer = log_format_names  # type: ignore[attr-defined]
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="time zone for times written without one (default: the local zone)",
    )
    add_formats_option(parser)


def add_formats_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--formats",
        dest="formats_dirs",
        metavar="DIR",
        action="append",
        help="also load format definitions (*.toml) from DIR; a format named like a built-in one"
        " replaces it (repeatable; $XDG_CONFIG_HOME/logscope/formats is always read)",
    )


def db_path(args: argparse.Namespace) -> str:
    from logscope.store.database import resolve_db_path

    return resolve_db_path(args.db)


def file_db_path(args: argparse.Namespace, command: str) -> str:
    """`db_path` for a command that needs a database file: an in-memory one is an error (exit 2)."""
    from logscope.errors import LogscopeError
    from logscope.store.database import MEMORY

    path = db_path(args)
    if path == MEMORY:
        raise LogscopeError(f"{command}: an in-memory database holds nothing between runs; give --db PATH", 2)
    return path


def build_formats(args: argparse.Namespace) -> tuple[FormatRegistry, Parser | None]:
    """The format registry for the options given, and the forced format if any."""
    from logscope.parsing.registry import load_registry
    from logscope.parsing.time_values import resolve_zone

    zone = resolve_zone(getattr(args, "tz", None))
    registry = load_registry(zone, getattr(args, "formats_dirs", None))
    log_format = getattr(args, "log_format", None)
    forced = registry.get(log_format) if log_format else None
    return registry, forced


def examples(*lines: str) -> dict[str, object]:
    """`add_parser` arguments that end a verb's --help with these example command lines."""
    return {
        "epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def warn(message: str) -> None:
    print(f"logscope: {message}", file=sys.stderr, flush=True)


def on_stop_signals(handler: Callable[[], None]) -> None:
    """Call `handler` on SIGINT and SIGTERM instead of raising KeyboardInterrupt."""

    def _handle(signum: int, frame: object) -> None:
        handler()

    signal.signal(signal.SIGINT, _handle)
    signal.signal(signal.SIGTERM, _handle)


@contextlib.contextmanager
def reading(path: str) -> Iterator[Callable[[str], list[tuple]]]:
    """A function that runs one read-only statement and returns its rows: over the query service
    while a process holds the database (a connection per statement), else on the file."""
    from logscope.errors import LogscopeError
    from logscope.store.client import connect_if_served, remove_stale_socket, socket_path
    from logscope.store.database import open_for_reading
    from logscope.store.server import one_line_error

    probe = connect_if_served(path)
    if probe is not None:
        probe.close()

        def remote(sql: str) -> list[tuple]:
            client = connect_if_served(path)
            if client is None:
                raise LogscopeError(f"{path}: the process holding the database went away; run again")
            with client:
                return list(client.query(sql).rows())

        yield remote
        return
    import duckdb

    con = open_for_reading(path)
    remove_stale_socket(socket_path(path))  # left by a crashed holder; the file is ours now

    def local(sql: str) -> list[tuple]:
        try:
            return con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise LogscopeError(one_line_error(exc)) from exc

    try:
        yield local
    finally:
        con.close()
