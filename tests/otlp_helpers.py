"""Helpers for the OTLP receiver tests: a real `logscope ingest --follow otlp://...` and raw POSTs."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
from pathlib import Path

from conftest import cli_env
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord


class Receiver:
    """`logscope ingest --follow otlp://127.0.0.1:PORT` in its own process (with --metrics)."""

    def __init__(
        self, tmp: Path, port: int, options: str = "", metrics_port: int | None = None, extra: list[str] = ()
    ) -> None:
        self.db = tmp / "otlp.duckdb"
        self.port = port
        command = ["ingest", "--follow", f"otlp://127.0.0.1:{port}{options}", "--db", str(self.db)]
        command += ["--no-default-rules", *extra]
        if metrics_port is not None:
            command += ["--metrics", f"127.0.0.1:{metrics_port}"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "logscope", *command],
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        first = self.process.stderr.readline()
        assert f"listening on otlp://127.0.0.1:{port}" in first, first + self.process.stderr.read()
        if metrics_port is not None:
            assert "metrics on" in self.process.stderr.readline()
        self.url = f"http://127.0.0.1:{port}/v1/logs"

    def peak_memory_kib(self) -> int:
        """The process' peak resident memory (VmHWM)."""
        for row in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if row.startswith("VmHWM:"):
                return int(row.split()[1])
        raise AssertionError("no VmHWM")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> str:
        """SIGINT: what was accepted is committed; returns stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=60)
        return stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)


def post(
    port: int,
    body: bytes,
    content_type: str = "application/x-protobuf",
    path: str = "/v1/logs",
    **headers: str,
) -> tuple[int, dict[str, str], bytes]:
    """One POST on a fresh connection: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type, **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def string_value(text: str) -> AnyValue:
    return AnyValue(string_value=text)


def protobuf_request(bodies: list[str], service: str = "flood", **attributes: str) -> bytes:
    """An ExportLogsServiceRequest with one log record per body (built with opentelemetry-proto)."""
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(KeyValue(key="service.name", value=string_value(service)))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "test"
    extra = [KeyValue(key=key, value=string_value(value)) for key, value in attributes.items()]
    for number, body in enumerate(bodies):
        scope_logs.log_records.append(
            LogRecord(
                time_unix_nano=1_796_600_000_000_000_000 + number,
                severity_number=9,
                severity_text="INFO",
                body=string_value(body),
                attributes=extra,
            )
        )
    return request.SerializeToString()
