"""The OTLP/HTTP logs receiver with real clients: the OpenTelemetry Python SDK's OTLP/HTTP exporter
(protobuf), and the spec's JSON encoding POSTed as is (plain and gzip), landing in the store with
the right fields; partial success for records with bad ids."""

from __future__ import annotations

import gzip
import json
import urllib.request
from pathlib import Path

import pytest
from conftest import query_db
from opentelemetry import trace
from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from otlp_helpers import Receiver, post, protobuf_request
from ports import worker_port
from prom_helpers import wait_for

PORT = worker_port(47742)

# The OTLP JSON encoding, as in opentelemetry-proto's examples/logs.json: hex ids, int64 as
# strings, enums as integers, lowerCamelCase keys.
SPEC_JSON = {
    "resourceLogs": [
        {
            "resource": {
                "attributes": [
                    {"key": "service.name", "value": {"stringValue": "my.service"}},
                    {"key": "host.name", "value": {"stringValue": "db-3"}},
                ]
            },
            "scopeLogs": [
                {
                    "scope": {"name": "my.library", "version": "1.0.0"},
                    "logRecords": [
                        {
                            "timeUnixNano": "1544712660300000000",
                            "observedTimeUnixNano": "1544712660300000001",
                            "severityNumber": 10,
                            "severityText": "Information",
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "body": {"stringValue": "Example log record"},
                            "attributes": [
                                {"key": "string.attribute", "value": {"stringValue": "some string"}},
                                {"key": "boolean.attribute", "value": {"boolValue": True}},
                                {"key": "int.attribute", "value": {"intValue": "10"}},
                                {"key": "double.attribute", "value": {"doubleValue": 637.704}},
                                {
                                    "key": "array.attribute",
                                    "value": {
                                        "arrayValue": {
                                            "values": [{"stringValue": "many"}, {"stringValue": "values"}]
                                        }
                                    },
                                },
                                {
                                    "key": "map.attribute",
                                    "value": {
                                        "kvlistValue": {
                                            "values": [{"key": "some.map.key", "value": {"stringValue": "v"}}]
                                        }
                                    },
                                },
                            ],
                        },
                        {
                            "observedTimeUnixNano": "1544712661000000000",
                            "severityText": "WARN",
                            "body": {
                                "kvlistValue": {
                                    "values": [
                                        {"key": "event", "value": {"stringValue": "cache_miss"}},
                                        {"key": "keys", "value": {"intValue": "3"}},
                                    ]
                                }
                            },
                            "someFutureField": {"ignored": True},
                        },
                    ],
                }
            ],
        }
    ]
}


@pytest.fixture
def receiver(tmp_path: Path):
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(tmp_path, PORT, **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.kill()


def rows(db: Path, where: str = "true") -> list[dict]:
    columns = ["ts", "source", "host", "format", "level", "message", "fields", "raw"]
    found = query_db(
        db,
        f"SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'), source, host, format, level, message, fields, raw"
        f" FROM logs WHERE {where} ORDER BY id",
    )
    return [dict(zip(columns, row, strict=True)) | {"fields": json.loads(row[6])} for row in found]


@pytest.mark.slow
def test_the_sdk_exporter_sends_logs_that_land_with_their_fields(receiver) -> None:
    run = receiver()
    provider = LoggerProvider(resource=Resource.create({"service.name": "checkout", "host.name": "web-7"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=run.url, timeout=10)))
    payments = provider.get_logger("shop.payments")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("charge") as span:
        payments.emit(
            ApiLogRecord(
                severity_number=SeverityNumber.ERROR,
                severity_text="ERROR",
                body="payment failed",
                attributes={"order_id": 17, "amount": 9.5},
            )
        )
        context = span.get_span_context()
    payments.emit(ApiLogRecord(severity_number=SeverityNumber.DEBUG, body="retrying"))
    provider.get_logger("shop.events").emit(
        ApiLogRecord(
            timestamp=1_796_600_000_123_456_789,
            severity_number=SeverityNumber.WARN,
            body={"event": "stock_low", "items": [1, 2]},
            attributes={"warehouse": "north"},
        )
    )
    provider.shutdown()
    stderr = run.stop()
    assert "Traceback" not in stderr and "error" not in stderr, stderr

    stored = rows(run.db)
    assert len(stored) == 3
    failed, retrying, event = stored
    assert (failed["source"], failed["host"], failed["format"]) == ("checkout", "web-7", "otlp")
    assert (failed["level"], failed["message"]) == ("error", "payment failed")
    fields = failed["fields"]
    assert fields["order_id"] == 17 and fields["amount"] == 9.5
    assert fields["trace_id"] == trace.format_trace_id(context.trace_id)
    assert fields["span_id"] == trace.format_span_id(context.span_id)
    assert fields["severity_number"] == 17 and fields["severity_text"] == "ERROR"
    assert fields["scope"] == "shop.payments"
    assert fields["resource"]["service.name"] == "checkout"
    assert fields["resource"]["telemetry.sdk.language"] == "python"
    assert retrying["level"] == "debug" and "trace_id" not in retrying["fields"]
    assert event["ts"] == "2026-12-06T23:33:20.123456Z"
    assert event["level"] == "warning"
    assert json.loads(event["message"]) == {"event": "stock_low", "items": [1, 2]}
    assert event["fields"]["body"] == {"event": "stock_low", "items": [1, 2]}
    assert event["fields"]["warehouse"] == "north"
    assert json.loads(failed["raw"])["body"] == "payment failed"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.slow
def test_the_json_encoding_lands_with_the_right_fields(receiver, compress: bool) -> None:
    run = receiver()
    body = json.dumps(SPEC_JSON).encode()
    headers = {"Content-Encoding": "gzip"} if compress else {}
    status, answer_headers, answer = post(
        run.port, gzip.compress(body) if compress else body, "application/json", **headers
    )
    assert status == 200, answer
    assert answer_headers["Content-Type"] == "application/json"
    assert json.loads(answer) == {}  # full success: partial_success left unset
    run.stop()
    first, second = rows(run.db)
    assert first["ts"] == "2018-12-13T14:51:00.300000Z"
    assert (first["source"], first["host"], first["level"]) == ("my.service", "db-3", "info")
    assert first["message"] == "Example log record"
    fields = first["fields"]
    assert fields["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert fields["span_id"] == "eee19b7ec3c1b174"
    assert fields["severity_text"] == "Information" and fields["severity_number"] == 10
    assert fields["observed_time_unix_nano"] == 1544712660300000001
    assert fields["string.attribute"] == "some string"
    assert fields["boolean.attribute"] is True
    assert fields["int.attribute"] == 10
    assert fields["double.attribute"] == 637.704
    assert fields["array.attribute"] == ["many", "values"]
    assert fields["map.attribute"] == {"some.map.key": "v"}
    assert (fields["scope"], fields["scope_version"]) == ("my.library", "1.0.0")
    # No timeUnixNano: the observed time is the event time; a severity text alone gives the level.
    assert second["ts"] == "2018-12-13T14:51:01.000000Z"
    assert second["level"] == "warning"
    assert second["fields"]["body"] == {"event": "cache_miss", "keys": 3}


@pytest.mark.slow
def test_records_with_bad_ids_are_rejected_as_a_partial_success(receiver) -> None:
    run = receiver()
    document = json.loads(json.dumps(SPEC_JSON))
    records = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records.append({**records[0], "traceId": "not-hex", "body": {"stringValue": "bad trace"}})
    records.append({**records[0], "spanId": "abcd", "body": {"stringValue": "short span"}})
    status, _, answer = post(run.port, json.dumps(document).encode(), "application/json")
    assert status == 200
    partial = json.loads(answer)["partialSuccess"]
    assert partial["rejectedLogRecords"] == "2"
    assert "traceId must be 32 hex digits" in partial["errorMessage"]
    assert "spanId must be 16 hex digits" in partial["errorMessage"]
    run.stop()
    assert [row["message"] for row in rows(run.db)] == [
        "Example log record",
        '{"event":"cache_miss","keys":3}',
    ]


@pytest.mark.slow
def test_otlp_records_drive_alert_rules_and_log_defined_metrics(tmp_path: Path) -> None:
    rules = tmp_path / "checkout.toml"
    rules.write_text(
        """
[[rule]]
name = "checkout_5xx"
severity = "error"
where = '"http.status_code" >= 500'
fields = { "http.status_code" = "INTEGER" }
group_by = ["source"]
window = "1h"

[[metric]]
name = "otlp_requests_total"
where = "format = 'otlp'"
labels = { service = "source", status = 'CAST("http.status_code" AS VARCHAR)' }
fields = { "http.status_code" = "INTEGER" }
"""
    )
    run = Receiver(tmp_path, PORT + 1, metrics_port=PORT + 2, extra=["--rules", str(rules)])
    try:
        bodies = [f"request {number}" for number in range(5)]
        status, _, _ = post(
            run.port, protobuf_request(bodies, service="checkout", **{"http.status_code": "503"})
        )
        assert status == 200

        def scraped():
            text = urllib.request.urlopen(f"http://127.0.0.1:{PORT + 2}/metrics", timeout=5).read().decode()
            counted = 'otlp_requests_total{service="checkout",status="503"} 5.0' in text
            firing = 'logscope_alerts_firing{rule="checkout_5xx",severity="error"} 1.0' in text
            return text if counted and firing else None

        text = wait_for(scraped, 20)
        assert text, "the log-defined counter or the alert never showed the OTLP records"
    finally:
        run.stop()
    assert query_db(run.db, "SELECT rule, labels FROM alerts") == [("checkout_5xx", '{"source":"checkout"}')]


@pytest.mark.slow
def test_protobuf_records_with_bad_ids_are_rejected_and_an_empty_request_succeeds(receiver) -> None:
    run = receiver()
    request = ExportLogsServiceRequest()
    request.ParseFromString(protobuf_request(["kept", "bad trace", "bad span"]))
    records = request.resource_logs[0].scope_logs[0].log_records
    records[1].trace_id = b"\x01\x02\x03"
    records[2].span_id = b"\x01" * 9
    status, headers, answer = post(run.port, request.SerializeToString())
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    response = ExportLogsServiceResponse()
    response.ParseFromString(answer)
    assert response.partial_success.rejected_log_records == 2
    assert "traceId must be 16 bytes, got 3" in response.partial_success.error_message
    assert post(run.port, b"")[:1] == (200,)  # an empty request: success, nothing stored
    assert json.loads(post(run.port, b"{}", "application/json")[2]) == {}
    run.stop()
    assert [row["message"] for row in rows(run.db)] == ["kept"]
