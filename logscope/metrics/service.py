"""`--metrics [HOST]:PORT`: serve /metrics in the Prometheus text format while a pipeline runs."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import duckdb
from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, start_wsgi_server

from logscope.alerting.engine import format_field_types
from logscope.errors import LogscopeError
from logscope.metrics.health import HealthCollector, receiver_families
from logscope.metrics.logmetrics import LogMetrics, checked_metrics

DEFAULT_HOST = "127.0.0.1"
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Observed(Protocol):
    """What the endpoint reads of a running pipeline (logscope/pipeline/streaming.py)."""

    registry: Any
    writer: Any
    summary: Any
    commit_observers: list[Callable[[float], None]]
    queue_capacity: int

    @property
    def sources(self) -> list[Any]: ...

    def queued_batches(self) -> int: ...

    def subscribe(self, callback: Callable[[Any], None]) -> None: ...


@dataclass
class MetricsServer:
    """The running /metrics endpoint."""

    url: str
    registry: CollectorRegistry
    log_metrics: LogMetrics | None


def parse_address(text: str) -> tuple[str, int]:
    """`127.0.0.1:9464`, `:9464`, `[::1]:9464`, `0.0.0.0:9464` → (host, port); loopback by default."""
    try:
        parts = urlsplit(f"//{text.strip()}")
        port = parts.port
    except ValueError as exc:
        raise LogscopeError(f"--metrics {text}: {exc}", 2) from None
    if port is None:
        raise LogscopeError(f"--metrics {text}: a port is needed, e.g. 127.0.0.1:9464", 2)
    return parts.hostname or DEFAULT_HOST, port


@contextlib.contextmanager
def metrics_running(
    address: str | None,
    con: duckdb.DuckDBPyConnection,
    pipeline: Observed,
    figures: Callable[[], dict[str, dict[str, Any]]],
    on_error: Callable[[str], None],
    *,
    rule_paths: list[str],
    builtin_rules: bool = True,
    quiet: bool = False,
) -> Iterator[MetricsServer | None]:
    """Serve /metrics on `address` (`[HOST]:PORT`) for the duration of the block (nothing without
    one); the rule files' `[[metric]]`s (from `rule_paths`, and the bundled packs with
    `builtin_rules`) are counted on the records committed."""
    if not address:
        yield None
        return
    host, port = parse_address(address)
    log_metrics = _log_metrics(rule_paths, builtin_rules, pipeline, on_error)
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    commit = Histogram(
        "logscope_commit_duration_seconds",
        "Time one commit of streamed records to the database took.",
        buckets=COMMIT_BUCKETS,
        registry=registry,
    )
    pipeline.commit_observers.append(commit.observe)
    # Sources with figures of their own (the OTLP receivers) offer them as `request_figures()`.
    receivers = [source for source in pipeline.sources if hasattr(source, "request_figures")]
    extra = [lambda: receiver_families(receivers)]
    registry.register(
        HealthCollector(
            figures,
            pipeline.queued_batches,
            pipeline.queue_capacity,
            lambda: pipeline.summary.lines,
            lambda: firing_alerts(con),
            extra,
        )
    )
    if log_metrics is not None:
        registry.register(log_metrics)
        writer = pipeline.writer

        def on_records(records) -> None:
            table = getattr(records, "table", None)
            if table is None and writer is not None:
                table = _table_of(writer.last_table, records)
            log_metrics.on_records(records, table)

        pipeline.subscribe(on_records)
    try:
        server, thread = start_wsgi_server(port, host, registry)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LogscopeError(f"--metrics {address}: cannot listen: {reason}") from None
    bound_port = server.server_address[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}/metrics"
    if not quiet:
        print(f"logscope: metrics on {url}", file=sys.stderr, flush=True)
    try:
        yield MetricsServer(url, registry, log_metrics)
    finally:
        if log_metrics is not None:
            log_metrics.close()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _log_metrics(paths: list[str], builtin: bool, pipeline: Observed, on_error) -> LogMetrics | None:
    """The rule files' `[[metric]]`s, checked (a problem stops the run with exit status 2)."""
    format_types = format_field_types(pipeline.registry.ordered)
    found, problems = checked_metrics(list(paths), builtin, format_types)
    if problems:
        listing = "\n  ".join(problems)
        plural = "s" if len(problems) > 1 else ""
        raise LogscopeError(f"{len(problems)} problem{plural} in [[metric]] definitions:\n  {listing}", 2)
    if not found.metrics:
        return None
    return LogMetrics(found.metrics, format_types, on_error)


def _table_of(table, records):
    """The writer's Arrow table when it holds exactly these records (it is reused as is)."""
    if table is None or table.num_rows != len(records) or not records:
        return None
    ids = table["id"]
    return table if ids[0].as_py() == records[0].id and ids[-1].as_py() == records[-1].id else None


def firing_alerts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(rule, severity, alerts firing now) for every rule with an alert in the `alerts` table."""
    cursor = con.cursor()
    try:
        return cursor.execute(
            "SELECT rule, any_value(severity), count(*) FILTER (WHERE state = 'firing')"
            " FROM alerts GROUP BY rule ORDER BY rule"
        ).fetchall()
    except duckdb.Error:
        return []
    finally:
        cursor.close()
