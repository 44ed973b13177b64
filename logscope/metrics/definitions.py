"""`[[metric]]` tables in rule files: Prometheus metrics defined from log records (like mtail).

```toml
[[metric]]
name = "nginx_requests_total"
type = "counter"                       # counter (default), gauge, histogram, summary
help = "Requests in the nginx access log."
where = "format = 'nginx_access'"
labels = ["status", "method"]          # or a table: { status = "CAST(status AS VARCHAR)" }
value = "request_time"                 # histogram, summary, gauge; a counter adds it up
buckets = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]
fields = { request_time = "DOUBLE" }
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from logscope.alerting.loader import DUCKDB_TYPES, RuleProblem, builtin_rules_dir, read_toml, rule_files

TYPES = ("counter", "gauge", "histogram", "summary")
KEYS = {"name", "type", "help", "where", "labels", "value", "buckets", "fields"}
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Prometheus' default buckets (seconds), as its client libraries use.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# Names logscope's own metrics use.
RESERVED_PREFIXES = ("logscope_", "process_", "python_")


@dataclass
class MetricDefinition:
    """One `[[metric]]`: which records count, by which labels, and what value they carry."""

    name: str
    type: str = "counter"
    help: str = ""
    where: str = "true"
    labels: dict[str, str | None] = field(default_factory=dict)  # label -> SQL expression, or None
    value: str | None = None  # SQL expression
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    fields: dict[str, str] = field(default_factory=dict)  # field name -> DuckDB type
    file: str = ""


@dataclass
class MetricSet:
    """Metric definitions read from rule files, and what was wrong with them."""

    metrics: list[MetricDefinition] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)


def load_metric_paths(paths: list[str], *, builtin: bool = False) -> MetricSet:
    """Every `[[metric]]` of the rule files named (and of the bundled packs when `builtin`)."""
    result = MetricSet()
    seen: dict[str, str] = {}
    sources = ([str(builtin_rules_dir())] if builtin else []) + list(paths)
    for path in sources:
        for file in rule_files(path):
            try:
                document = read_toml(file)
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue  # the rule loader reports unreadable files
            for metric in read_metrics(document, file, result.problems):
                if metric.name in seen:
                    message = f"defined twice (also in {seen[metric.name]})"
                    result.problems.append(RuleProblem(file, None, f"metric {metric.name}", message))
                    continue
                seen[metric.name] = file
                result.metrics.append(metric)
    return result


def read_metrics(document: dict[str, Any], path: str, problems: list[RuleProblem]) -> list[MetricDefinition]:
    tables = document.get("metric", [])
    if not isinstance(tables, list):
        problems.append(RuleProblem(path, None, "metric", "must be an array of tables: [[metric]]"))
        return []
    found = []
    for index, table in enumerate(tables):
        metric = _read_metric(path, index, table, problems)
        if metric is not None:
            found.append(metric)
    return found


def _read_metric(path: str, index: int, table: Any, problems: list[RuleProblem]) -> MetricDefinition | None:
    where = f"metric #{index + 1}"
    if not isinstance(table, dict):
        problems.append(RuleProblem(path, None, where, "must be a table"))
        return None
    before = len(problems)

    def fail(key: str, message: str) -> None:
        problems.append(RuleProblem(path, None, f"{where}.{key}", message))

    name = table.get("name")
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        fail("name", "required: a Prometheus metric name like nginx_requests_total")
        return None
    where = f"metric {name}"
    if name.startswith(RESERVED_PREFIXES):
        fail("name", f"names starting with {', '.join(RESERVED_PREFIXES)} are logscope's own")
    for key in table:
        if key not in KEYS:
            fail(key, f"unknown field (known: {', '.join(sorted(KEYS))})")
    metric = MetricDefinition(name=name, file=path)
    metric.type = _text(table, "type", "counter", fail)
    if metric.type not in TYPES:
        fail("type", f"one of: {', '.join(TYPES)}")
    metric.help = _text(table, "help", "", fail)
    metric.where = _text(table, "where", "true", fail)
    metric.labels = _labels(table.get("labels", []), fail)
    value = table.get("value")
    if value is not None and not (isinstance(value, str) and value.strip()):
        fail("value", "expected a SQL expression (a field name or a computation)")
    metric.value = value if isinstance(value, str) and value.strip() else None
    if metric.type != "counter" and metric.value is None:
        fail("value", f"required for a {metric.type}: the numeric field or expression to observe")
    if "buckets" in table:
        metric.buckets = _buckets(table["buckets"], metric.type, fail)
    metric.fields = _fields(table.get("fields", {}), fail)
    return metric if len(problems) == before else None


def _text(table: dict[str, Any], key: str, default: str, fail) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        fail(key, f"expected a string, got {value!r}")
        return default
    return value


def _labels(value: Any, fail) -> dict[str, str | None]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        labels: dict[str, str | None] = dict.fromkeys(value)
    elif isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
        labels = dict(value)
    else:
        fail("labels", "expected a list of field names or a table of label = SQL expression")
        return {}
    for label in labels:
        if not LABEL_NAME.match(label) or label.startswith("__"):
            fail("labels", f"{label!r} is not a Prometheus label name (letters, digits, _; not __ first)")
    return labels


def _buckets(value: Any, kind: str, fail) -> tuple[float, ...]:
    if kind != "histogram":
        fail("buckets", "only a histogram has buckets")
        return DEFAULT_BUCKETS
    numbers = value if isinstance(value, list) else None
    if not numbers or not all(
        isinstance(item, (int, float)) and not isinstance(item, bool) for item in numbers
    ):
        fail("buckets", "expected a list of upper bounds, e.g. [0.1, 0.5, 1, 5]")
        return DEFAULT_BUCKETS
    if sorted(set(numbers)) != list(numbers):
        fail("buckets", "upper bounds must increase")
    return tuple(float(item) for item in numbers if item != float("inf"))


def _fields(value: Any, fail) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        fail("fields", "expected a table of field = DUCKDB TYPE")
        return {}
    for name, kind in value.items():
        if not DUCKDB_TYPES.match(kind):
            fail("fields", f"{name}: not a DuckDB type: {kind!r}")
    return dict(value)
