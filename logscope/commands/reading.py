"""Options of the verbs that read sources into the database (`ingest`, `tail`) and what a run of
theirs is given: where following starts, the checkpoints, the rules, the services."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

import duckdb

from logscope.commands.common import db_path
from logscope.commands.services import service_settings
from logscope.sources.spec import FollowOptions
from logscope.store.checkpoints import load_checkpoints

if TYPE_CHECKING:  # (the pipeline's modules: loaded by the run, after tail's first screen)
    from logscope.pipeline.run import RunSettings


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


def add_start_options(parser: argparse.ArgumentParser, from_start_default: bool) -> None:
    """--from-start/--from-end: where following starts a file it has never seen (docs/tailing.md)."""
    group = parser.add_mutually_exclusive_group()
    default = " (the default)"
    group.add_argument(
        "--from-start",
        dest="from_start",
        action="store_true",
        default=from_start_default,
        help=f"read files never seen before from their beginning{default if from_start_default else ''}",
    )
    group.add_argument(
        "--from-end",
        dest="from_start",
        action="store_false",
        help=f"start files never seen before at their end{'' if from_start_default else default}",
    )


def follow_options(args: argparse.Namespace, con: duckdb.DuckDBPyConnection) -> FollowOptions:
    """Follow-mode options from the arguments, with the checkpoints stored in the database."""
    return FollowOptions(
        from_start=args.from_start,
        checkpoints=load_checkpoints(con),
        ignore_prefixes=database_files(db_path(args)),
    )


def database_files(path: str) -> tuple[str, ...]:
    """The prefix of the database's own files (`<db>`, `<db>.wal`, `<db>.sock`), never read."""
    return () if path == ":memory:" else (os.path.abspath(path),)


def run_settings(args: argparse.Namespace, *, live_clock: bool, patterns: bool = True) -> RunSettings:
    """What a reading run attaches, from its options (docs/architecture.md, "The run")."""
    from logscope.pipeline.rules import RuleSettings
    from logscope.pipeline.run import RunSettings

    rules = RuleSettings(
        paths=args.rules, builtin=args.default_rules, alerts_out=args.alerts_out, live_clock=live_clock
    )
    return RunSettings(db_path(args), rules=rules, services=service_settings(args), patterns=patterns)
