"""What runs beside a pipeline that holds the database: query service, stats writer, retention,
and the `--metrics` endpoint."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import duckdb

from logscope.store.database import MEMORY
from logscope.store.markers import Marker, insert_markers
from logscope.store.retention import DEFAULT_INTERVAL as RETENTION_INTERVAL
from logscope.store.retention import RetentionPolicy, RetentionWorker
from logscope.store.server import QueryServer
from logscope.store.stats import (
    DEFAULT_INTERVAL,
    StatsWriter,
    alert_summary,
    every_source,
    file_facts,
    latest_stats,
)

if TYPE_CHECKING:  # (the pipeline and the metrics bring pyarrow: a browsing `tail` has neither)
    from logscope.pipeline.streaming import Pipeline

RulesInfo = Callable[[], dict[str, Any]]
Report = Callable[[str], None]


@dataclass
class ServiceSettings:
    """How the services of a run that holds the database behave."""

    stats_interval: float = DEFAULT_INTERVAL  # seconds between rows of the `stats` table
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    retention_interval: float = RETENTION_INTERVAL
    metrics: str | None = None  # `[HOST]:PORT` of the /metrics endpoint
    quiet: bool = False  # no "metrics on URL" line


def source_figures(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """The pipeline's per-source counters as plain dicts (the store does not know the pipeline)."""
    return {
        name: {
            "lines": stats.lines,
            "bytes": stats.bytes,
            "parse_failures": getattr(stats, "parse_failures", 0),
            "errors": stats.errors,
            "drops": stats.drops,
            "lag": _lag(stats),
            "done": stats.done,
        }
        for name, stats in list(pipeline.stats.items())
    }


def _lag(stats: Any) -> float:
    """The last commit's lag, or longer while lines wait uncommitted (a stalled writer shows)."""
    waiting = getattr(stats, "pending_since", 0)
    stalled = (time.time_ns() // 1000 - waiting) / 1e6 if waiting else 0.0
    return max(getattr(stats, "lag", 0.0), stalled)


@contextlib.contextmanager
def services_attached(
    con: duckdb.DuckDBPyConnection,
    db_path: str,
    pipeline: Pipeline,
    settings: ServiceSettings,
    report: Report,
    *,
    rules_info: RulesInfo | None = None,
    rule_paths: list[str] | None = None,
    builtin_rules: bool = True,
) -> Iterator[QueryServer | None]:
    """Serve queries on `<db>.sock`, write `stats`, apply retention, and serve `--metrics`, for the
    duration of the block.

    When the block ends, a last retention pass runs (so a finished `ingest --max-db-size` leaves
    the database within its limit) and the final figures are written."""
    figures = partial(source_figures, pipeline)
    metrics: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if settings.metrics:  # (prometheus_client is imported only for an endpoint: ~1.3 MB)
        from logscope.metrics.service import metrics_running

        metrics = metrics_running(
            settings.metrics,
            con,
            pipeline,
            lambda: source_figures(pipeline),
            report,
            rule_paths=rule_paths or [],
            builtin_rules=builtin_rules,
            quiet=settings.quiet,
        )
    with metrics, _serve_database(con, db_path, figures, settings, report, rules_info) as server:
        yield server


def database_served(
    con: duckdb.DuckDBPyConnection, db_path: str, settings: ServiceSettings, report: Report
) -> contextlib.AbstractContextManager[QueryServer | None]:
    """The query service, `stats` and retention for a process that holds the database and reads
    nothing into it (a `tail` browsing a database): other processes query and mark through it."""
    return _serve_database(con, db_path, dict, settings, report, rules_info=None)


@contextlib.contextmanager
def _serve_database(
    con: duckdb.DuckDBPyConnection,
    db_path: str,
    figures: Callable[[], dict[str, dict[str, Any]]],
    settings: ServiceSettings,
    report: Report,
    rules_info: RulesInfo | None,
) -> Iterator[QueryServer | None]:
    if db_path == MEMORY:
        yield None
        return
    stats = StatsWriter(con, figures, settings.stats_interval, on_error=report)
    policy = settings.retention
    retention = RetentionWorker(con, policy, db_path, settings.retention_interval, on_error=report)

    def status() -> dict[str, Any]:
        cursor = con.cursor()
        try:
            cursor.execute("SET SESSION TimeZone = 'UTC'")
            alerts = alert_summary(cursor)
            facts = file_facts(cursor, db_path)
            # This run's live figures, over the last ones written for sources read before.
            sources = every_source(cursor, [*latest_stats(cursor), *stats.sampler.current()])
        finally:
            cursor.close()
        info: dict[str, Any] = {
            **facts,
            "sources": sources,
            "alerts": alerts,
            "retention": {"policy": policy.__dict__, "last_pass": _report(retention)},
        }
        if rules_info is not None:
            info["rules"] = rules_info()
        return info

    def vacuum(cursor: duckdb.DuckDBPyConnection, request: dict[str, Any]) -> dict[str, Any]:
        asked = RetentionPolicy(request.get("retain_s"), request.get("max_bytes"))
        done = retention.run_once(asked if asked else policy)
        if done is None:
            return {"error": "retention pass failed; see the output of the process holding the database"}
        return {"report": done.as_dict(), "pid": os.getpid()}

    server = QueryServer(con, db_path, status=status, vacuum_handler=vacuum, handlers={"mark": store_marker})
    server.start()
    stats.start()
    if policy:
        retention.start()
    try:
        yield server
    finally:
        retention.stop()
        if policy:
            retention.run_once()
        stats.stop()
        server.stop()


def store_marker(cursor: duckdb.DuckDBPyConnection, request: dict[str, Any]) -> dict[str, Any]:
    """The query service's `mark` request: store a marker (`logscope mark` while we hold the database)."""
    try:
        marker = Marker.from_request(request)
    except (KeyError, TypeError, ValueError) as exc:
        return {"error": f"mark: bad request: {exc}"}
    return {"id": insert_markers(cursor, [marker])[0], "pid": os.getpid()}


def _report(retention: RetentionWorker) -> dict[str, Any] | None:
    return retention.last_report.as_dict() if retention.last_report else None
