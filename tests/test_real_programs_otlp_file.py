"""OTLP JSON files (the OpenTelemetry Collector's file exporter format): one logs request a line.

The OpenTelemetry JS SDK (from the npm registry, into a temporary directory; the test skips when
npm or the registry is missing) exports log records with its OTLP/HTTP JSON exporter to a small
HTTP server here, which writes each request body as one line: the file the Collector's file
exporter writes and its otlpjsonfile receiver reads. `logscope ingest` must store every log record
of every line as a record of its own.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from real_programs import assert_parsed, assert_times_from_lines, free_port, ingest, now, npm_program, program

ROUNDS = 10
BATCH = 8  # records per export request, so lines hold 8, 8, 8 and 6 records
PACKAGES = [
    "@opentelemetry/sdk-logs@0.223",
    "@opentelemetry/exporter-logs-otlp-http@0.223",
    "@opentelemetry/api-logs@0.223",
    "@opentelemetry/resources@2",
]
OTEL_PROGRAM = f"""const {{ LoggerProvider, BatchLogRecordProcessor }} = require('@opentelemetry/sdk-logs');
const {{ OTLPLogExporter }} = require('@opentelemetry/exporter-logs-otlp-http');
const {{ resourceFromAttributes }} = require('@opentelemetry/resources');
const {{ SeverityNumber }} = require('@opentelemetry/api-logs');
const exporter = new OTLPLogExporter({{ url: process.argv[2] }});
const provider = new LoggerProvider({{
  resource: resourceFromAttributes({{ 'service.name': 'checkout', 'host.name': 'web1' }}),
  processors: [new BatchLogRecordProcessor({{
    exporter, maxExportBatchSize: {BATCH}, scheduledDelayMillis: 50,
  }})],
}});
const logger = provider.getLogger('shop.orders', '1.0.0');
for (let n = 0; n < {ROUNDS}; n++) {{
  logger.emit({{ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: `order ${{n}} placed`,
                 attributes: {{ 'order.id': n }} }});
  logger.emit({{ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'payment slow' }});
  logger.emit({{ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'payment failed',
                 attributes: {{ 'exception.type': 'TimeoutError' }} }});
}}
provider.shutdown();
"""


@pytest.fixture(scope="module")
def otel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the OpenTelemetry JS SDK's logs packages installed from the npm registry."""
    root = tmp_path_factory.mktemp("otel-js")
    return npm_program(root, PACKAGES, OTEL_PROGRAM, "the OpenTelemetry JS SDK")


class _BodiesToLines(http.server.BaseHTTPRequestHandler):
    """Writes each OTLP/HTTP request body as one line of `server.log_file` (the file exporter's format)."""

    def do_POST(self) -> None:
        body = self._body()
        with self.server.log_file.open("ab") as out:  # type: ignore[attr-defined]
            out.write(body.strip() + b"\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def _body(self) -> bytes:
        if self.headers.get("Content-Length"):
            return self.rfile.read(int(self.headers["Content-Length"]))
        body = b""  # chunked, as Node's http client sends it
        while size := int(self.rfile.readline().strip(), 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return body

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector_file(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "logs.jsonl"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port(47460)), _BodiesToLines)
    server.log_file = log  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/logs", log
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_otlp_json_file_from_the_opentelemetry_js_sdk(
    otel_dir: Path, collector_file: tuple[str, Path], db: Path
) -> None:
    url, log = collector_file
    start = now()
    node = program("node")
    subprocess.run([node, "app.js", url], cwd=otel_dir, check=True, capture_output=True, timeout=60)
    end = now()
    lines = log.read_text().splitlines()
    written = [
        record
        for line in lines
        for resource in json.loads(line)["resourceLogs"]
        for scope in resource["scopeLogs"]
        for record in scope["logRecords"]
    ]
    assert len(lines) == 4 and len(written) == 3 * ROUNDS
    stored = ingest(log, db)
    assert_parsed(stored, {"otlp_json"}, share=1.0)
    assert len(stored.rows) == len(written)  # every log record of every line
    assert_times_from_lines(stored.rows, start, end)
    assert dict(stored.levels) == {"info": ROUNDS, "warning": ROUNDS, "error": ROUNDS}
    assert [row[4] for row in stored.rows[:3]] == ["order 0 placed", "payment slow", "payment failed"]
    first = json.loads(stored.rows[0][5])
    assert first["resource"] == {"service.name": "checkout", "host.name": "web1"} and first["order.id"] == 0
    detected = run_cli("formats", "detect", str(log))
    assert detected.stderr.startswith(f"{log}: otlp_json "), detected.stderr
    # A line cut short (a file exporter killed mid-write) is kept whole as a raw record.
    cut_log = log.with_name("cut.jsonl")
    cut_log.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2] + "\n")
    cut = ingest(cut_log, db.with_name("cut.duckdb"))  # a fresh store: same first line, same fingerprint
    assert [row[2] for row in cut.rows] == ["otlp_json"] * BATCH + ["raw"]
    assert cut.rows[-1][6] == lines[1][: len(lines[1]) // 2]
