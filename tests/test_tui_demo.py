"""`logscope demo`: the simulated fleet's incidents fire the bundled rules; the demo runs in a terminal."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, query_db, run_cli
from terminal import tmux_socket_name
from test_tui_tail import TMUX, tmux, wait_until

from logscope.demo.fleet import simulate

START = 1_795_615_200.0  # 2026-11-25T14:00:00Z


@pytest.mark.slow
def test_fleet_incidents_fire_the_bundled_rules(tmp_path: Path) -> None:
    written = simulate(tmp_path / "logs", 900, START)
    assert written > 20_000
    files = sorted(p.relative_to(tmp_path / "logs").as_posix() for p in (tmp_path / "logs").rglob("*.*"))
    assert files == [
        "gateway/access.log",
        "services/billing.jsonl",
        "services/checkout.jsonl",
        "services/inventory.jsonl",
    ]
    # One backtest per file: each incident lives in one source, and reading one file keeps the
    # replay's event-time order exact.
    fired = {}
    for name in ("gateway/access.log", "services/billing.jsonl", "services/checkout.jsonl"):
        result = run_cli("rules", "backtest", str(REPO / "rules"), str(tmp_path / "logs" / name), timeout=300)
        assert result.returncode == 0, result.stderr
        for line in result.stdout.splitlines()[1:]:
            at, event, rule, *_ = line.split("\t")
            if event == "firing":
                fired.setdefault(rule, at)
    # Within the first 15 simulated minutes, which the demo plays in its first real minute.
    assert fired["web_5xx_burst"].startswith("2026-11-25T14:01")
    assert fired["app_missing_heartbeat"].startswith("2026-11-25T14:0")
    assert fired["app_error_spike"].startswith("2026-11-25T14:1")


def test_fleet_sends_syslog_over_udp(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        simulate(tmp_path / "logs", 5, START, syslog_port=receiver.getsockname()[1])
        message = receiver.recv(65536).decode()
    assert message.startswith("<") and " 2026-11-25T14:00:0" in message


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.slow
def test_demo_shows_the_fleet_and_its_alerts_then_quits(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    status = tmp_path / "status"
    socket_name = tmux_socket_name("logscope-test")
    command = (
        f"sleep 0.5; cd {shlex.quote(str(REPO))} && TZ=UTC {shlex.quote(sys.executable)} -m logscope demo"
        f" --dir {shlex.quote(str(workdir))} --speed 60; echo $? > {shlex.quote(str(status))}; sleep 30"
    )
    tmux(socket_name, "new-session", "-d", "-x", "150", "-y", "45", command)
    tmux(socket_name, "resize-window", "-x", "150", "-y", "45")
    try:
        wait_until(lambda: "access.log" in tmux(socket_name, "capture-pane", "-p"), timeout=60)
        wait_until(lambda: "app_error_spike" in tmux(socket_name, "capture-pane", "-p"), timeout=120)
        screen = tmux(socket_name, "capture-pane", "-p")
        assert "firing" in screen and "checkout.jsonl" in screen
        time.sleep(1)
        tmux(socket_name, "send-keys", "q")
        wait_until(lambda: status.exists() and status.read_text().strip() != "", timeout=30)
        assert status.read_text().strip() == "0"
    finally:
        tmux(socket_name, "kill-server")
    rules = {row[0] for row in query_db(workdir / "demo.duckdb", "SELECT DISTINCT rule FROM alerts")}
    assert {"web_5xx_burst", "app_missing_heartbeat", "app_error_spike"} <= rules
    sources = {row[0] for row in query_db(workdir / "demo.duckdb", "SELECT DISTINCT source FROM logs")}
    assert any(source.startswith("udp://127.0.0.1:") for source in sources)
    assert subprocess.run(["pgrep", "-f", f"logscope.demo {workdir}"], capture_output=True).returncode == 1
