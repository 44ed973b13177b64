"""`--metrics`: /metrics in the Prometheus text format from a real `logscope ingest --follow`,
with metrics defined from an nginx access log by [[metric]] entries, scraped by Debian's real
`prometheus` and queried with PromQL through its HTTP API."""

from __future__ import annotations

import socket
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli
from ports import worker_port
from prom_helpers import get_json, needs_prometheus, start_prometheus, wait_for
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import FollowingIngest

from logscope.metrics.definitions import MetricDefinition
from logscope.metrics.logmetrics import LogMetrics
from logscope.record import Record

METRICS_PORT = worker_port(47730)
PROMETHEUS_PORT = worker_port(47720)

METRICS = r"""
[[metric]]
name = "nginx_requests_total"
help = "Requests in the nginx access log, by status."
where = "format = 'nginx_access'"
labels = ["status", "method"]

[[metric]]
name = "nginx_request_seconds"
type = "histogram"
help = "nginx $request_time (appended to the combined log)."
where = "format = 'nginx_access'"
value = '''regexp_extract(extra, '([0-9]+\.[0-9]+)$', 1)'''
buckets = [0.01, 0.1, 1]
labels = { class = "CAST(status // 100 AS VARCHAR) || 'xx'" }

[[metric]]
name = "nginx_response_bytes"
type = "summary"
where = "format = 'nginx_access'"
value = "bytes"
"""


def access_line(status: int, seconds: float, method: str = "GET", size: int = 512) -> str:
    return (
        f'203.0.113.9 - - [07/Dec/2026:00:10:00 +0000] "{method} /api/items HTTP/1.1" {status} {size}'
        f' "-" "curl/8.5.0" {seconds:.3f}\n'
    )


def scrape(port: int) -> dict[str, dict[tuple, float]]:
    """Samples by name, then by sorted label items."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


class FollowedLog(FollowingIngest):
    """`logscope ingest --follow LOG --metrics ...` in its own process."""

    def __init__(self, tmp: Path, port: int, *extra: str) -> None:
        log = tmp / "access.log"
        log.write_text("")
        rules = tmp / "metrics.toml"
        rules.write_text(METRICS)
        args = ["--db", str(tmp / "db.duckdb"), "--no-default-rules", "--rules", str(rules)]
        super().__init__(
            log, [*args, "--metrics", f"127.0.0.1:{port}", *extra], lambda: wait_for(lambda: scrape(port), 0)
        )
        self.port = port


@pytest.fixture
def followed(tmp_path: Path):
    made: list[FollowedLog] = []

    def make(port: int = METRICS_PORT, *extra: str) -> FollowedLog:
        made.append(FollowedLog(tmp_path, port, *extra))
        return made[-1]

    yield make
    for item in made:
        if item.process.poll() is None:
            item.process.kill()
            item.process.communicate()


@pytest.mark.slow
def test_log_defined_metrics_and_health_on_metrics(followed) -> None:
    run = followed()
    lines = [access_line(200, 0.004)] * 5 + [access_line(503, 0.25)] * 3 + [access_line(404, 2.5, "POST")]
    run.append("".join(lines) + "not an access log line\n")

    def counted():
        samples = scrape(run.port)
        total = sum(samples.get("nginx_requests_total", {}).values())
        observed = sum(samples.get("nginx_request_seconds_count", {}).values())
        sized = sum(samples.get("nginx_response_bytes_count", {}).values())
        # every metric of the batch (they are updated one after the other)
        return samples if (total, observed, sized) == (9, 9, 9) else None

    samples = wait_for(counted, 20)
    assert samples, scrape(run.port).get("nginx_requests_total")
    requests = samples["nginx_requests_total"]
    assert requests[(("method", "GET"), ("status", "503"))] == 3
    assert requests[(("method", "GET"), ("status", "200"))] == 5
    assert requests[(("method", "POST"), ("status", "404"))] == 1
    seconds = {key: value for key, value in samples["nginx_request_seconds_bucket"].items()}
    assert seconds[(("class", "2xx"), ("le", "0.01"))] == 5
    assert seconds[(("class", "5xx"), ("le", "0.1"))] == 0
    assert seconds[(("class", "5xx"), ("le", "1.0"))] == 3
    assert seconds[(("class", "4xx"), ("le", "1.0"))] == 0
    assert seconds[(("class", "4xx"), ("le", "+Inf"))] == 1
    assert samples["nginx_request_seconds_count"][(("class", "5xx"),)] == 3
    assert samples["nginx_request_seconds_sum"][(("class", "5xx"),)] == pytest.approx(0.75)
    assert samples["nginx_response_bytes_count"][()] == 9
    assert samples["nginx_response_bytes_sum"][()] == 9 * 512

    source = (("source", str(run.log)),)
    assert samples["logscope_source_lines_total"][source] == 10
    assert samples["logscope_source_bytes_total"][source] == sum(map(len, lines)) + 23
    assert samples["logscope_source_parse_failures_total"][source] == 1
    assert samples["logscope_source_drops_total"][source] == 0
    assert source in samples["logscope_source_lag_seconds"]
    assert samples["logscope_records_committed_total"][()] == 10
    assert samples["logscope_pipeline_queue_capacity_batches"][()] == 64
    assert samples["logscope_commit_duration_seconds_count"][()] >= 1
    assert samples["process_resident_memory_bytes"][()] > 0
    assert samples["logscope_log_metric_skipped_records_total"][(("metric", "nginx_request_seconds"),)] == 0
    stderr = run.stop()
    assert "Traceback" not in stderr
    assert f"metrics on http://127.0.0.1:{run.port}/metrics" in stderr


@pytest.mark.slow
def test_alerts_firing_per_rule_are_exposed(followed, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text(
        '[[rule]]\nname = "server_errors"\nseverity = "error"\nwhere = "status >= 500"\nwindow = "1h"\n'
    )
    run = followed(METRICS_PORT + 2, "--rules", str(rules))
    run.append(access_line(503, 0.1))

    def firing():
        return (
            scrape(run.port)
            .get("logscope_alerts_firing", {})
            .get((("rule", "server_errors"), ("severity", "error")))
        )

    assert wait_for(firing, 20) == 1
    run.stop()


@needs_prometheus
@pytest.mark.slow
def test_prometheus_scrapes_the_log_defined_counter(followed, tmp_path: Path) -> None:
    run = followed(METRICS_PORT + 1)
    run.append(access_line(503, 0.3) * 7 + access_line(200, 0.01) * 2)
    prometheus = start_prometheus(tmp_path, PROMETHEUS_PORT, f"127.0.0.1:{run.port}", "1s")
    try:
        query = urllib.parse.quote('sum(nginx_requests_total{status="503"})')
        url = f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?query={query}"

        def answered():
            result = get_json(url)["data"]["result"]
            return result if result and result[0]["value"][1] == "7" else None

        result = wait_for(answered, 30, 0.3)
        assert result, get_json(url)
        histogram = urllib.parse.quote('nginx_request_seconds_bucket{le="1.0",class="5xx"}')
        value = get_json(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?query={histogram}")
        assert value["data"]["result"][0]["value"][1] == "7"
        targets = get_json(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/targets")["data"]["activeTargets"]
        assert targets[0]["health"] == "up", targets
    finally:
        prometheus.stop()
        run.stop()


def test_a_bad_metric_definition_stops_the_run_naming_file_metric_and_field(tmp_path: Path) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text(
        '[[metric]]\nname = "ok_total"\nwhere = "nosuchfunc(message)"\n\n'
        '[[metric]]\nname = "bad-name"\n\n'
        '[[metric]]\nname = "lat"\ntype = "histogram"\n'
    )
    result = run_cli(
        "ingest",
        "--db",
        ":memory:",
        "--no-default-rules",
        "--rules",
        str(rules),
        "--metrics",
        f"127.0.0.1:{METRICS_PORT + 3}",
        "-",
        input="x\n",
    )
    assert_clean_error(result, 2)
    assert f"{rules}: field 'metric #2.name'" in result.stderr
    assert f"{rules}: field 'metric lat.value': required for a histogram" in result.stderr
    assert f"{rules}: metric 'ok_total': field 'where'" in result.stderr
    assert "nosuchfunc" in result.stderr


@pytest.mark.slow
def test_a_metrics_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", METRICS_PORT + 4))
        busy.listen()
        result = run_cli(
            "ingest", "--db", ":memory:", "--metrics", f"127.0.0.1:{METRICS_PORT + 4}", "-", input="x\n"
        )
    assert_clean_error(result, 1)
    assert f"--metrics 127.0.0.1:{METRICS_PORT + 4}: cannot listen" in result.stderr
    result = run_cli("ingest", "--db", ":memory:", "--metrics", "localhost", "-", input="x\n")
    assert_clean_error(result, 2)
    assert "a port is needed" in result.stderr


def test_rules_check_checks_metric_definitions(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(METRICS)
    result = run_cli("rules", "check", str(good))
    assert result.returncode == 0, result.stderr
    assert "3 metrics" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[metric]]\nname = "x_total"\nlabels = ["status"]\nbuckets = [1]\nwhere = "status >= 500"\n'
    )
    result = run_cli("rules", "check", str(bad))
    assert_clean_error(result, 2)
    assert f"{bad}: field 'metric x_total.buckets': only a histogram has buckets" in result.stderr


def test_values_that_are_no_numbers_are_skipped_and_counted() -> None:
    metrics = [
        MetricDefinition(name="lat", type="histogram", value="fields->>'v'", buckets=(1.0, 2.0)),
        MetricDefinition(name="g", type="gauge", value="fields->>'v'", labels={"k": "fields->>'k'"}),
        MetricDefinition(name="c_total", labels={"k": None}, fields={"k": "VARCHAR"}),
    ]
    log_metrics = LogMetrics(metrics)
    values = [("0.5", "a"), ("nan", "a"), ("inf", "b"), ("x", "c"), ("1.5", "a")]
    records = [
        Record(1, 1, "s", None, "json", None, "m", {"v": value, "k": key}, "r", id=number)
        for number, (value, key) in enumerate(values, start=1)
    ]
    log_metrics.evaluate(records)
    log_metrics.close()
    registry = CollectorRegistry()
    registry.register(log_metrics)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    # NaN and "x" are no observations; +Inf is one (in the +Inf bucket only).
    assert samples[("lat_bucket", (("le", "1.0"),))] == 1
    assert samples[("lat_bucket", (("le", "2.0"),))] == 2
    assert samples[("lat_count", ())] == 3
    assert samples[("g", (("k", "a"),))] == 1.5  # the latest usable value
    assert ("g", (("k", "c"),)) not in samples  # never a usable value: no series
    assert samples[("c_total", (("k", "a"),))] == 3
    assert samples[("logscope_log_metric_skipped_records_total", (("metric", "lat"),))] == 2
    assert samples[("logscope_log_metric_skipped_records_total", (("metric", "g"),))] == 2
