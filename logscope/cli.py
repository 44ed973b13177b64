"""The command line: one verb per job; errors become one line and an exit status here."""

from __future__ import annotations

import argparse
import os
import sys

from logscope import __version__
from logscope.commands import demo, export, formats, ingest, parse, query, rules, status, tail, vacuum
from logscope.errors import LogscopeError

VERBS = (ingest, query, parse, tail, demo, rules, status, vacuum, export, formats)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logscope",
        description="Gather, parse, store and query logs with DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"logscope {__version__}")
    subparsers = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    for verb in VERBS:
        verb.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
