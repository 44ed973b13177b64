"""Prometheus and its node exporter write go-kit logfmt; `logscope ingest` must read it as written."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    http_get,
    ingest,
    now,
    program,
    running,
    wait_for,
    wait_port,
)

PROMETHEUS_PORT = 47480
NODE_EXPORTER_PORT = 47481
DOWN_TARGET = "127.0.0.1:47499"  # nothing listens: every scrape fails

LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "error": "error"}


def _check_logfmt(log: Path, db: Path, start, end) -> None:
    stored = ingest(log, db)
    assert_parsed(stored, {"logfmt"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith("ts=")) > 5
    assert_times_from_lines(stored.rows, start, end)
    written = Counter(
        LEVELS[m[1]] for line in log.read_text().splitlines() if (m := re.search(r" level=(\w+)", line))
    )
    assert dict(stored.levels) == dict(written)


@pytest.mark.parametrize("name", ["prometheus", "prometheus-node-exporter"])
def test_prometheus_logfmt(name: str, tmp_path: Path, db: Path) -> None:
    binary = program(name)
    if name == "prometheus":
        (tmp_path / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: down\n"
            f'    static_configs:\n      - targets: ["{DOWN_TARGET}"]\n'
        )
        port = PROMETHEUS_PORT
        argv = [
            binary,
            "--config.file=prometheus.yml",
            f"--storage.tsdb.path={tmp_path}/data",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=debug",
        ]
    else:
        port = NODE_EXPORTER_PORT
        argv = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    log = tmp_path / f"{name}.log"
    start = now()
    with running(argv, cwd=tmp_path, log_name=log.name) as server:
        wait_port(port, server)
        assert http_get(f"http://127.0.0.1:{port}/metrics") == 200
        if name == "prometheus":
            wait_for(lambda: "Scrape failed" in log.read_text(), "a failed scrape")
    end = now()
    _check_logfmt(log, db, start, end)
