"""OTLP JSON files: one `ExportLogsServiceRequest` per line, as the OpenTelemetry Collector's file
exporter writes them (and its otlpjsonfile receiver reads them); one line holds many log records.

A line is decoded as the OTLP/HTTP receiver decodes a JSON body (parsing/otlp_decode.py); each of
its log records becomes a record of its own (`expand`), with the line's source and host.
"""

from __future__ import annotations

from datetime import tzinfo

from logscope.parsing.base import Parsed
from logscope.parsing.otlp_decode import JSON, BadPayload, decode, to_records
from logscope.record import Record

FORMAT = "otlp_json"
# The top-level key of a logs request, in the OTLP JSON spelling and protobuf's field name.
_KEYS = ('"resourceLogs"', '"resource_logs"')


class OtlpJsonFileParser:
    """Lines holding an OTLP logs request in JSON; `parse` gives the first record (for detection)."""

    name = FORMAT
    title = "OpenTelemetry OTLP JSON file (Collector file exporter), many records a line"
    priority = 98
    first_chars = frozenset("{")
    # The log records' attributes vary; these keys are the ones every OTLP record may carry.
    field_types: dict[str, str] = {  # noqa: RUF012
        "trace_id": "VARCHAR",
        "span_id": "VARCHAR",
        "severity_number": "BIGINT",
        "severity_text": "VARCHAR",
        "scope": "VARCHAR",
    }
    # One line becomes several records: no per-line bulk plan, the streaming parser expands it.
    expands = True

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone  # OTLP times are epoch nanoseconds: the zone is not needed

    def parse(self, line: str) -> Parsed | None:
        records = self._records(line, None, "", None, 0)
        if not records:
            return None
        first = records[0]
        return first.ts, first.level, first.message, first.fields, first.host

    def expand(self, line: str, source: str, host: str | None, received_at: int) -> list[Record]:
        """Every log record of the line (empty when the line is not an OTLP logs request)."""
        return self._records(line, source, source, host, received_at)

    @staticmethod
    def _records(
        line: str, source: str | None, default_source: str, host: str | None, received_at: int
    ) -> list[Record]:
        head = line[:40]
        if not line.startswith("{") or not any(key in head for key in _KEYS):
            return []
        try:
            request, decoded = decode(line.encode(), JSON)
        except BadPayload:
            return []
        records = to_records(request, decoded, default_source, host, received_at).records
        for record in records:
            record.format = FORMAT
            if source is not None:
                record.source = source  # the file; the service stays in fields.resource
        return records
