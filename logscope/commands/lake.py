"""`logscope lake init|status|compact|expire`, and the `--lake` option of the other verbs."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from logscope.commands.common import examples, option_value, warn
from logscope.errors import LogscopeError
from logscope.output import add_output_options, chosen_format, write_rows

if TYPE_CHECKING:
    import duckdb

    from logscope.pipeline.run import Attachment, IngestRun

DEFAULT_SNAPSHOTS = "7d"


def add_lake_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--lake", metavar="LAKE", help=help_text + " (docs/lake.md)")


def add_agent_options(parser: argparse.ArgumentParser) -> None:
    """`--lake` and `--agent` for `ingest` and `tail`: ship what is stored to a lake too."""
    add_lake_option(
        parser,
        "also ship every stored record to this lake (a name in $XDG_CONFIG_HOME/logscope/config.toml"
        " or a postgresql:// URL with ?data_path=), exactly once, catching up after outages",
    )
    parser.add_argument(
        "--agent", metavar="NAME", help="this agent's name in the lake (default: the host name)"
    )


def lake_attachment(args: argparse.Namespace, con: duckdb.DuckDBPyConnection) -> Attachment | None:
    """With `--lake`: what ships the run's committed records to the lake while it runs. From
    now on (before retention's first pass) the database keeps what the lake does not have."""
    if not getattr(args, "lake", None):
        return None
    from logscope.lake.config import resolve_lake
    from logscope.lake.connect import extension_file
    from logscope.lake.shipper import Shipper, hold_unshipped

    config = resolve_lake(args.lake)
    extension_file("ducklake")  # a missing extension fails now, not in the shipper's retries
    extension_file("postgres_scanner")
    hold_unshipped(con)

    @contextlib.contextmanager
    def shipping(run: IngestRun) -> Iterator[Shipper]:
        shipper = Shipper(run.con, config, agent=getattr(args, "agent", None), on_error=run.on_error)
        run.pipeline.after_commit(shipper.wake)
        shipper.start()
        try:
            yield shipper
        finally:
            shipper.close()

    return shipping


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lake",
        help="create, inspect and maintain a DuckLake that agents ship their records to",
        description="A DuckLake (PostgreSQL catalog, Parquet files in a directory or on S3) that"
        " `ingest --lake` and `tail --lake` agents ship to and `query --lake` reads (docs/lake.md).",
        **examples(
            "logscope lake init prod",
            "logscope lake status prod",
            "logscope lake expire prod --retain 30d  # then: logscope lake compact prod",
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="create the lake's catalog and tables")
    status = actions.add_parser("status", help="the agents shipping, their lag and last snapshot")
    compact = actions.add_parser("compact", help="merge small files into large ones")
    expire = actions.add_parser("expire", help="delete old records and snapshots, then their files")
    for sub in (init, status, compact, expire):
        sub.add_argument("lake", metavar="LAKE", help="a lake name from the config file, or a URL")
    add_output_options(status)
    expire.add_argument(
        "--retain", metavar="AGE", help="delete records older than AGE (event time), e.g. 30d"
    )
    expire.add_argument(
        "--snapshots",
        metavar="AGE",
        default=DEFAULT_SNAPSHOTS,
        help="forget snapshots older than AGE: time travel reaches back this far"
        f" (default {DEFAULT_SNAPSHOTS})",
    )
    init.set_defaults(handler=run_init)
    status.set_defaults(handler=run_status)
    compact.set_defaults(handler=run_compact)
    expire.set_defaults(handler=run_expire)


@contextlib.contextmanager
def _opened(spec: str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The lake for the block, closed after it; a DuckDB error in the block becomes one line."""
    import duckdb

    from logscope.lake.config import resolve_lake
    from logscope.lake.connect import one_line, open_lake

    config = resolve_lake(spec)
    con = open_lake(config, read_only=read_only)
    try:
        yield con
    except duckdb.Error as exc:
        raise LogscopeError(f"lake {config.name}: {one_line(exc)}") from exc
    finally:
        con.close()


def run_init(args: argparse.Namespace) -> int:
    from logscope.lake.maintenance import totals
    from logscope.lake.schema import create_tables

    with _opened(args.lake) as con:
        create_tables(con)
        found = totals(con)
    warn(f"lake {args.lake}: ready ({found.records:,} records, snapshot {found.snapshot})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from logscope.lake.maintenance import AGENT_COLUMNS, agents, totals
    from logscope.lake.schema import has_tables

    with _opened(args.lake, read_only=True) as con:
        if not has_tables(con):
            raise LogscopeError(f"lake {args.lake}: no logscope tables yet (run `logscope lake init`)")
        rows = agents(con)
        found = totals(con)
    write_rows(sys.stdout, chosen_format(args), AGENT_COLUMNS, rows, set())
    warn(
        f"lake {args.lake}: {found.records:,} records in {found.data_files:,} files,"
        f" snapshot {found.snapshot}, {len(rows)} agents"
    )
    return 0


def run_compact(args: argparse.Namespace) -> int:
    from logscope.lake.maintenance import compact

    with _opened(args.lake) as con:
        before, after = compact(con)
    warn(f"lake {args.lake}: {before:,} data files merged into {after:,} (`lake expire` deletes old ones)")
    return 0


def run_expire(args: argparse.Namespace) -> int:
    from logscope.lake.maintenance import expire
    from logscope.store.retention import parse_duration

    retain = option_value(args, "retain", parse_duration)
    snapshots = option_value(args, "snapshots", parse_duration) or 0.0
    with _opened(args.lake) as con:
        report = expire(con, retain, snapshots)
    warn(
        f"lake {args.lake}: {report.deleted_records:,} records deleted, {report.expired_snapshots:,}"
        f" snapshots expired, {report.removed_files:,} files removed"
    )
    return 0
