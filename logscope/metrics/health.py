"""logscope's own health as Prometheus metrics: per-source counters, queue depth, alerts firing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# name, help, key in the per-source figures (pipeline/services.py source_figures)
SOURCE_COUNTERS = (
    ("logscope_source_lines", "Lines (or records) read from the source.", "lines"),
    ("logscope_source_bytes", "Bytes read from the source.", "bytes"),
    ("logscope_source_parse_failures", "Lines no format matched (stored as raw records).", "parse_failures"),
    ("logscope_source_errors", "Errors reported for the source.", "errors"),
    ("logscope_source_drops", "Messages the source dropped (datagrams arriving too fast).", "drops"),
)
Figures = Callable[[], dict[str, dict[str, Any]]]
Firing = Callable[[], list[tuple[str, str, int]]]
Extra = Callable[[], list[Metric]]


class HealthCollector(Collector):
    """Reads the running pipeline's figures at scrape time (nothing is counted twice)."""

    def __init__(
        self,
        figures: Figures,
        queue_depth: Callable[[], int],
        queue_capacity: int,
        committed: Callable[[], int],
        firing: Firing,
        extra: list[Extra] | None = None,
    ) -> None:
        self.figures = figures
        self.queue_depth = queue_depth
        self.queue_capacity = queue_capacity
        self.committed = committed
        self.firing = firing
        self.extra = extra or []

    def collect(self) -> Iterator[Metric]:
        sources = self.figures()
        for name, text, key in SOURCE_COUNTERS:
            family = CounterMetricFamily(name, text, labels=["source"])
            for source, figures in sources.items():
                family.add_metric([source], float(figures.get(key) or 0))
            yield family
        lag = GaugeMetricFamily(
            "logscope_source_lag_seconds",
            "Read-to-commit delay of the source's latest commit (longer while lines wait uncommitted).",
            labels=["source"],
        )
        for source, figures in sources.items():
            lag.add_metric([source], float(figures.get("lag") or 0.0))
        yield lag
        yield GaugeMetricFamily(
            "logscope_pipeline_queue_batches",
            "Batches waiting for the parse-and-write thread.",
            value=self.queue_depth(),
        )
        yield GaugeMetricFamily(
            "logscope_pipeline_queue_capacity_batches",
            "Batches the queue holds before sources have to wait.",
            value=self.queue_capacity,
        )
        yield CounterMetricFamily(
            "logscope_records_committed", "Records committed to the database.", value=self.committed()
        )
        alerts = GaugeMetricFamily(
            "logscope_alerts_firing", "Alerts firing now, per rule.", labels=["rule", "severity"]
        )
        for rule, severity, count in self.firing():
            alerts.add_metric([rule, severity or ""], count)
        yield alerts
        for extra in self.extra:
            yield from extra()

    def describe(self) -> list[Metric]:
        return []


def receiver_families(receivers: list[Any]) -> list[Metric]:
    """The OTLP receivers' answers by HTTP status and records accepted or rejected."""
    requests = CounterMetricFamily(
        "logscope_otlp_requests", "OTLP export requests answered, by HTTP status.", labels=["source", "code"]
    )
    records = CounterMetricFamily(
        "logscope_otlp_records", "OTLP log records accepted or rejected.", labels=["source", "outcome"]
    )
    for receiver in receivers:
        for code, count in sorted(receiver.request_figures().items()):
            requests.add_metric([receiver.name, str(code)], count)
        for outcome, count in receiver.record_figures().items():
            records.add_metric([receiver.name, outcome], count)
    return [requests, records] if receivers else []
