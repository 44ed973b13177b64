"""OTLP receiver benchmark: OTLP/HTTP log records/s into the DuckDB store.

Runs the real CLI (`logscope ingest --follow otlp://...` with `--metrics`) in a subprocess; client
threads in this process POST pre-built ExportLogsServiceRequests (built with opentelemetry-proto,
shaped like the Python SDK's: a resource with service.name and host.name, a scope, severity,
a string body, three attributes, trace and span ids). The time runs from the first request sent
until logscope's own `logscope_records_committed_total` reaches the records sent. Usage:

    .venv/bin/python bench/otlp.py [--clients 4] [--records 200000] [--batch 500] [--json]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

PORT = 47750
METRICS_PORT = 47751
T0 = 1_796_600_000_000_000_000


def attribute(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def payload(client: int, number: int, batch: int, as_json: bool) -> bytes:
    """One request of `batch` records."""
    rng = random.Random(client * 1_000_003 + number)
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(
        [attribute("service.name", f"svc-{client}"), attribute("host.name", f"web-{client}")]
    )
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "app.http"
    for index in range(batch):
        status = rng.choice((200, 200, 200, 201, 404, 500))
        scope_logs.log_records.append(
            LogRecord(
                time_unix_nano=T0 + (number * batch + index) * 1000,
                severity_number=17 if status >= 500 else 9,
                severity_text="ERROR" if status >= 500 else "INFO",
                body=AnyValue(string_value=f"GET /api/items/{rng.randrange(10_000)} -> {status}"),
                attributes=[
                    attribute("http.status_code", status),
                    attribute("http.route", "/api/items/{id}"),
                    attribute("user.id", f"u{rng.randrange(1000)}"),
                ],
                trace_id=rng.randbytes(16),
                span_id=rng.randbytes(8),
            )
        )
    if as_json:
        return orjson.dumps(otlp_json(request))
    return request.SerializeToString()


def otlp_json(request: ExportLogsServiceRequest) -> dict:
    """The OTLP JSON encoding: protobuf's JSON mapping, but trace and span ids in hex."""
    document = json_format.MessageToDict(request)
    for resource_logs in document["resourceLogs"]:
        for scope_logs in resource_logs["scopeLogs"]:
            for record in scope_logs["logRecords"]:
                for key in ("traceId", "spanId"):
                    record[key] = base64.b64decode(record[key]).hex()
    return document


def committed() -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("logscope_records_committed_total "):
                return float(line.split()[1])
    return 0.0


def peak_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500, help="log records per request")
    parser.add_argument("--json", action="store_true", help="send the JSON encoding instead of protobuf")
    args = parser.parse_args()
    requests_per_client = args.records // args.batch // args.clients
    total = requests_per_client * args.batch * args.clients
    content_type = "application/json" if args.json else "application/x-protobuf"
    bodies = [
        [payload(client, number, args.batch, args.json) for number in range(requests_per_client)]
        for client in range(args.clients)
    ]
    answers: Counter[int] = Counter()
    lock = threading.Lock()

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for body in bodies[number]:
            while True:
                connection.request("POST", "/v1/logs", body=body, headers={"Content-Type": content_type})
                response = connection.getresponse()
                response.read()
                with lock:
                    answers[response.status] += 1
                if response.status == 200:
                    break
                time.sleep(float(response.getheader("Retry-After") or 1))
        connection.close()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        command = [sys.executable, "-m", "logscope", "ingest", "--follow", f"otlp://127.0.0.1:{PORT}"]
        command += ["--db", str(db), "--no-default-rules", "--metrics", f"127.0.0.1:{METRICS_PORT}"]
        process = subprocess.Popen(
            command,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "TZ": "UTC"},
        )
        try:
            assert process.stderr is not None
            for _ in range(2):
                line = process.stderr.readline()
                if "listening on" not in line and "metrics on" not in line:
                    raise SystemExit(f"ingest did not start: {line}{process.stderr.read()}")
            threads = [threading.Thread(target=client, args=(number,)) for number in range(args.clients)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent = time.monotonic() - started
            last, moved = 0.0, time.monotonic()
            while (done := committed()) < total:
                if done > last:
                    last, moved = done, time.monotonic()
                elif time.monotonic() - moved > 30:
                    raise SystemExit(f"stalled at {done:,.0f} of {total:,} records committed: {answers}")
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            peak = peak_kib(process.pid)
        finally:
            process.send_signal(2)
            process.communicate(timeout=120)
    encoding = "JSON" if args.json else "protobuf"
    print("| encoding | clients | records | per request | answered | committed | records/s | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {encoding} | {args.clients} | {total:,} | {args.batch} | {sent:.2f} s | {elapsed:.2f} s"
        f" | {total / elapsed:,.0f} | {peak / 1024:.0f} MB |"
    )
    print(f"answers: {dict(sorted(answers.items()))}")


if __name__ == "__main__":
    main()
