"""`logscope status`: who holds the database, its sources' health, rules and firing alerts."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from typing import Any

from logscope.commands.common import add_db_option, examples, file_db_path
from logscope.errors import LogscopeError
from logscope.output import add_output_options, plural, render_time, write_rows

_HOLDER_PID = re.compile(r"\(PID (\d+)\)")
SOURCE_COLUMNS = (
    *("source", "records", "lines", "lines_per_s", "bytes"),
    *("parse_failures", "errors", "drops", "lag_s", "done"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show whether a process holds the database, its sources' health and firing alerts",
        description="Ask the process holding the database (through <db>.sock), or read the `stats`"
        " and `alerts` tables when none does. Every source the database holds records of is"
        " listed, with the figures of the last run that read it.",
        **examples(
            "logscope status",
            "logscope status --json | jq '.sources[] | {source, records, lag_s}'",
        ),
    )
    add_db_option(parser)
    # A report for people, or one JSON object; `--format json` is the old spelling.
    add_output_options(
        parser,
        formats=("json",),
        deprecated=("--format",),
        title="output format (default: a report)",
        default_name="text",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    path = file_db_path(args, "status")
    info = gather_status(path)
    if args.output == "json":
        sys.stdout.write(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_status(info)
    return 0


def gather_status(path: str) -> dict[str, Any]:
    """The status as a dict: live from the holder's query service, else from the file."""
    from logscope.store.client import connect_if_served, remove_stale_socket, socket_path
    from logscope.store.database import open_for_reading
    from logscope.store.stats import alert_summary, every_source, file_facts, latest_stats

    client = connect_if_served(path)
    if client is not None:
        with client:
            info = client.call("status")
        info.update(serving=True)
        return info
    if not os.path.exists(path):
        raise LogscopeError(f"{path}: no database here yet (run `logscope ingest` first)")
    try:
        con = open_for_reading(path)
    except LogscopeError as exc:
        match = _HOLDER_PID.search(str(exc))
        if not match:
            raise
        # Held by a process that serves no queries (an older logscope, or not logscope at all).
        return {"db": path, "held": True, "pid": int(match.group(1)), "serving": False}
    remove_stale_socket(socket_path(path))  # left by a crashed holder; the file is ours now
    try:
        return {
            "db": path,
            "held": False,
            "pid": None,
            "serving": False,
            "sources": every_source(con, latest_stats(con)),
            "alerts": alert_summary(con),
            **file_facts(con, path),
        }
    finally:
        con.close()


def human_bytes(count: int | None) -> str:
    value = float(count or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def print_status(info: dict[str, Any]) -> None:
    from logscope.store.client import socket_path

    out = sys.stdout
    out.write(f"database: {info['db']}")
    if "file_bytes" in info:
        out.write(f" ({human_bytes(info['file_bytes'])} on disk, {human_bytes(info['used_bytes'])} used)")
    out.write("\n")
    if not info.get("held"):
        out.write("held by:  no process (figures below are the last ones written)\n")
    elif info.get("serving"):
        started = render_time(dt.datetime.fromtimestamp(info["started_at"], dt.UTC))
        out.write(f"held by:  PID {info['pid']} since {started}, serving queries on {info['socket']}\n")
    else:
        out.write(f"held by:  PID {info['pid']} (it serves no queries on {socket_path(info['db'])})\n")
    if info.get("records") is not None:
        span = f" from {info['first_ts']} to {info['last_ts']}" if info.get("first_ts") else ""
        out.write(f"records:  {plural(info['records'], 'record')}{span}\n")
    sources = info.get("sources")
    if sources:
        out.write("sources:\n")
        write_rows(out, "table", SOURCE_COLUMNS, [_source_row(row) for row in sources])
    elif sources is not None:
        out.write("sources:  none\n")
    _print_rules_and_alerts(info)
    retention = info.get("retention") or {}
    policy = {name: value for name, value in (retention.get("policy") or {}).items() if value is not None}
    if policy:
        last = retention.get("last_pass") or {}
        deleted = f"; last pass deleted {plural(last.get('deleted_logs', 0), 'record')}" if last else ""
        out.write("retention: " + ", ".join(f"{k} {v:g}" for k, v in policy.items()) + deleted + "\n")


def _source_row(row: dict[str, Any]) -> list[Any]:
    """A source's figures for people: rates to one decimal, lag to the millisecond."""
    digits = {"lines_per_s": 1, "lag_s": 3}
    return [
        round(row[name], digits[name]) if name in digits and row.get(name) is not None else row.get(name)
        for name in SOURCE_COLUMNS
    ]


def _since(value: Any) -> Any:
    """An ISO time from the alerts summary, rendered like every other time."""
    try:
        return render_time(dt.datetime.fromisoformat(value)) if isinstance(value, str) else value
    except ValueError:
        return value


def _print_rules_and_alerts(info: dict[str, Any]) -> None:
    out = sys.stdout
    rules = info.get("rules")
    if rules:
        out.write("rules:    " + ", ".join(f"{name} {value}" for name, value in rules.items()) + "\n")
    alerts = info.get("alerts")
    if alerts is None:
        if "alerts" in info:
            out.write("alerts:   no alerts table\n")
        return
    states = alerts.get("by_state") or {}
    detail = ", ".join(f"{state} {count}" for state, count in sorted(states.items()))
    out.write(f"alerts:   {alerts['total']:,} in total" + (f" ({detail})" if detail else "") + "\n")
    firing = alerts.get("firing") or []
    if firing:
        columns = list(firing[0])
        rows = [[_since(alert.get(name)) for name in columns] for alert in firing]
        write_rows(out, "table", columns, rows)
