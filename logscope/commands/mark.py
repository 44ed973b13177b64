"""`logscope mark`: record a change marker (a deploy, a config push) that `compare` splits time at."""

from __future__ import annotations

import argparse
import datetime as dt

from logscope.commands.common import add_db_option, examples, file_db_path, option_value
from logscope.errors import LogscopeError
from logscope.output import render_time


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mark",
        help="record a change marker (a deploy, a config change) at a time",
        description="Record a change marker in the `markers` table: `logscope compare --marker`"
        " compares the records before and after it, and the TUI draws it on the log view and the"
        " charts. Works while another process holds the database (through its query service)."
        " `logscope markers` lists them (docs/compare.md).",
        **examples(
            'logscope mark "deploy api v2.3"',
            'logscope mark "deploy api v2.3" --source api --tag version=2.3 --tag by=ci',
            "logscope mark \"config push\" --at '2026-11-20T14:02:00Z'",
        ),
    )
    parser.add_argument("text", help="what changed, e.g. 'deploy api v2.3'")
    parser.add_argument(
        "--at", metavar="TIME", help="when (default now): 2026-11-20T14:02:00Z, an ISO time, or 2h (ago)"
    )
    parser.add_argument("--source", metavar="NAME", help="the source it concerns (default: every source)")
    parser.add_argument(
        "--tag", metavar="KEY=VALUE", action="append", default=[], help="a tag (repeatable), e.g. version=2.3"
    )
    add_db_option(parser)
    parser.set_defaults(handler=run)


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """`k=v` words as a dict; a word without `=` or with an empty key is an error."""
    tags = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise LogscopeError(f"--tag {pair!r}: expected KEY=VALUE", 2)
        tags[key.strip()] = value
    return tags


def run(args: argparse.Namespace) -> int:
    from logscope.store.client import connect_if_served, remove_stale_socket, socket_path
    from logscope.store.database import open_for_writing
    from logscope.store.export import parse_time_bound
    from logscope.store.markers import Marker, insert_markers

    if not args.text.strip():
        raise LogscopeError("mark: the text is empty; say what changed", 2)
    at = option_value(args, "at", parse_time_bound) or dt.datetime.now(dt.UTC)
    marker = Marker(ts=at, text=args.text, source=args.source, tags=parse_tags(args.tag))
    path = file_db_path(args, "mark")
    client = connect_if_served(path)
    if client is not None:  # an ingest or tail holds the database: it stores the marker
        with client:
            marker_id = client.call("mark", **marker.as_request())["id"]
    else:
        con = open_for_writing(path)
        remove_stale_socket(socket_path(path))  # left by a crashed holder; the file is ours now
        try:
            marker_id = insert_markers(con, [marker])[0]
        finally:
            con.close()
    where = f" for {args.source}" if args.source else ""
    print(f"marker {marker_id} at {render_time(at.astimezone(dt.UTC))}{where}: {args.text}")
    return 0
