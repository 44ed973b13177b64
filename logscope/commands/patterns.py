"""`logscope patterns`: the log patterns of the stored records, most frequent first."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator

import duckdb

from logscope.commands.common import add_db_option, examples, file_db_path, option_value, warn
from logscope.commands.lake import add_lake_option
from logscope.errors import LogscopeError
from logscope.output import add_output_options, chosen_format, write_rows
from logscope.record import LEVEL_RANK, LEVELS
from logscope.store.client import connect_if_served, remove_stale_socket, socket_path
from logscope.store.database import open_for_reading, open_for_writing
from logscope.store.export import parse_time_bound
from logscope.store.patterns import UNMINED_SQL, PatternQuery, listing_sql
from logscope.store.server import one_line_error

SPARKS = "▁▂▃▄▅▆▇█"
COLUMNS = ("id", "count", "trend", "first_seen", "last_seen", "template", "example")
WIDE_TABLE = 140  # terminal columns from which the table shows an example beside the template
NARROW_BUCKETS = 12  # the trend's width in a narrower table
# Formats where the trend is a list of counts rather than a sparkline.
_LIST_TREND = ("json", "jsonl")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "patterns",
        help="list the log patterns (messages with their variable parts masked) by count",
        description="List the patterns of the stored records, most frequent first, with a trend of"
        " their rate over the range, when each was first seen, and an example (docs/patterns.md).",
        **examples(
            "logscope patterns --level error --since 1h",
            "logscope patterns --new-since '2026-11-20 14:02' --source '*api*'",
            "logscope patterns --nl | jq -r .template",
        ),
    )
    parser.add_argument(
        "--since", metavar="TIME", help="first event time: 2026-11-20, an ISO time, or 2h (ago)"
    )
    parser.add_argument("--until", metavar="TIME", help="end of the range (exclusive), same forms")
    parser.add_argument(
        "--source", metavar="GLOB", help="only records of sources matching this (e.g. '*nginx*')"
    )
    parser.add_argument(
        "--level", metavar="LEVEL", choices=LEVELS, help="only records at this level or more severe"
    )
    parser.add_argument(
        "--new-since", metavar="TIME", help="only patterns first seen at or after this time (same forms)"
    )
    parser.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N patterns (50)")
    parser.add_argument(
        "--update",
        action="store_true",
        help="first mine the records stored since patterns were last mined (`ingest --no-patterns`,"
        " or a database from before patterns existed); an ingest running on it mines as it goes",
    )
    add_output_options(parser)
    add_db_option(parser)
    add_lake_option(parser, "the patterns of this lake's records (every agent's), mined now")
    parser.add_argument("--at", metavar="SNAPSHOT|TIME", help="with --lake: the lake as it was then")
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def build_query(args: argparse.Namespace) -> PatternQuery:
    """The listing the options ask for."""
    levels = (
        tuple(name for name in LEVELS if LEVEL_RANK[name] >= LEVEL_RANK[args.level]) if args.level else None
    )
    return PatternQuery(
        since=option_value(args, "since", parse_time_bound),
        until=option_value(args, "until", parse_time_bound),
        source=args.source,
        levels=levels,
        new_since=option_value(args, "new_since", parse_time_bound),
        limit=args.limit,
    )


def run(args: argparse.Namespace) -> int:
    query = build_query(args)
    fmt = chosen_format(args)
    if fmt == "table" and not _wide():
        query.buckets = NARROW_BUCKETS  # a trend that fits beside the template
    if args.lake:
        rows = _read_lake(args, query)
        _print(rows, query, fmt)
        return 0
    path = file_db_path(args, "patterns")
    client = connect_if_served(path)
    if client is not None:  # an ingest holds the database, mining as it stores
        with client:
            rows = list(client.query(listing_sql(query)).rows())
        hint = "the process holding the database mines as it stores, unless run with --no-patterns"
        unmined = _remote_count(path, UNMINED_SQL)
    else:
        if args.update:
            _update(path)
        hint = "`logscope patterns --update` mines them"
        rows, unmined = _read(path, query)
    if unmined:
        warn(f"patterns: {unmined:,} records are not mined yet ({hint})")
    _print(rows, query, fmt)
    return 0


def _print(rows: list[tuple], query: PatternQuery, fmt: str) -> None:
    if fmt == "table":
        columns, shown = _table(rows, query.buckets)
        write_rows(sys.stdout, fmt, columns, shown)
    else:
        write_rows(sys.stdout, fmt, COLUMNS, _shown(rows, query.buckets, fmt in _LIST_TREND))


def _read_lake(args: argparse.Namespace, query: PatternQuery) -> list[tuple]:
    """Mine the lake's records in the range asked (a copy in memory; docs/lake.md)."""
    from logscope.lake.config import resolve_lake
    from logscope.lake.reader import copy_to_local
    from logscope.patterns.stage import PatternStage

    con = copy_to_local(resolve_lake(args.lake), args.at, query.since, query.until)
    try:
        PatternStage(con).catch_up()
        return con.execute(listing_sql(query)).fetchall()
    except duckdb.Error as exc:
        raise LogscopeError(one_line_error(exc)) from exc
    finally:
        con.close()


def _remote_count(path: str, sql: str) -> int:
    """A count over the query service (one request per connection); 0 if it went away."""
    client = connect_if_served(path)
    if client is None:
        return 0
    with client:
        rows = list(client.query(sql).rows())
    return int(rows[0][0]) if rows else 0


def _update(path: str) -> None:
    from logscope.patterns.stage import PatternStage  # the miner (pyarrow.compute) only when asked
    from logscope.store.version_markers import VersionMarkers

    con = open_for_writing(path)
    try:
        mined = PatternStage(con).catch_up()
        VersionMarkers(con).catch_up()  # markers where a version field changed (docs/compare.md)
    finally:
        con.close()
    if mined:
        warn(f"patterns: mined {mined:,} records")


def _read(path: str, query: PatternQuery) -> tuple[list[tuple], int]:
    con = open_for_reading(path)
    remove_stale_socket(socket_path(path))  # left by a crashed holder; the file is ours now
    try:
        if not _has_patterns(con):
            return [], _count(con, "SELECT count(*) FROM logs")
        return con.execute(listing_sql(query)).fetchall(), _count(con, UNMINED_SQL)
    except duckdb.Error as exc:
        raise LogscopeError(one_line_error(exc)) from exc
    finally:
        con.close()


def _has_patterns(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database has the pattern tables (one written before they existed has not)."""
    return bool(_count(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'record_patterns'"))


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()
    return int(rows[0][0]) if rows else 0


def sparkline(counts: list[int]) -> str:
    """Counts as bars, the highest a full block (a zero is the lowest bar, as in `spark`)."""
    top = max(counts, default=0)
    if top <= 0:
        return SPARKS[0] * len(counts)
    return "".join(SPARKS[min(len(SPARKS) - 1, count * (len(SPARKS) - 1) // top)] for count in counts)


def _trend(points: list[dict], buckets: int) -> list[int]:
    counts = [0] * buckets
    for point in points:
        counts[int(point["bucket"])] = int(point["n"])
    return counts


def _wide() -> bool:
    return shutil.get_terminal_size().columns >= WIDE_TABLE


def _table(rows: list[tuple], buckets: int) -> tuple[tuple[str, ...], list[tuple]]:
    """For people: first seen to the second, no last seen, and the example only where the
    terminal is wide enough for it beside the template."""
    wide = _wide()
    columns = ("id", "count", "trend", "first_seen", "template", *(("example",) if wide else ()))
    shown = [
        (
            row[0],
            row[1],
            row[2],
            f"{row[3]:%Y-%m-%d %H:%M:%S}" if row[3] else "",
            row[5],
            *((row[6],) if wide else ()),
        )
        for row in _shown(rows, buckets, as_list=False)
    ]
    return columns, shown


def _shown(rows: list[tuple], buckets: int, as_list: bool) -> Iterator[tuple]:
    for pattern_id, count, points, first_seen, last_seen, template, example in rows:
        counts = _trend(points, buckets)
        yield (
            pattern_id,
            count,
            counts if as_list else sparkline(counts),
            first_seen,
            last_seen,
            template,
            example,
        )
