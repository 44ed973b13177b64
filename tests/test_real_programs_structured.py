"""Structured JSON loggers write their logs; `logscope ingest` must read them with their schema.

The OpenTelemetry Python SDK (opentelemetry-sdk) exports log records as JSON lines, and Google's
google-cloud-logging writes Cloud Logging's structured JSON (StructuredLogHandler), both from the
test extra; what they write is ingested with the real CLI, and the record count, the times, the
levels and the trace context are checked against what the program logged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from real_programs import assert_parsed, assert_times_from_lines, count_lines, ingest, now

OTEL_PROGRAM = """
import logging, os, sys
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import ConsoleLogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

out = open(sys.argv[1], "w")
exporter = ConsoleLogExporter(out=out, formatter=lambda record: record.to_json(indent=None) + os.linesep)
provider = LoggerProvider(resource=Resource.create({"service.name": "checkout"}))
provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("checkout")
log = logging.getLogger("checkout")
log.addHandler(LoggingHandler(logger_provider=provider))
log.setLevel(logging.DEBUG)
for n in range(10):
    with tracer.start_as_current_span("charge"):
        log.info("order placed", extra={"order_id": n})
        log.warning("payment slow")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("payment failed")
    log.debug("cache miss")
log.critical("shutting down")
provider.shutdown()
"""


@pytest.mark.slow
def test_opentelemetry_sdk_json_log_records(tmp_path: Path, db: Path) -> None:
    (tmp_path / "app.py").write_text(OTEL_PROGRAM)
    log = tmp_path / "otel.jsonl"
    start = now()
    subprocess.run([sys.executable, "-W", "ignore", "app.py", str(log)], cwd=tmp_path, check=True)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"otel_log_record"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith('{"body"')) == 41
    assert_times_from_lines(stored.rows, start, end)
    assert dict(stored.levels) == {"info": 10, "warning": 10, "error": 10, "debug": 10, "fatal": 1}
    fields = [json.loads(row[5]) for row in stored.rows]
    spanned = ("order placed", "payment slow")
    in_span = [f for row, f in zip(stored.rows, fields, strict=True) if row[4] in spanned]
    assert all(f["trace_id"] != "0x" + "0" * 32 for f in in_span)
    assert all(f["resource"]["attributes"]["service.name"] == "checkout" for f in fields)
    failed = next(f for row, f in zip(stored.rows, fields, strict=True) if row[3] == "error")
    assert failed["attributes"]["exception.type"] == "ZeroDivisionError"


GCP_PROGRAM = """
import logging, sys
from google.cloud.logging.handlers import StructuredLogHandler

handler = StructuredLogHandler(stream=open(sys.argv[1], "w"), labels={"app": "checkout"}, project_id="demo")
log = logging.getLogger("checkout")
log.addHandler(handler)
log.setLevel(logging.DEBUG)
for n in range(10):
    log.info("order placed", extra={"json_fields": {"order_id": n}})
    log.warning("payment slow")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("payment failed")
    log.debug("cache miss", extra={"trace": f"projects/demo/traces/{n:032x}", "span_id": f"{n:016x}"})
log.critical("shutting down")
"""


@pytest.mark.slow
def test_gcp_structured_log_handler(tmp_path: Path, db: Path) -> None:
    pytest.importorskip("google.cloud.logging", reason="pip install google-cloud-logging (the test extra)")
    (tmp_path / "app.py").write_text(GCP_PROGRAM)
    log = tmp_path / "gcp.jsonl"
    subprocess.run([sys.executable, "app.py", str(log)], cwd=tmp_path, check=True)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"gcp_structured"}, share=1.0)
    # the program's records and the handler's own instrumentation record before them
    assert len(stored.rows) == count_lines(log, lambda line: '"severity": ' in line) == 42
    # the handler writes no time (Cloud Logging stamps a line when it arrives): the import time
    assert all(row[0] >= end for row in stored.rows)
    assert dict(stored.levels) == {"info": 11, "warning": 10, "error": 10, "debug": 10, "critical": 1}
    fields = [json.loads(row[5]) for row in stored.rows]
    assert all(f["logging.googleapis.com/labels"]["app"] == "checkout" for f in fields)
    debug = next(f for row, f in zip(stored.rows, fields, strict=True) if row[3] == "debug")
    assert debug["logging.googleapis.com/trace"] == "projects/demo/traces/" + "0" * 32
    failed = next(row for row in stored.rows if row[3] == "error")
    assert failed[4].startswith("payment failed\nTraceback (most recent call last):")
