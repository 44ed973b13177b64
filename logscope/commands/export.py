"""`logscope export`: records to Parquet files, hive-partitioned by UTC date, for other engines."""

from __future__ import annotations

import argparse
import os

from logscope.commands.common import add_db_option, db_path, examples, option_value
from logscope.errors import LogscopeError
from logscope.output import plural


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write records to Parquet files partitioned by date (DIR/date=YYYY-MM-DD/*.parquet)",
        description="Write the records with SINCE <= ts < UNTIL as Parquet, hive-partitioned by"
        " UTC date, readable by DuckDB, Spark, Trino or ClickHouse.",
        **examples(
            "logscope export --to archive/ --since 2026-11-01 --until 2026-12-01",
            "duckdb -c \"SELECT count(*) FROM 'archive/*/*.parquet'\"",
        ),
    )
    parser.add_argument("--to", required=True, metavar="DIR", help="directory to write into")
    parser.add_argument(
        "--since", metavar="TIME", help="first event time: 2026-11-20, an ISO time, or 2h (ago)"
    )
    parser.add_argument("--until", metavar="TIME", help="end of the range (exclusive), same forms")
    parser.add_argument("--append", action="store_true", help="add files to a directory that has some")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from logscope.store.client import connect_if_served, remove_stale_socket, socket_path
    from logscope.store.database import open_for_reading
    from logscope.store.export import check_target, export_served, export_sql, parse_time_bound
    from logscope.store.server import one_line_error

    since = option_value(args, "since", parse_time_bound)
    until = option_value(args, "until", parse_time_bound)
    check_target(args.to, args.append)
    sql = export_sql(args.to, since, until, args.append)
    path = db_path(args)
    client = connect_if_served(path)
    if client is not None:
        with client:
            rows = [(export_served(client, args.to, since, until, args.append),)]
    else:
        con = open_for_reading(path, external_access=True)  # our COPY, not a user's SQL
        remove_stale_socket(socket_path(path))  # left by a crashed holder; the file is ours now
        try:
            rows = con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise LogscopeError(one_line_error(exc)) from exc
        finally:
            con.close()
    count = rows[0][0] if rows and rows[0] else 0
    target = os.path.abspath(args.to)
    print(f"exported {plural(count, 'record')} to {target} (date=YYYY-MM-DD/*.parquet)")
    return 0
