"""`logscope query`: run SQL over the database and print the rows."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from logscope.commands.common import add_db_option, add_formats_option, build_formats, db_path, examples
from logscope.commands.completion import sql_completions
from logscope.commands.lake import add_lake_option
from logscope.errors import LogscopeError
from logscope.output import add_output_options, chosen_format, write_rows

if TYPE_CHECKING:
    from logscope.pipeline.scan_check import PlainChecks

FETCH_ROWS = 10_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "query",
        help="run SQL over the stored records",
        description="Run one SQL statement (DuckDB dialect) over the database and print the rows."
        " Output is a table on a terminal and tab-separated values with a header when piped.",
        **examples(
            'logscope query "SELECT level, count(*) AS count FROM logs GROUP BY ALL ORDER BY ALL"',
            "logscope query --nl \"SELECT ts, message FROM logs WHERE level = 'error'\" | jq -r .message",
            "logscope query 'SELECT status, count(*) FROM nginx_access GROUP BY 1' access.log*",
        ),
    )
    parser.add_argument(
        "sql", metavar="SQL", help="the statement, or - to read it from stdin"
    ).completer = sql_completions  # type: ignore[attr-defined]
    parser.add_argument(
        "files",
        metavar="FILE",
        nargs="*",
        help="query these log files (globs, directories, .gz, - for stdin) where they lie, with no"
        " import: `logs` and the format views hold their records (docs/query.md)",
    )
    parser.add_argument(
        "--tz", metavar="ZONE", help="with FILEs: time zone for times written without one (default: local)"
    )
    add_formats_option(parser)
    add_db_option(parser)
    add_lake_option(parser, "query this lake instead: every agent's records, the same tables and views")
    parser.add_argument(
        "--at", metavar="SNAPSHOT|TIME", help="with --lake: the lake as it was at this snapshot or time"
    )
    # `--format FMT` was this verb's spelling before `--format` meant the log format everywhere.
    add_output_options(parser, deprecated=("--format", "--output"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.sql == "-" and "-" in args.files:
        raise LogscopeError("query: the SQL and a FILE cannot both be read from stdin", 2)
    sql = sys.stdin.read() if args.sql == "-" else args.sql
    if not sql.strip():
        raise LogscopeError("query: no SQL given", 2)
    fmt = chosen_format(args)
    if args.lake:
        return _run_on_lake(args, sql, fmt)
    if args.at:
        raise LogscopeError("query: --at needs --lake (a local database keeps no snapshots)", 2)
    if args.files:
        return _run_in_place(args, sql, fmt)
    from logscope.store.client import connect_if_served, remove_stale_socket, socket_path
    from logscope.store.database import MEMORY, open_for_reading

    path = db_path(args)
    client = connect_if_served(path) if path != MEMORY else None
    if client is not None:
        # Another process holds the database: it answers over `<db>.sock`, in the same formats.
        with client:
            return _run_remote(client, sql, fmt)
    con = open_for_reading(path)
    if path != MEMORY:
        remove_stale_socket(socket_path(path))  # left by a crashed holder; the file is ours now
    try:
        _print_result(con, sql, fmt)
    finally:
        con.close()
    return 0


def _run_on_lake(args: argparse.Namespace, sql: str, fmt: str) -> int:
    """SQL over the lake (logscope/lake/reader.py), sandboxed as on a local database."""
    from logscope.lake.config import resolve_lake
    from logscope.lake.reader import check_user_sql, open_lake_for_reading

    if args.files:
        raise LogscopeError("query: --lake reads the lake, not FILEs", 2)
    registry, _ = build_formats(args)
    con = open_lake_for_reading(resolve_lake(args.lake), registry.field_types, args.at)
    try:
        check_user_sql(con, sql)
        _print_result(con, sql, fmt)
    finally:
        con.close()
    return 0


def _run_in_place(args: argparse.Namespace, sql: str, fmt: str) -> int:
    """SQL over the files named, read where they lie (logscope/pipeline/in_place.py)."""
    from logscope.pipeline.scan_check import PlainChecks, named_plain_files

    # The big files named are checked for DuckDB's CSV reader by a child process, started before
    # DuckDB is imported here (0.1 s): the check of 1.6 GB takes 0.3 s (scan_check.py).
    checks = PlainChecks(named_plain_files(args.files))
    try:
        return _query_in_place(args, sql, fmt, checks)
    finally:
        checks.close()


def _query_in_place(args: argparse.Namespace, sql: str, fmt: str, checks: PlainChecks) -> int:
    if getattr(args, "own_process", False):
        from logscope.lean_arrow import keep_numpy_out
        from logscope.lean_duckdb import import_duckdb

        keep_numpy_out()  # never used here: DuckDB's Python functions need not import it
        import_duckdb()  # without importlib.metadata, which DuckDB imports for its version
    from logscope.pipeline.in_place import InPlaceQuery, retry_file

    args.exit_at_once = True  # everything is in memory: nothing to keep when the rows are out

    registry, forced = build_formats(args)
    query = InPlaceQuery(args.files, registry, forced, checks=checks)
    while True:
        con = query.connect(sql)
        try:
            _print_result(con, sql, fmt, retry_file)
            for skipped in query.skipped:
                print(f"logscope: warning: {skipped}", file=sys.stderr)
            # The rows of a damaged gzip file are those before the damage; then it is an error.
            for damage in query.damage:
                print(f"logscope: error: {damage}", file=sys.stderr)
            return 1 if query.damage else 0
        except _Retry as retry:
            files = query.read_by_parser | retry.files
            query = InPlaceQuery(args.files, registry, forced, checks=checks)
            query.read_by_parser = files
        finally:
            con.close()


class _Retry(Exception):
    def __init__(self, files: set[int]) -> None:
        self.files = files


def _print_result(con, sql: str, fmt: str, retry_file=None) -> None:
    """Run `sql` and print its rows; with `retry_file`, an error it names a file for (before the
    first row is printed) raises _Retry."""
    import duckdb

    from logscope.store.statements import one_line_error  # the server answers with the same line

    try:
        result = con.execute(sql)
        first = result.fetchmany(FETCH_ROWS) if result.description is not None else []
    except duckdb.Error as exc:
        retry = retry_file(exc) if retry_file is not None else None
        if retry is not None:
            raise _Retry({retry}) from exc
        raise LogscopeError(one_line_error(exc)) from exc
    if result.description is None:
        return
    columns = [column[0] for column in result.description]
    json_columns = {i for i, column in enumerate(result.description) if str(column[1]) == "JSON"}
    try:
        write_rows(sys.stdout, fmt, columns, _chain(first, _fetch(result)), json_columns)
    except duckdb.Error as exc:
        raise LogscopeError(one_line_error(exc)) from exc


def _chain(first: list[tuple], rest: Iterator[tuple]) -> Iterator[tuple]:
    yield from first
    if len(first) == FETCH_ROWS:
        yield from rest


def _run_remote(client, sql: str, fmt: str) -> int:
    result = client.query(sql)
    rows = result.rows(FETCH_ROWS)
    if result.columns is None:
        for _ in rows:
            pass
        return 0
    json_columns = {i for i, kind in enumerate(result.types) if kind == "JSON"}
    write_rows(sys.stdout, fmt, result.columns, rows, json_columns)
    return 0


def _fetch(result) -> Iterator[tuple]:
    while True:
        rows = result.fetchmany(FETCH_ROWS)
        if not rows:
            return
        yield from rows
