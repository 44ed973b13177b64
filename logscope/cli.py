"""The command line: one verb per job; errors become one line and an exit status here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from logscope import __version__
from logscope.errors import LogscopeError

# Each verb's module (logscope/commands/<verb>.py), in the order `--help` lists them.
VERBS = (
    "ingest",
    "query",
    "patterns",
    "parse",
    "tail",
    "demo",
    "rules",
    "status",
    "vacuum",
    "export",
    "formats",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every verb, or of `only` that one: a verb imports only its own module, so
    `logscope query` in a pipe starts without loading the TUI, the rule engine or the importer."""
    parser = argparse.ArgumentParser(
        prog="logscope",
        description="Gather, parse, store and query logs with DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"logscope {__version__}")
    subparsers = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    for verb in VERBS if only is None else (only,):
        importlib.import_module(f"logscope.commands.{verb}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verb = next((arg for arg in argv if not arg.startswith("-")), None)
    if verb is None and "--version" in argv:
        print(f"logscope {__version__}")
        return 0
    args = build_parser(verb if verb in VERBS else None).parse_args(argv)
    try:
        return args.handler(args)
    except LogscopeError as exc:
        print(f"logscope: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error for a pipe filter.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
