"""Debian's `prometheus-alertmanager` and `prometheus`, run for real on 127.0.0.1 with tmp storage."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
PROMETHEUS = shutil.which("prometheus")

needs_alertmanager = pytest.mark.skipif(
    ALERTMANAGER is None, reason="Alertmanager is not installed (apt-get install prometheus-alertmanager)"
)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="Prometheus is not installed (apt-get install prometheus)"
)


def get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(condition, seconds: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until `condition()` is truthy and return it; None after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
        except OSError:
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class WebhookSink:
    """A real HTTP server that keeps the JSON bodies POSTed to it (Alertmanager's webhook)."""

    def __init__(self, port: int) -> None:
        self.bodies: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Program:
    """A server program started for a test and stopped (by its pid) after it."""

    def __init__(self, args: list[str], ready_url: str, log: Path) -> None:
        self.log = log
        self.handle = log.open("wb")
        self.process = subprocess.Popen(args, stdout=self.handle, stderr=subprocess.STDOUT)
        if not wait_for(lambda: self.process.poll() is None and _answers(ready_url), 30):
            self.stop()
            raise AssertionError(f"{args[0]} did not start:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.handle.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def start_alertmanager(tmp: Path, port: int, webhook_url: str) -> Program:
    """Alertmanager on 127.0.0.1:`port` (no clustering) that sends every group to `webhook_url`
    at once and resolved groups too."""
    assert ALERTMANAGER is not None
    config = tmp / "alertmanager.yml"
    config.write_text(
        f"""route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
"""
    )
    args = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={tmp / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    return Program(args, f"http://127.0.0.1:{port}/-/ready", tmp / "alertmanager.log")


def start_prometheus(tmp: Path, port: int, target: str, interval: str = "1s") -> Program:
    """Prometheus on 127.0.0.1:`port` scraping `target` (host:port) every `interval`."""
    assert PROMETHEUS is not None
    config = tmp / "prometheus.yml"
    config.write_text(
        f"""global:
  scrape_interval: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: logscope
    static_configs:
      - targets: ['{target}']
"""
    )
    args = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    return Program(args, f"http://127.0.0.1:{port}/-/ready", tmp / "prometheus.log")
