"""OTLP logs payloads (`ExportLogsServiceRequest`, protobuf or JSON) into logscope records.

Decoding is opentelemetry-proto's generated code (and protobuf's JSON mapping); the OTLP JSON
encoding's differences from that mapping (hex trace and span ids) are undone first.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from logscope.parsing.levels import normalize_level
from logscope.record import Record

if TYPE_CHECKING:  # protobuf's generated code is imported where a payload is decoded: the OTLP
    # file parser sits in every command's format registry (~20 ms of start-up otherwise)
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

FORMAT = "otlp"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
INVALID_ARGUMENT = 3  # google.rpc.Code
_ID_KEYS = {"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8}
# severityNumber ranges (OTel logs data model) → logscope levels
_SEVERITIES = ((4, "trace"), (8, "debug"), (12, "info"), (16, "warning"), (20, "error"), (24, "fatal"))


class BadPayload(ValueError):
    """The request body cannot be decoded: a 400, never retried."""


@dataclass
class Decoded:
    """A request's records, and the log records it rejected (with why)."""

    records: list[Record] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected += count
        if reason not in self.reasons and len(self.reasons) < 3:
            self.reasons.append(reason)


def decode(body: bytes, content_type: str) -> tuple[ExportLogsServiceRequest, Decoded]:
    """The request message of a body; records rejected before decoding (bad JSON ids) counted."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    decoded = Decoded()
    if content_type == PROTOBUF:
        request = ExportLogsServiceRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise BadPayload(f"invalid protobuf ExportLogsServiceRequest: {exc}") from None
        return request, decoded
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadPayload(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadPayload("invalid JSON ExportLogsServiceRequest: expected an object")
    _ids_to_base64(document, decoded)
    try:
        request = json_format.ParseDict(document, ExportLogsServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, RecursionError) as exc:
        raise BadPayload(f"invalid JSON ExportLogsServiceRequest: {exc}") from None
    return request, decoded


def _ids_to_base64(document: dict[str, Any], decoded: Decoded) -> None:
    """OTLP JSON writes traceId and spanId as hex (protobuf's JSON mapping: base64); records with
    ids that are not hex of the right length are taken out and rejected."""
    for resource in _list(document, "resourceLogs", "resource_logs"):
        for scope in _list(resource, "scopeLogs", "scope_logs"):
            records = _list(scope, "logRecords", "log_records")
            kept = [record for record in records if _convert_ids(record, decoded)]
            if len(kept) != len(records):
                key = "logRecords" if "logRecords" in scope else "log_records"
                scope[key] = kept


def _list(parent: Any, *keys: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for key in keys:
        value = parent.get(key)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(record: Any, decoded: Decoded) -> bool:
    if not isinstance(record, dict):
        return True  # ParseDict reports it
    for key, size in _ID_KEYS.items():
        value = record.get(key)
        if value is None or value == "":
            continue
        try:
            raw = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != size:
            decoded.reject(f"{key} must be {size * 2} hex digits, got {value!r:.60}")
            return False
        record[key] = base64.b64encode(raw).decode()
    return True


def to_records(
    request: ExportLogsServiceRequest, decoded: Decoded, default_source: str, peer_host: str | None, now: int
) -> Decoded:
    """Records for every log record of the request (`now`: the receive time, µs)."""
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        service = resource.get("service.name")
        source = str(service) if service not in (None, "") else default_source
        host_name = resource.get("host.name")
        host = str(host_name) if host_name not in (None, "") else peer_host
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            context = _context(resource, scope.name, scope.version)
            for log in scope_logs.log_records:
                record = _record(log, context, source, host, now)
                if isinstance(record, str):
                    decoded.reject(record)
                else:
                    decoded.records.append(record)
    return decoded


def _context(resource: dict[str, Any], scope_name: str, scope_version: str) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if resource:
        context["resource"] = resource
    if scope_name:
        context["scope"] = scope_name
    if scope_version:
        context["scope_version"] = scope_version
    return context


def _record(log: Any, context: dict[str, Any], source: str, host: str | None, now: int) -> Record | str:
    """The record for one LogRecord, or why it is rejected."""
    trace_id, span_id = log.trace_id, log.span_id
    if len(trace_id) not in (0, 16):
        return f"traceId must be 16 bytes, got {len(trace_id)}"
    if len(span_id) not in (0, 8):
        return f"spanId must be 8 bytes, got {len(span_id)}"
    fields = attributes(log.attributes)
    fields.update(context)
    if trace_id:
        fields["trace_id"] = trace_id.hex()
    if span_id:
        fields["span_id"] = span_id.hex()
    if log.flags:
        fields["trace_flags"] = log.flags
    if log.severity_number:
        fields["severity_number"] = log.severity_number
    if log.severity_text:
        fields["severity_text"] = log.severity_text
    if log.observed_time_unix_nano:
        fields["observed_time_unix_nano"] = log.observed_time_unix_nano
    if log.event_name:
        fields["event_name"] = log.event_name
    body = any_value(log.body) if log.HasField("body") else None
    if isinstance(body, str) or body is None:
        message = body or ""
    else:
        fields["body"] = body
        message = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
    stamp = log.time_unix_nano or log.observed_time_unix_nano
    raw = orjson.dumps({"time_unix_nano": log.time_unix_nano, "body": body, **fields}, default=str).decode()
    level = _level(log.severity_number, log.severity_text)
    return Record(stamp // 1000 if stamp else None, now, source, host, FORMAT, level, message, fields, raw)


def _level(number: int, text: str) -> str | None:
    if number:
        for upper, level in _SEVERITIES:
            if number <= upper:
                return level
    return normalize_level(text) if text else None


def attributes(pairs: Any) -> dict[str, Any]:
    """A repeated KeyValue as a dict (later keys win, as the data model says keys are unique)."""
    return {pair.key: any_value(pair.value) for pair in pairs}


def any_value(value: AnyValue) -> Any:
    """An AnyValue as plain JSON-able Python (bytes as base64 text)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {pair.key: any_value(pair.value) for pair in value.kvlist_value.values}
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def success_body(decoded: Decoded, content_type: str) -> bytes:
    """The ExportLogsServiceResponse: empty on full success, with partial_success otherwise."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    response = ExportLogsServiceResponse()
    if decoded.rejected:
        response.partial_success.rejected_log_records = decoded.rejected
        response.partial_success.error_message = "; ".join(decoded.reasons)
    if content_type == JSON:
        return json_format.MessageToJson(response, indent=None).encode()
    return response.SerializeToString()


def status_body(message: str, content_type: str, bad_request: bool = False) -> bytes:
    """A google.rpc.Status for a 4xx/5xx answer (with a BadRequest detail for bad data)."""
    from google.protobuf import json_format
    from google.rpc import error_details_pb2, status_pb2

    status = status_pb2.Status(message=message)
    if bad_request:
        status.code = INVALID_ARGUMENT
        detail = error_details_pb2.BadRequest()
        detail.field_violations.add(field="body", description=message)
        status.details.add().Pack(detail)
    if content_type == JSON:
        return json_format.MessageToJson(status, indent=None).encode()
    return status.SerializeToString()
