"""`logscope vacuum`: a retention pass and checkpoint now; `--compact` rewrites the file smaller."""

from __future__ import annotations

import argparse
from typing import Any

from logscope.commands.common import add_db_option, examples, file_db_path, option_value
from logscope.commands.status import human_bytes
from logscope.errors import LogscopeError
from logscope.output import plural


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vacuum",
        help="delete old records now (--retain, --max-db-size), checkpoint, optionally compact",
        description="Apply retention and CHECKPOINT so freed space is reused. Works while another"
        " process holds the database (through its query service); --compact needs it free.",
        **examples("logscope vacuum --retain 7d", "logscope vacuum --max-db-size 2GB --compact"),
    )
    add_db_option(parser)
    parser.add_argument("--retain", metavar="AGE", help="delete records older than AGE, e.g. 7d")
    parser.add_argument("--max-db-size", metavar="SIZE", help="delete the oldest records down to SIZE")
    parser.add_argument(
        "--compact",
        action="store_true",
        help="rewrite the database into a new file so the file itself shrinks (needs exclusive access)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from logscope.store.client import connect_if_served, remove_stale_socket, socket_path
    from logscope.store.database import open_for_writing
    from logscope.store.retention import RetentionPolicy, apply_retention, compact, parse_duration, parse_size

    path = file_db_path(args, "vacuum")
    policy = RetentionPolicy(
        retain_s=option_value(args, "retain", parse_duration),
        max_bytes=option_value(args, "max_db_size", parse_size),
    )
    client = connect_if_served(path)
    if client is not None:
        with client:
            if args.compact:
                pid = client.call("status").get("pid")
                held = f"PID {pid} holds the database; stop it first"
                raise LogscopeError(f"{path}: cannot compact while {held}")
            answer = client.call("vacuum", retain_s=policy.retain_s, max_bytes=policy.max_bytes)
        print(describe(answer["report"], f" (by PID {answer['pid']})"))
        return 0
    con = open_for_writing(path)
    remove_stale_socket(socket_path(path))  # left by a crashed holder; the file is ours now
    try:
        con.execute("SET TimeZone = 'UTC'")
        report = apply_retention(con, policy, path).as_dict()
    finally:
        con.close()
    print(describe(report, ""))
    if args.compact:
        before, after = compact(path)
        print(f"compacted {path}: {human_bytes(before)} → {human_bytes(after)}")
    return 0


def describe(report: dict[str, Any], by: str) -> str:
    """One line: what was deleted, the bytes used and on disk before and after."""
    return (
        f"vacuum{by}: deleted {plural(report['deleted_logs'], 'record')},"
        f" {plural(report['deleted_alerts'], 'alert')}, {plural(report['deleted_stats'], 'stats row')};"
        f" used {human_bytes(report['used_before'])}"
        f" → {human_bytes(report['used_after'])}; file {human_bytes(report['file_before'])}"
        f" → {human_bytes(report['file_after'])}"
        + (
            f"; live data {human_bytes(report['live_after'])}, the rest is reclaimed"
            " as whole row groups empty"
            if report["live_after"] < report["used_after"] * 0.9
            else ""
        )
        + (
            f"; kept {plural(report['kept_unshipped'], 'older record')} the lake does not have yet"
            if report.get("kept_unshipped")
            else ""
        )
        + ("" if report["checkpointed"] else " (checkpoint deferred: a transaction was running)")
    )
