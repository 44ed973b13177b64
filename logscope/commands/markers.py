"""`logscope markers`: list the change markers, by time."""

from __future__ import annotations

import argparse
import sys

from logscope.commands.common import add_db_option, examples, file_db_path, option_value, reading
from logscope.output import add_output_options, chosen_format, write_rows


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "markers",
        help="list the change markers (`logscope mark`, and versions seen changing in the records)",
        description="List the change markers by time: those recorded with `logscope mark` (origin"
        " `mark`) and those made when a source's `version` or `service.version` field changed"
        " (origin `version`) (docs/compare.md).",
        **examples(
            "logscope markers --since 1d",
            "logscope markers --source api --json | jq -r '.[].text'",
        ),
    )
    parser.add_argument("--since", metavar="TIME", help="first time: 2026-11-20, an ISO time, or 2h (ago)")
    parser.add_argument("--until", metavar="TIME", help="end of the range (exclusive), same forms")
    parser.add_argument(
        "--source", metavar="GLOB", help="markers of sources matching this (markers for every source too)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="at most N markers")
    add_output_options(parser)
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from logscope.store.export import parse_time_bound
    from logscope.store.markers import COLUMNS, HAS_MARKERS_SQL, listing_sql

    path = file_db_path(args, "markers")
    sql = listing_sql(
        since=option_value(args, "since", parse_time_bound),
        until=option_value(args, "until", parse_time_bound),
        source=args.source,
        limit=args.limit,
    )
    with reading(path) as fetch:
        rows = fetch(sql) if fetch(HAS_MARKERS_SQL)[0][0] else []
    write_rows(sys.stdout, chosen_format(args), COLUMNS, rows, json_columns={COLUMNS.index("tags")})
    return 0
