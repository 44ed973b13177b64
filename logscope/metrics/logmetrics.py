"""Metrics defined from logs: `[[metric]]` definitions evaluated on every committed batch.

Each definition becomes a rule-like set of SQL expressions (its `where`, its labels and its value)
that the alert rules' predicate evaluator computes in the rules' sandbox, all definitions in one
query per batch; a small aggregate per definition then adds the batch to running totals, which a
prometheus-client collector exposes at scrape time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from logscope.alerting.model import Rule
from logscope.alerting.predicates import BatchPredicates, PredicateEvaluator
from logscope.alerting.sandbox import RuleSqlError, one_line
from logscope.metrics.definitions import MetricDefinition, MetricSet, load_metric_paths
from logscope.record import Record

VALUE = "__value"
# Label combinations kept per metric; records with further ones are counted as skipped.
MAX_SERIES = 10_000
QUEUE_BATCHES = 64
ErrorCallback = Callable[[str], None]


def as_rule(metric: MetricDefinition) -> Rule:
    """The rule-shaped form the predicate evaluator computes: where, label and value columns."""
    extract = {label: expression for label, expression in metric.labels.items() if expression is not None}
    group_by = list(metric.labels)
    if metric.value is not None:
        extract[VALUE] = metric.value
        group_by.append(VALUE)
    return Rule(
        name=metric.name,
        kind="match",
        where=metric.where,
        extract=extract,
        group_by=group_by,
        field_types=dict(metric.fields),
        file=metric.file,
    )


def definition_problems(
    metrics: list[MetricDefinition], format_types: dict[str, str]
) -> list[tuple[MetricDefinition, str, str]]:
    """(metric, field, message) for every expression that does not bind in DuckDB."""
    problems = []
    for metric in metrics:
        rule = as_rule(metric)
        try:
            evaluator = PredicateEvaluator([rule], format_types)
            found = evaluator.bind_errors(rule)
        except RuleSqlError as exc:
            message = str(exc).split(": field ", 1)[-1]
            problems.append((metric, "where", message))
            continue
        for key, message in found:
            problems.append((metric, _definition_field(key), message))
    return problems


def checked_metrics(
    paths: list[str], builtin: bool, format_types: dict[str, str]
) -> tuple[MetricSet, list[str]]:
    """The `[[metric]]`s of the rule files, and one line per problem (file, metric, field)."""
    found = load_metric_paths(paths, builtin=builtin)
    problems = [str(problem) for problem in found.problems]
    for metric, key, message in definition_problems(found.metrics, format_types):
        problems.append(f"{metric.file}: metric {metric.name!r}: field {key!r}: {message}")
    return found, problems


def _definition_field(key: str) -> str:
    """The `[[metric]]` field an evaluator field name (`extract.__value`, `group_by.x`) came from."""
    name = key.split(".", 1)[-1]
    if name == VALUE:
        return "value"
    return "where" if key == "where" else f"labels.{name}"


@dataclass
class Series:
    """Running totals of one metric for one combination of label values."""

    value: float = 0.0  # counter total, gauge value
    count: int = 0  # histogram, summary
    total: float = 0.0
    buckets: list[int] = field(default_factory=list)  # histogram: cumulative counts per bound


class LogMetric:
    """One definition's series, and the SQL that adds a batch to them."""

    def __init__(self, metric: MetricDefinition, columns: list[str]) -> None:
        self.metric = metric
        self.series: dict[tuple[str, ...], Series] = {}
        self.skipped = 0  # matching records without a usable value, or beyond MAX_SERIES
        self.place(columns)

    def place(self, columns: list[str]) -> None:
        """Where the evaluator's query puts this definition's labels and value."""
        labels = len(self.metric.labels)
        self.label_columns = columns[:labels]
        self.value_column = columns[labels] if self.metric.value is not None else None

    def aggregate_sql(self, table: str, matched: str) -> str:
        """Per label set: the batch's count or sum (counter), last value (gauge), or count, sum,
        unusable values and bucket counts (histogram, summary)."""
        labels = [f"coalesce(CAST({column} AS VARCHAR), '')" for column in self.label_columns]
        # NaN is no observation (it would poison a sum); ±Inf is one (the +Inf bucket).
        value = (
            f"nullif(TRY_CAST({self.value_column} AS DOUBLE), 'NaN'::DOUBLE)" if self.value_column else "NULL"
        )
        figures = self._figures()
        keys = [f"l{number}" for number in range(len(labels))]
        select_labels = ", ".join(f"{expr} AS {key}" for expr, key in zip(labels, keys, strict=True))
        inner = (
            f"SELECT {select_labels + ', ' if labels else ''}id, {value} AS v FROM {table} WHERE {matched}"
        )
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        return f"SELECT {', '.join([*keys, *figures])} FROM ({inner}){group}"

    def _figures(self) -> list[str]:
        """`count(*)` (the records matched), then what the metric's type adds up."""
        kind = self.metric.type
        unusable = "count(*) FILTER (WHERE v IS NULL)"
        if kind == "counter" and self.value_column is None:
            return ["count(*)", "count(*)", "0"]
        if kind == "counter":
            return [
                "count(*)",
                "coalesce(sum(v) FILTER (WHERE v >= 0), 0)",
                f"{unusable} + count(*) FILTER (WHERE v < 0)",
            ]
        if kind == "gauge":
            return ["count(*)", "arg_max(v, id) FILTER (WHERE v IS NOT NULL)", unusable]
        figures = ["count(*)", "count(v)", "coalesce(sum(v), 0)", unusable]
        if kind == "histogram":
            figures += [f"count(*) FILTER (WHERE v <= {bound!r})" for bound in self.metric.buckets]
        return figures

    def add(self, rows: list[tuple]) -> None:
        labels = len(self.label_columns)
        kind = self.metric.type
        for row in rows:
            key, matched, figures = tuple(row[:labels]), int(row[labels]), row[labels + 1 :]
            series = self.series.get(key)
            if series is None and kind == "gauge" and figures[0] is None:
                self.skipped += matched  # no usable value yet: no series to show
                continue
            if series is None:
                if len(self.series) >= MAX_SERIES:
                    self.skipped += matched
                    continue
                series = self.series[key] = Series(buckets=[0] * len(self.metric.buckets))
            if kind in ("counter", "gauge"):
                if figures[0] is not None:
                    series.value = float(figures[0]) + (series.value if kind == "counter" else 0.0)
                self.skipped += int(figures[1] or 0)
                continue
            series.count += int(figures[0])
            series.total += float(figures[1])
            self.skipped += int(figures[2] or 0)
            for index, count in enumerate(figures[3:]):
                series.buckets[index] += int(count)

    def family(self) -> Metric:
        metric, labels = self.metric, list(self.metric.labels)
        text = metric.help or f"[[metric]] of {metric.file or 'a rule file'}"
        if metric.type == "counter":
            family: Metric = CounterMetricFamily(metric.name, text, labels=labels)
            for key, series in self.series.items():
                family.add_metric(list(key), series.value)
        elif metric.type == "gauge":
            family = GaugeMetricFamily(metric.name, text, labels=labels)
            for key, series in self.series.items():
                family.add_metric(list(key), series.value)
        elif metric.type == "summary":
            family = SummaryMetricFamily(metric.name, text, labels=labels)
            for key, series in self.series.items():
                family.add_metric(list(key), series.count, series.total)
        else:
            family = HistogramMetricFamily(metric.name, text, labels=labels)
            for key, series in self.series.items():
                bounds = [
                    (_bound(bound), count)
                    for bound, count in zip(metric.buckets, series.buckets, strict=True)
                ]
                family.add_metric(list(key), [*bounds, ("+Inf", series.count)], series.total)
        return family


def _bound(value: float) -> str:
    return repr(float(value))


class LogMetrics(Collector):
    """Evaluates the definitions on committed batches (in a thread of its own) and exposes them."""

    def __init__(
        self,
        metrics: list[MetricDefinition],
        format_types: dict[str, str] | None = None,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.on_error = on_error or (lambda message: None)
        self.evaluator = PredicateEvaluator([as_rule(metric) for metric in metrics], format_types)
        self.metrics = [
            LogMetric(metric, plan.columns)
            for metric, plan in zip(metrics, self.evaluator.compiled.plans, strict=True)
        ]
        self.disabled: dict[str, str] = {}
        self.batches = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Sequence[Record], pa.Table | None] | None] = queue.Queue(QUEUE_BATCHES)
        self._worker = threading.Thread(target=self._work, name="log-metrics", daemon=True)
        self._worker.start()

    def on_records(self, records: Sequence[Record], table: pa.Table | None = None) -> None:
        """A committed batch (the pipeline subscriber); waits while 64 batches are queued."""
        if records and self.metrics:
            self._queue.put((records, table))

    def close(self, timeout: float = 10.0) -> None:
        """Evaluate what is queued, then stop."""
        self._queue.put(None)
        self._worker.join(timeout)

    def evaluate(self, records: Sequence[Record], table: pa.Table | None = None) -> None:
        """Add one batch to the running totals."""
        if not self.metrics:
            return
        predicates = self._predicates(records, table)
        if predicates is None:
            return
        con = self.evaluator.con
        try:
            for index, metric in enumerate(self.metrics):
                if not predicates.matched[index] or metric.metric.name in self.disabled:
                    continue
                try:
                    rows = con.execute(metric.aggregate_sql(predicates.name, f"m{index}")).fetchall()
                except duckdb.Error as exc:
                    self._disable(metric, one_line(exc))
                    continue
                with self._lock:
                    metric.add(rows)
        finally:
            predicates.drop(con)
        self.batches += 1

    def _predicates(self, records: Sequence[Record], table: pa.Table | None) -> BatchPredicates | None:
        try:
            return self.evaluator.evaluate(records, table)
        except duckdb.Error as exc:
            failing = self.evaluator.failing_rules(records, table)
            for rule, message in failing:
                self._disable(next(m for m in self.metrics if m.metric.name == rule.name), message)
            if failing:
                self.evaluator.without([rule for rule, _ in failing])
                self.metrics = [m for m in self.metrics if m.metric.name not in self.disabled]
                self._renumber()
                return self._predicates(records, table) if self.metrics else None
            self.on_error(f"log metrics: {one_line(exc)}")
            return None

    def _renumber(self) -> None:
        """After definitions were dropped: each remaining one's columns in the new query."""
        plans = {plan.rule.name: plan for plan in self.evaluator.compiled.plans}
        for metric in self.metrics:
            metric.place(plans[metric.metric.name].columns)

    def _disable(self, metric: LogMetric, message: str) -> None:
        name = metric.metric.name
        if name not in self.disabled:
            self.disabled[name] = message
            self.on_error(f"metric {name!r} ({metric.metric.file}) failed and was disabled: {message}")

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self.evaluate(*item)
            except Exception as exc:  # never take the pipeline down
                self.on_error(f"log metrics: {type(exc).__name__}: {exc}")

    # --- prometheus-client ---------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            families = [metric.family() for metric in self.metrics]
            skipped = CounterMetricFamily(
                "logscope_log_metric_skipped_records",
                "Records a [[metric]] matched but could not use: no numeric value, or too many label sets.",
                labels=["metric"],
            )
            for metric in self.metrics:
                skipped.add_metric([metric.metric.name], metric.skipped)
        yield from families
        yield skipped

    def describe(self) -> list[Any]:
        return []
