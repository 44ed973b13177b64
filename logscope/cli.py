"""The command line: one verb per job; errors become one line and an exit status here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from logscope import __version__
from logscope.errors import LogscopeError

# Each verb's module (logscope/commands/<verb>.py) and its line in `logscope --help`, in order.
VERBS = {
    "ingest": "read log files, directories, globs or stdin into the database",
    "query": "run SQL over the stored records",
    "patterns": "list the log patterns (messages with their variable parts masked) by count",
    "mark": "record a change marker (a deploy, a config change) at a time",
    "markers": "list the change markers (`logscope mark`, and versions seen changing in the records)",
    "compare": "compare the records before and after a marker: error rate, new patterns, shifted fields",
    "parse": "parse lines and print them as JSON lines, storing nothing",
    "tail": "follow sources live in a terminal UI (filters, search, SQL, alerts)",
    "demo": "watch a simulated microservice fleet, with incidents the bundled rules catch",
    "rules": "check, unit-test and backtest alert rules",
    "status": "show whether a process holds the database, its sources' health and firing alerts",
    "vacuum": "delete old records now (--retain, --max-db-size), checkpoint, optionally compact",
    "export": "write records to Parquet files partitioned by date (DIR/date=YYYY-MM-DD/*.parquet)",
    "lake": "create, inspect and maintain a DuckLake that agents ship their records to",
    "formats": "list, show, detect and check log formats",
    "completion": "print the shell completion script for bash, zsh or fish",
}
EPILOG = """examples:
  logscope ingest sample_logs/
  logscope query "SELECT level, count(*) AS count FROM logs GROUP BY ALL ORDER BY ALL"
  logscope parse sample_logs/app.jsonl | jq .message

Each command's --help ends with examples of its own; docs/cli.md covers output formats,
pipes, exit statuses and shell completion."""


# Verbs whose run moves records through pyarrow: it is imported without numpy and keeps DuckDB
# from importing pyarrow.dataset, neither of which they use (logscope/lean_arrow.py; `tail` does
# the same when its pipeline starts).
LEAN_ARROW_VERBS = frozenset({"ingest"})


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of `only` that verb, or the overview of all of them. A verb imports only its
    own module, and the overview none: `logscope --help` loads no DuckDB, Arrow or rules."""
    parser = argparse.ArgumentParser(
        prog="logscope",
        description="Gather, parse, store and query logs with DuckDB.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"logscope {__version__}")
    subparsers = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    for verb, summary in VERBS.items():
        if verb == only:
            if verb in LEAN_ARROW_VERBS:
                from logscope.lean_arrow import import_lean

                import_lean()
            importlib.import_module(f"logscope.commands.{verb}").register(subparsers)
        else:
            subparsers.add_parser(verb, help=summary, add_help=False)
    return parser


def verb_of(words: list[str]) -> str | None:
    """The verb among the arguments: the first one that is not an option."""
    return next((word for word in words if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    if "_ARGCOMPLETE" in os.environ:
        from logscope.commands.completion import complete

        complete(build_parser, verb_of)  # answers the shell and exits
    program = argv is None  # the process's own command line, not a caller's list
    argv = sys.argv[1:] if argv is None else argv
    verb = verb_of(argv)
    args = build_parser(verb if verb in VERBS else None).parse_args(argv)
    args.own_process = program  # a verb may then change what this process imports
    code = _handled(args)
    if program and getattr(args, "exit_at_once", False):
        exit_at_once(code)
    return code


def _handled(args: argparse.Namespace) -> int:
    try:
        return args.handler(args)
    except LogscopeError as exc:
        print(f"logscope: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head -1`): a normal end for a pipe filter, so exit 0 quietly.
        from logscope.output import quiet_closed_stdout

        quiet_closed_stdout()
        return 0


def exit_at_once(code: int) -> None:
    """End the process with `code` once its output is written, without Python's finalization,
    for a command that keeps nothing but what it printed (`query SQL FILE`): freeing each module's
    objects, numpy and DuckDB's took ~0.07 s of its ~1 s (docs/benchmarks.md)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # the reader went away, or the stream is closed
        pass
    os._exit(code)
