"""The options of what runs beside a run that holds the database: query service, `stats`,
retention and `--metrics` (they run in pipeline/services.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from logscope.commands.common import option_value
from logscope.store.retention import DEFAULT_INTERVAL as RETENTION_INTERVAL
from logscope.store.retention import RetentionPolicy, parse_duration, parse_size
from logscope.store.stats import DEFAULT_INTERVAL

if TYPE_CHECKING:  # (the pipeline's modules: loaded by the run, after tail's first screen)
    from logscope.pipeline.services import ServiceSettings


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """`--retain`, `--max-db-size`, `--stats-interval`, `--metrics` (and a hidden retention
    interval for tests)."""
    parser.add_argument(
        "--retain", metavar="AGE", help="delete records older than AGE (event time), e.g. 7d, 12h"
    )
    parser.add_argument(
        "--max-db-size",
        metavar="SIZE",
        help="delete the oldest records while the database uses more than SIZE, e.g. 2GB, 500MiB",
    )
    parser.add_argument(
        "--stats-interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"write the `stats` table every SECONDS (default {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--retention-interval", type=float, default=RETENTION_INTERVAL, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--metrics",
        metavar="[HOST]:PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics: logscope's health and the"
        " [[metric]]s of the rule files (HOST defaults to 127.0.0.1; docs/metrics.md)",
    )


def retention_policy(args: argparse.Namespace) -> RetentionPolicy:
    return RetentionPolicy(
        retain_s=option_value(args, "retain", parse_duration),
        max_bytes=option_value(args, "max_db_size", parse_size),
    )


def service_settings(args: argparse.Namespace) -> ServiceSettings:
    """The services' settings from the options (verbs without some get the defaults)."""
    from logscope.pipeline.services import ServiceSettings

    return ServiceSettings(
        stats_interval=getattr(args, "stats_interval", DEFAULT_INTERVAL),
        retention=retention_policy(args),
        retention_interval=getattr(args, "retention_interval", RETENTION_INTERVAL),
        metrics=getattr(args, "metrics", None),
        quiet=getattr(args, "quiet", False),
    )
