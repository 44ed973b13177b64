"""`logscope compare`: what changed at a marker (or between two time ranges), per source: the
error rate with a judgement, patterns new after it, patterns whose rate moved, shifted fields."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any, TextIO

import orjson

from logscope.commands.common import add_db_option, examples, file_db_path, option_value, reading
from logscope.errors import LogscopeError
from logscope.output import add_output_options, chosen_format, render_time, write_rows, write_table

FINDING_COLUMNS = ("source", "finding", "subject", "before", "after", "change", "judgement")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare the records before and after a marker: error rate, new patterns, shifted fields",
        description="Compare the records before and after a change marker (`logscope mark`,"
        " `logscope markers`), or two time ranges, per source: the error rate before and after and"
        " whether it changed beyond chance, the patterns new after it, the patterns whose share"
        " changed most, and the fields whose values shifted most among error records"
        " (docs/compare.md).",
        **examples(
            "logscope compare --marker 'deploy api v2.3'",
            "logscope compare --marker 3 --window 1h --json",
            "logscope compare --before 2026-11-20T13:00Z..2026-11-20T14:00Z"
            " --after 2026-11-20T14:00Z..2026-11-20T15:00Z --source api",
        ),
    )
    parser.add_argument(
        "--marker", metavar="M", help="a marker's id, or its text (the latest marker whose text contains it)"
    )
    parser.add_argument(
        "--window",
        metavar="SPAN",
        help="with --marker: compare this long before and after it (e.g. 1h; default: all records)",
    )
    parser.add_argument("--before", metavar="A..B", help="the time range before: two times joined by ..")
    parser.add_argument("--after", metavar="C..D", help="the time range after (C..D, D may be left out)")
    parser.add_argument(
        "--source",
        metavar="GLOB",
        help="only sources matching this (default: the marker's source, else every source)",
    )
    parser.add_argument("--top", type=int, default=5, metavar="N", help="at most N rows per list (5)")
    add_output_options(parser)
    add_db_option(parser)
    parser.set_defaults(handler=run)


def parse_range(text: str, option: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`A..B` as two instants; either may be left out (open-ended)."""
    from logscope.store.export import parse_time_bound

    start, dots, end = text.partition("..")
    if not dots:
        raise LogscopeError(
            f"{option} {text!r}: expected START..END, e.g. 2026-11-20T13:00Z..2026-11-20T14:00Z", 2
        )
    try:
        return (
            parse_time_bound(start) if start.strip() else None,
            parse_time_bound(end) if end.strip() else None,
        )
    except LogscopeError as exc:
        raise LogscopeError(f"{option}: {exc}", exc.exit_code) from None


def run(args: argparse.Namespace) -> int:
    from logscope.store.compare import compare

    path = file_db_path(args, "compare")
    if bool(args.marker) == bool(args.before or args.after):
        raise LogscopeError("compare: give --marker M, or --before A..B and --after C..D", 2)
    with reading(path) as fetch:
        windows, marker = _windows(args, fetch)
        comparisons = compare(fetch, windows, max(1, args.top))
    fmt = chosen_format(args)
    if fmt == "table":
        _write_report(sys.stdout, windows, marker, comparisons)
    elif fmt in ("json", "jsonl"):
        objects = [as_json(c, windows, marker) for c in comparisons]
        if fmt == "json":  # as every verb's --json: one object a line in an array
            sys.stdout.write(
                "[" + ",".join(f"\n {_json(o)}" for o in objects) + ("\n]\n" if objects else "]\n")
            )
        else:
            sys.stdout.writelines(_json(o) + "\n" for o in objects)
    else:
        write_rows(sys.stdout, fmt, FINDING_COLUMNS, findings(comparisons))
    return 0


def _json(value: Any) -> str:
    """JSON with times as everywhere in logscope's output (RFC 3339, UTC, milliseconds)."""

    def times(v: Any) -> str:
        if isinstance(v, dt.datetime):
            return render_time(v)
        raise TypeError(type(v).__name__)

    return orjson.dumps(value, default=times, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


def _windows(args: argparse.Namespace, fetch) -> tuple[Any, dict | None]:
    from logscope.store.compare import Windows
    from logscope.store.markers import COLUMNS, HAS_MARKERS_SQL, marker_sql
    from logscope.store.retention import parse_duration

    if args.marker:
        rows = fetch(marker_sql(args.marker)) if fetch(HAS_MARKERS_SQL)[0][0] else []
        if not rows:
            raise LogscopeError(f"compare: no marker {args.marker!r} (`logscope markers` lists them)", 2)
        marker = dict(zip(COLUMNS, rows[0], strict=True))
        at = marker["ts"]
        seconds = option_value(args, "window", parse_duration)
        span = dt.timedelta(seconds=seconds) if seconds else None
        source = args.source or marker["source"]
        return Windows(at - span if span else None, at, at, at + span if span else None, source), marker
    if not (args.before and args.after):
        raise LogscopeError("compare: --before and --after go together", 2)
    before = parse_range(args.before, "--before")
    after = parse_range(args.after, "--after")
    if before[1] is None or after[0] is None:
        raise LogscopeError("compare: --before needs its end and --after its start", 2)
    return Windows(before[0], before[1], after[0], after[1], args.source), None


def _rate(errors: int, records: int) -> str:
    return f"{errors / records:.1%} ({errors:,} of {records:,})" if records else "no records"


def _ratio(ratio: float | None) -> str:
    return f"×{ratio:.2f}" if ratio is not None else "new" if ratio is None else ""


def _judgement(c) -> str:
    p = c.judgement.p_value
    return c.judgement.verdict + (f" (p = {p:.2g})" if p is not None else "")


def _range(start: dt.datetime | None, end: dt.datetime | None) -> str:
    return f"{render_time(start) if start else '…'} – {render_time(end) if end else '…'}"


def _write_report(out: TextIO, windows, marker: dict | None, comparisons: list) -> None:
    if marker is not None:
        out.write(f"marker {marker['id']}: {marker['text']} at {render_time(marker['ts'])}\n")
    out.write(
        f"before: {_range(windows.before_start, windows.before_end)}"
        f"   after: {_range(windows.after_start, windows.after_end)}\n"
    )
    if not comparisons:
        out.write("no records on either side\n")
    for c in comparisons:
        out.write(f"\n{c.source}\n")
        ratio = f"  {_ratio(c.judgement.ratio)}" if c.before.errors else ""
        before, after = _rate(c.before.errors, c.before.records), _rate(c.after.errors, c.after.records)
        out.write(f"  error rate: {before} → {after}{ratio}  {_judgement(c)}\n")
        if c.new_patterns:
            out.write("  new patterns after it:\n")
            rows = [
                (p.id, p.after, render_time(p.first_after) if p.first_after else "", p.template)
                for p in c.new_patterns
            ]
            write_table(out, ("id", "count", "first", "template"), rows)
        if c.changed_patterns:
            out.write("  patterns whose share changed most:\n")
            rows = [
                (p.id, f"{p.before_rate:.1%}", f"{p.after_rate:.1%}", p.template) for p in c.changed_patterns
            ]
            write_table(out, ("id", "before", "after", "template"), rows)
        if c.shifted_fields:
            out.write("  fields that shifted most among errors:\n")
            rows = [
                (f.field, f"{f.shift:.2f}", f.value, f"{f.before_share:.0%}", f"{f.after_share:.0%}")
                for f in c.shifted_fields
            ]
            write_table(out, ("field", "shift", "value", "before", "after"), rows)


def as_json(c, windows, marker: dict | None) -> dict[str, Any]:
    """One source's comparison as plain values."""

    def side(s, start, end) -> dict[str, Any]:
        return {
            "start": start,
            "end": end,
            "records": s.records,
            "errors": s.errors,
            "error_rate": s.error_rate,
        }

    return {
        "source": c.source,
        "marker": {k: marker[k] for k in ("id", "ts", "text", "source")} if marker else None,
        "before": side(c.before, windows.before_start, windows.before_end),
        "after": side(c.after, windows.after_start, windows.after_end),
        "error_rate_ratio": c.judgement.ratio,
        "p_value": c.judgement.p_value,
        "judgement": c.judgement.verdict,
        "new_patterns": [
            {
                "id": p.id,
                "template": p.template,
                "count": p.after,
                "first_seen": p.first_after,
                "example": p.example,
            }
            for p in c.new_patterns
        ],
        "changed_patterns": [
            {
                "id": p.id,
                "template": p.template,
                "before": p.before,
                "after": p.after,
                "before_share": p.before_rate,
                "after_share": p.after_rate,
            }
            for p in c.changed_patterns
        ],
        "shifted_fields": [f.__dict__ for f in c.shifted_fields],
    }


def findings(comparisons: list) -> list[tuple]:
    """Every comparison as rows of one table (for CSV, TSV and Markdown)."""
    rows = []
    for c in comparisons:
        rows.append(
            (
                c.source,
                "error_rate",
                "errors / records",
                c.before.error_rate,
                c.after.error_rate,
                c.judgement.ratio,
                _judgement(c),
            )
        )
        rows += [(c.source, "new_pattern", p.template, 0, p.after, None, "") for p in c.new_patterns]
        rows += [
            (
                c.source,
                "changed_pattern",
                p.template,
                p.before_rate,
                p.after_rate,
                p.after_rate - p.before_rate,
                "",
            )
            for p in c.changed_patterns
        ]
        rows += [
            (c.source, "shifted_field", f"{f.field}={f.value}", f.before_share, f.after_share, f.shift, "")
            for f in c.shifted_fields
        ]
    return rows
