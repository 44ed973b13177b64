"""`logscope rules check|test|backtest`: validate rule files, unit-test them, replay logs through them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from logscope.alerting.actions import JsonLinesOutput
from logscope.alerting.check import check_ruleset
from logscope.alerting.engine import RuleEngine, format_field_types
from logscope.alerting.history import StoredValues
from logscope.alerting.lifecycle import NOTIFY_EVENTS, Change
from logscope.alerting.loader import RuleSet, builtin_rules_dir, load_paths
from logscope.alerting.replay import OrderedReplay, batches_in_time_order
from logscope.alerting.ruletest import load_test_file, rules_under_test, run_test
from logscope.commands.common import add_parse_options, build_formats, on_stop_signals, warn
from logscope.errors import LogscopeError
from logscope.metrics.logmetrics import checked_metrics
from logscope.output import FORMATS, default_format, write_rows
from logscope.pipeline import Pipeline
from logscope.sources.spec import expand_sources
from logscope.store.database import MEMORY, open_for_writing
from logscope.store.writer import LogWriter


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="check, unit-test and backtest alert rules",
        description="Work with alert rule files (docs/rules.md).",
    )
    actions = parser.add_subparsers(dest="rules_action", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check",
        help="validate rule files",
        description="Validate rule files:"
        " every error names the file, the rule and the field; exit status 2 if any.",
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
    )
    test.add_argument("files", nargs="+", metavar="FILE", help="rule test files (TOML)")
    test.set_defaults(handler=run_tests)

    backtest = actions.add_parser(
        "backtest",
        help="replay log files through rules and list the alerts that would have fired",
        description="Read log files (without storing them) through the rules, on the logs' own event"
        " time, and print every notification (firing, renotify, resolved) with its time.",
    )
    backtest.add_argument("rules", metavar="RULES", help="a rule file or a directory of them")
    backtest.add_argument("logs", nargs="+", metavar="LOGFILE", help="log files, directories, globs or -")
    add_parse_options(backtest)
    backtest.add_argument("--output", dest="output", choices=FORMATS, help="output format")
    backtest.set_defaults(handler=run_backtest)


def _format_types(args: argparse.Namespace) -> dict[str, str]:
    registry, _ = build_formats(args)
    return format_field_types(registry.ordered)


def load_checked(paths: list[str], *, builtin: bool, format_types: dict[str, str]) -> RuleSet:
    """Rules that passed `rules check`; LogscopeError (exit 2) listing the problems otherwise."""
    ruleset = load_paths(paths, builtin=builtin)
    problems, _ = check_ruleset(ruleset, format_types)
    if problems:
        listing = "\n  ".join(str(problem) for problem in problems)
        raise LogscopeError(
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in rule files:\n  {listing}", 2
        )
    return ruleset


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
    files = len(ruleset.files)
    plural = "s" if files != 1 else ""
    counted = f", {len(metrics.metrics)} metrics" if metrics.metrics else ""
    print(f"ok: {len(ruleset.rules)} rules, {len(ruleset.actions)} actions{counted} in {files} file{plural}")
    return 0


def run_tests(args: argparse.Namespace) -> int:
    registry, _ = build_formats(argparse.Namespace(tz="UTC", log_format=None))
    format_types = format_field_types(registry.ordered)
    failed = 0
    total = 0
    for path in args.files:
        test_file = load_test_file(path)
        problems, _ = check_ruleset(test_file.rules, format_types)
        if problems:
            listing = "\n  ".join(str(problem) for problem in problems)
            raise LogscopeError(f"{path}: the rule files have problems:\n  {listing}", 2)
        ruleset = rules_under_test(test_file.rules, test_file.only)
        for case in test_file.tests:
            total += 1
            result = run_test(case, ruleset, registry, format_types)
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
    expansion = expand_sources(args.logs)
    for error in expansion.errors:
        warn(f"error: {error}")
    if not expansion.sources:
        raise LogscopeError("nothing to read")
    con = open_for_writing(MEMORY)
    notifications: list[Change] = []
    try:
        engine = RuleEngine(
            ruleset, store=con, format_types=format_types, on_error=lambda m: warn(f"error: {m}")
        )
        engine.subscribe(lambda changes: notifications.extend(c for c in changes if c.event in NOTIFY_EVENTS))
        # Store everything first, then replay it in event-time order: files read side by side
        # interleave by chance, and a backtest must give the same alerts every time.
        pipeline = Pipeline(LogWriter(con), registry, forced, on_error=lambda m: warn(f"error: {m}"))
        for source in expansion.sources:
            pipeline.add_source(source)
        on_stop_signals(pipeline.request_stop)
        summary = pipeline.run()
        for records in batches_in_time_order(con, 0, engine.evaluator.compiled.record_columns):
            engine.on_records(records)
        engine.close()
    finally:
        con.close()
    fmt = args.output or default_format(sys.stdout.isatty())
    columns = ["at", "event", "rule", "severity", "group", "count", "summary"]
    rows = (_backtest_row(change) for change in notifications)
    write_rows(sys.stdout, fmt, columns, rows, set())
    fired = sum(1 for change in notifications if change.event == "firing")
    warn(
        f"backtest: {summary.lines:,} lines, {fired} alert{'s' if fired != 1 else ''} fired,"
        f" {len(notifications)} notifications"
    )
    return 1 if expansion.errors or summary.errors else 0


def _backtest_row(change: Change) -> tuple:
    payload = change.payload
    group = ",".join(f"{key}={value}" for key, value in payload["group"].items())
    return (
        payload["at"],
        change.event,
        payload["rule"],
        payload["severity"],
        group,
        payload["count"],
        payload["summary"],
    )


# --- the rule engine in `ingest` ---------------------------------------------------------------


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    """--rules, --no-default-rules, --alerts-out for verbs that run the rule engine."""
    group = parser.add_argument_group("alert rules (docs/rules.md)")
    group.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="PATH",
        help="a rule file or directory of them; repeat for more",
    )
    group.add_argument(
        "--no-default-rules",
        dest="default_rules",
        action="store_false",
        help="do not load the bundled web/system/app rule packs",
    )
    group.add_argument(
        "--alerts-out",
        metavar="FILE",
        help="also write alert notifications as JSON lines to FILE (- for stdout)",
    )


@contextmanager
def rules_running(
    args, con, registry, pipeline: Pipeline, report, *, live: bool, replay: bool = False
) -> Iterator[Callable[[], dict[str, Any]] | None]:
    """Run the rule engine on the pipeline's committed records for the duration of the block,
    which gets a function giving the rules loaded and disabled (None without rules).

    With `replay` (a one-shot import of whole files) the records are evaluated in event-time
    order, as by a backtest, and alerts delivered when the block ends: files are imported one
    after another, and each would otherwise reach the engine late against the ones before it
    (alerting/replay.py: while the import runs when blocks come in time order)."""
    format_types = format_field_types(registry.ordered)
    ruleset = load_checked(args.rules, builtin=args.default_rules, format_types=format_types)
    if not ruleset.rules:
        yield None
        return
    outputs, stream = [], None
    if args.alerts_out:
        try:
            stream = sys.stdout.buffer if args.alerts_out == "-" else open(args.alerts_out, "ab")  # noqa: SIM115
        except OSError as exc:
            raise LogscopeError(f"--alerts-out: {args.alerts_out}: {exc.strerror}", 2) from None
        outputs.append(JsonLinesOutput(stream, on_error=report))

    # new_value rules know the values stored before this run (its records start at first_id).
    first_id = pipeline.writer.next_id if pipeline.writer is not None else 0
    history = StoredValues(con, first_id, ruleset.rules, format_types)
    if replay:
        history.prefetch()  # at this thread's priority, not the held engine's

    def make_engine(held: bool = False) -> RuleEngine:
        return RuleEngine(
            ruleset,
            store=con,
            format_types=format_types,
            outputs=outputs,
            on_error=report,
            threaded=True,
            held=held,
            history=history,
            low_priority=held,  # the rules of a one-shot import use the CPU it leaves
        )

    replayer, engine = None, None
    if replay:
        replayer = OrderedReplay(make_engine, con, first_id, progress=pipeline.bulk_progress)
        pipeline.subscribe(replayer.on_records)
    else:
        engine = make_engine()
        engine.writer = pipeline.writer  # its Arrow table of each batch is reused
        pipeline.subscribe(engine.on_records)
        if live:
            engine.start_clock()

    def current() -> RuleEngine:
        return replayer.engine if replayer is not None else engine  # type: ignore[return-value]

    finished = False
    try:
        yield lambda: {"loaded": len(current().rules), "disabled": len(current().disabled)}
        if replayer is not None:
            last_id = pipeline.writer.next_id - 1 if pipeline.writer is not None else 0
            replayer.finish(last_id, evaluate=not pipeline.fatal)
        finished = True
    finally:
        if replayer is not None and not finished:
            replayer.abandon()  # nothing is delivered
        engine = current()
        engine.close()
        if stream is not None and stream is not sys.stdout.buffer:
            stream.close()
    if engine.notifications and not getattr(args, "quiet", False):
        warn(
            f"alerts: {engine.notifications} notification{'s' if engine.notifications != 1 else ''}"
            " (see `logscope query 'FROM alerts'`)"
        )
