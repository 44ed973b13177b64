"""`logscope rules check|test|backtest`: validate rule files, unit-test them, replay logs through them."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from logscope.alerting.check import check_ruleset
from logscope.alerting.engine import format_field_types
from logscope.alerting.lifecycle import NOTIFY_EVENTS, Change
from logscope.alerting.loader import RuleSet, builtin_rules_dir, load_paths
from logscope.alerting.ruletest import load_test_file, rules_under_test, run_test
from logscope.commands.common import add_parse_options, build_formats, examples, on_stop_signals, warn
from logscope.commands.completion import rule_names
from logscope.commands.lake import add_lake_option
from logscope.commands.reading import add_rule_options as add_rule_options  # (ingest's, tail's)
from logscope.errors import LogscopeError
from logscope.metrics.logmetrics import checked_metrics
from logscope.output import add_output_options, chosen_format, plural, write_rows
from logscope.pipeline.rules import RuleSettings, load_checked
from logscope.pipeline.run import IngestRun, RunSettings, store_timed_lines
from logscope.sources.spec import expand_sources
from logscope.store.database import MEMORY, open_for_writing


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="check, unit-test and backtest alert rules",
        description="Work with alert rule files (docs/rules.md).",
        **examples(
            "logscope rules check rules/",
            "logscope rules test rules/tests/*.toml",
            "logscope rules backtest rules/ sample_logs/",
        ),
    )
    actions = parser.add_subparsers(dest="rules_action", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check",
        help="validate rule files",
        description="Validate rule files:"
        " every error names the file, the rule and the field; exit status 2 if any.",
        **examples("logscope rules check", "logscope rules check my-rules/"),
    )
    check.add_argument(
        "paths", nargs="*", metavar="PATH", help="rule files or directories (default: the bundled packs)"
    )
    add_parse_options(check)
    check.set_defaults(handler=run_check)

    test = actions.add_parser(
        "test",
        help="run rule unit tests",
        description="Run rule test files: input lines at event times, and the alerts expected from them.",
        **examples("logscope rules test rules/tests/*.toml", "logscope rules test rules/tests/web_test.toml"),
    )
    test.add_argument("files", nargs="+", metavar="FILE", help="rule test files (TOML)")
    test.set_defaults(handler=run_tests)

    backtest = actions.add_parser(
        "backtest",
        help="replay log files through rules and list the alerts that would have fired",
        description="Read log files (without storing them) through the rules, on the logs' own event"
        " time, and print every notification (firing, renotify, resolved) with its time.",
        **examples(
            "logscope rules backtest rules/ sample_logs/",
            "logscope rules backtest --rule web_5xx_burst rules/web.toml access.log.1 --nl",
        ),
    )
    backtest.add_argument("rules", metavar="RULES", help="a rule file or a directory of them")
    backtest.add_argument("logs", nargs="*", metavar="LOGFILE", help="log files, directories, globs or -")
    add_lake_option(backtest, "replay this lake's records (every agent's) instead of LOGFILEs")
    backtest.add_argument("--at", metavar="SNAPSHOT|TIME", help="with --lake: the lake as it was then")
    add_parse_options(backtest)
    backtest.add_argument(
        "--alerts",
        action="store_true",
        help="print the alerts as `ingest` would store them in the alerts table (one row each, in"
        " its state at the end) instead of the notifications",
    )
    backtest.add_argument(
        "--rule",
        dest="only_rules",
        action="append",
        metavar="NAME",
        help="replay only this rule of RULES (repeatable)",
    ).completer = rule_names  # type: ignore[attr-defined]
    add_output_options(backtest)
    backtest.set_defaults(handler=run_backtest)


def _format_types(args: argparse.Namespace) -> dict[str, str]:
    registry, _ = build_formats(args)
    return format_field_types(registry.ordered)


def run_check(args: argparse.Namespace) -> int:
    paths = args.paths or [str(builtin_rules_dir())]
    ruleset = load_paths(paths)
    format_types = _format_types(args)
    problems, warnings = check_ruleset(ruleset, format_types)
    metrics, metric_problems = checked_metrics(paths, False, format_types)  # [[metric]] (docs/metrics.md)
    problems = [*problems, *metric_problems]
    for warning in warnings:
        warn(f"warning: {warning}")
    for problem in problems:
        print(f"logscope: error: {problem}", file=sys.stderr)
    if problems:
        return 2
    counted = f", {plural(len(metrics.metrics), 'metric')}" if metrics.metrics else ""
    rules, actions = plural(len(ruleset.rules), "rule"), plural(len(ruleset.actions), "action")
    print(f"ok: {rules}, {actions}{counted} in {plural(len(ruleset.files), 'file')}")
    return 0


def run_tests(args: argparse.Namespace) -> int:
    registry, _ = build_formats(argparse.Namespace(tz="UTC", log_format=None))
    format_types = format_field_types(registry.ordered)
    failed = 0
    total = 0

    def stored(con, lines, log_format):
        return store_timed_lines(con, registry, lines, log_format)

    for path in args.files:
        test_file = load_test_file(path)
        problems, _ = check_ruleset(test_file.rules, format_types)
        if problems:
            listing = "\n  ".join(str(problem) for problem in problems)
            raise LogscopeError(f"{path}: the rule files have problems:\n  {listing}", 2)
        ruleset = rules_under_test(test_file.rules, test_file.only)
        for case in test_file.tests:
            total += 1
            result = run_test(case, ruleset, format_types, stored)
            if result.passed:
                print(f"PASS {path}: {case.name}")
                continue
            failed += 1
            print(f"FAIL {path}: {case.name}")
            print("\n".join(result.diff()))
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_backtest(args: argparse.Namespace) -> int:
    registry, forced = build_formats(args)
    format_types = format_field_types(registry.ordered)
    ruleset = load_checked([args.rules], builtin=False, format_types=format_types)
    ruleset.actions = {}  # a backtest notifies nobody
    if args.only_rules:
        ruleset.rules = _only(ruleset, args.only_rules)
    expansion = _backtest_sources(args)
    for error in expansion.errors:
        warn(f"error: {error}")
    for skipped in expansion.skipped:
        warn(f"warning: {skipped}")
    if not expansion.sources:
        raise LogscopeError("nothing to read")
    con = open_for_writing(MEMORY)
    notifications: list[Change] = []
    try:
        # The records go the way `ingest` takes them (stored, then evaluated in event-time
        # order): the same records give the same alerts.
        rules = RuleSettings(
            ruleset=ruleset,
            in_order=True,
            on_changes=lambda changes: notifications.extend(c for c in changes if c.event in NOTIFY_EVENTS),
        )
        settings = RunSettings(
            MEMORY, rules=rules, services=None, patterns=False, failure="reading the logs failed"
        )
        run = IngestRun(con, registry, forced, settings, lambda m: warn(f"error: {m}"))
        run.add_sources(expansion.sources)
        on_stop_signals(run.pipeline.request_stop)
        summary = run.run()
        table = con.sql(ALERTS_TABLE_SQL) if args.alerts else None
        alerts = (table.columns, table.fetchall()) if table is not None else None
    finally:
        con.close()
    fmt = chosen_format(args)
    if alerts is not None:
        write_rows(sys.stdout, fmt, alerts[0], alerts[1], set())
    else:
        columns = ["at", "event", "rule", "severity", "group", "count", "summary"]
        write_rows(sys.stdout, fmt, columns, (_backtest_row(change) for change in notifications), set())
    fired = sum(1 for change in notifications if change.event == "firing")
    warn(
        f"backtest: {plural(summary.lines, 'line')}, {plural(fired, 'alert')} fired,"
        f" {plural(len(notifications), 'notification')}"
    )
    return 1 if expansion.errors or summary.errors else 0


def _backtest_sources(args: argparse.Namespace):
    """The LOGFILEs, or with --lake the lake's records (logscope/lake/reader.py)."""
    if bool(args.logs) == bool(args.lake):
        raise LogscopeError("rules backtest: give LOGFILEs or --lake LAKE (one of them)", 2)
    if not args.lake:
        return expand_sources(args.logs)
    from logscope.lake.config import resolve_lake
    from logscope.lake.reader import LakeRecords
    from logscope.sources.spec import Expansion

    return Expansion(sources=[LakeRecords(resolve_lake(args.lake), args.at)])


# The alerts table as `rules backtest --alerts` prints it (tests compare it with ingest's).
ALERTS_TABLE_SQL = """
SELECT id, rule, severity, state, group_key AS "group", first_at, fired_at, last_at, resolved_at,
       count, value, summary, notifications, example_ids
FROM alerts ORDER BY id
"""


def _only(ruleset: RuleSet, names: list[str]) -> list:
    """The rules named, or a usage error naming the unknown ones."""
    known = {rule.name for rule in ruleset.rules}
    unknown = [name for name in names if name not in known]
    if unknown:
        listing = ", ".join(sorted(known))
        raise LogscopeError(f"--rule: no rule {', '.join(map(repr, unknown))} (known: {listing})", 2)
    return [rule for rule in ruleset.rules if rule.name in names]


def _backtest_row(change: Change) -> tuple:
    payload = change.payload
    group = ",".join(f"{key}={value}" for key, value in payload["group"].items())
    return (
        datetime.fromisoformat(payload["at"]) if isinstance(payload["at"], str) else payload["at"],
        change.event,
        payload["rule"],
        payload["severity"],
        group,
        payload["count"],
        payload["summary"],
    )


# --- the rule engine in `ingest` ---------------------------------------------------------------


def report_alerts(run: IngestRun, *, quiet: bool) -> None:
    """The run's alerts line: `alerts: 4 alerts (3 firing, 1 resolved), 5 notifications`."""
    if run.rules is not None and run.rules.tally.notifications and not quiet:
        warn(f"alerts: {run.rules.tally.describe()} (see `logscope query 'FROM alerts'`)")
